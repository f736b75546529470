/**
 * The dashboard's route module with the server's real pieces: SQLite file with the Gia Lai seed, the
 * server's auth middleware (API tokens of real users) and its one error mapping. In-process requests.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Role } from '../protocol/index.js';
import { createAuthMiddleware } from '../server/auth/auth-middleware.js';
import { createApiToken, insertUser } from '../server/auth/users-repo.js';
import { testConfig } from '../server/config.js';
import { createDashboardRoutes } from '../server/dashboard/create-dashboard-routes.js';
import { type Database, openDatabase } from '../server/db/open-database.js';
import { seedReferenceData } from '../server/db/seed.js';
import { buildHttpApp } from '../server/http/app.js';
import { registerDevice } from '../server/registry/devices-repo.js';

const HOUR = 3_600_000;
const NOW = Date.UTC(2026, 10, 23, 3);

let dir: string;
let db: Database;
let app: ReturnType<typeof buildHttpApp>;
const tokens: Partial<Record<Role, string>> = {};

function tokenFor(role: Role): string {
  const user = insertUser(db, { username: `${role}-1`, role, passwordHash: 'unused' });
  return createApiToken(db, { userId: user.id, name: 'test', ttlMs: null }).token;
}

// biome-ignore lint/suspicious/noExplicitAny: response bodies are JSON whose shape the assertions check
type Json = any;

async function get(path: string, role?: Role): Promise<{ status: number; type: string; body: Json }> {
  const response = await app.request(path, { headers: role ? { authorization: `Bearer ${tokens[role]}` } : {} });
  const type = response.headers.get('content-type') ?? '';
  return { status: response.status, type, body: type.includes('json') ? await response.json() : await response.text() };
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'dashboard-api-'));
  db = openDatabase(join(dir, 'fleet.db'));
  seedReferenceData(db);
  for (const role of ['department', 'technician', 'editor', 'approver'] as const) tokens[role] = tokenFor(role);
  registerDevice(db, { id: 'kiosk-iao', secret: 'x'.repeat(43), siteId: 'gl-c-iao', now: NOW - 100 * HOUR });
  db.prepare(`UPDATE devices SET status = 'active', first_seen = ?, last_seen = ?, equipped_at = ? WHERE id = 'kiosk-iao'`).run(
    NOW - 90 * HOUR,
    NOW - 30 * HOUR,
    NOW - 80 * HOUR,
  );
  const config = testConfig({ DATA_DIR: dir });
  const dashboard = createDashboardRoutes({ db, config, auth: createAuthMiddleware(db), now: () => NOW });
  app = buildHttpApp([{ path: '/', app: dashboard }], pino({ level: 'silent' }));
});

afterAll(() => {
  db.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('dashboard page and files', () => {
  it('serves the page at / without a session (it shows the login form itself), Vietnamese first', async () => {
    const page = await get('/');
    expect(page.status).toBe(200);
    expect(page.type).toContain('text/html');
    expect(page.body).toContain('<html lang="vi">');
    expect(page.body).toContain('/dashboard/app.js');
  });

  it('serves its built bundle, styles and the kiosk fonts (Vietnamese, Khmer, full Noto for Jrai), and nothing outside them', async () => {
    expect((await get('/dashboard/app.js')).type).toContain('text/javascript');
    expect((await get('/dashboard/style.css')).type).toContain('text/css');
    const font = await app.request('/dashboard/fonts/noto-sans-vietnamese-400.woff2');
    expect(font.status).toBe(200);
    expect(font.headers.get('content-type')).toBe('font/woff2');
    expect((await app.request('/dashboard/fonts/noto-sans-khmer-khmer-400.woff2')).status).toBe(200);
    expect((await app.request('/dashboard/fonts/noto-sans-full-400.ttf')).headers.get('content-type')).toBe('font/ttf');
    expect((await get('/dashboard/fonts.css')).type).toContain('text/css');
    // The preview frame is the one dashboard page that may be framed, by the dashboard only.
    const preview = await app.request('/dashboard/preview.html');
    expect(preview.status).toBe(200);
    expect(preview.headers.get('content-security-policy')).toContain("frame-ancestors 'self'");
    expect((await get('/dashboard/index.html')).status).toBe(404);
    expect((await get('/dashboard/..%2Fdashboard-repo.ts')).status).toBe(404);
    expect((await get('/dashboard/nope.js')).status).toBe(404);
    expect((await get('/dashboard/fonts/..%2F..%2Fpackage.json')).status).toBe(404);
  });

  it('loads no file from the internet', async () => {
    for (const name of ['index.html', 'style.css']) {
      const text = (await get(name === 'index.html' ? '/' : `/dashboard/${name}`)).body as string;
      expect(text).not.toMatch(/https?:\/\//);
    }
  });
});

describe('dashboard reads', () => {
  it('answers 401 without a session and 403 with the wrong role, as JSON errors', async () => {
    const anonymous = await get('/api/v1/alerts');
    expect(anonymous.status).toBe(401);
    expect(anonymous.body).toEqual({ error: { code: 'unauthorized', message: expect.any(String) } });
    for (const role of ['editor', 'approver'] as const) {
      const refused = await get('/api/v1/dashboard/sites', role);
      expect(refused.status).toBe(403);
      expect(refused.body.error.code).toBe('forbidden');
    }
    expect((await get('/api/v1/alerts', 'technician')).status).toBe(200);
  });

  it('pages the site table with the device counts, and refuses a malformed query with 400', async () => {
    const page = await get('/api/v1/dashboard/sites?q=Ia%20O&limit=10', 'department');
    expect(page.status).toBe(200);
    expect(page.body.total).toBe(2);
    expect(page.body.sites.find((site: { id: string }) => site.id === 'gl-c-iao')).toMatchObject({
      id: 'gl-c-iao',
      name: 'Ia O',
      districtName: 'Ia Grai',
      devices: 1,
      counting: 1,
      operational: 0,
      state: 'equipped',
      problems: 1,
    });
    for (const bad of ['sort=name;drop', 'limit=0', 'limit=100000', 'state=broken', 'offset=-1', 'dir=sideways']) {
      const refused = await get(`/api/v1/dashboard/sites?${bad}`, 'department');
      expect(refused.status, bad).toBe(400);
      expect(refused.body.error.code).toBe('invalid_query');
    }
  });

  it('lists alerts with site and since when, and counts per type', async () => {
    const alerts = await get('/api/v1/alerts', 'department');
    expect(alerts.body.counts).toMatchObject({ offline: 1, disk: 0 });
    expect(alerts.body.alerts).toEqual([
      expect.objectContaining({
        type: 'offline',
        deviceId: 'kiosk-iao',
        siteName: 'Ia O',
        districtName: 'Ia Grai',
        since: NOW - 30 * HOUR,
      }),
    ]);
    expect((await get('/api/v1/alerts?type=disk', 'department')).body.total).toBe(0);
    expect((await get('/api/v1/alerts?type=nonsense', 'department')).status).toBe(400);
  });

  it('gives the map every site in compact rows, and the districts for the filter', async () => {
    const map = await get('/api/v1/dashboard/map', 'department');
    expect(map.body.columns).toContain('lat');
    expect(map.body.sites).toHaveLength(16);
    const districts = await get('/api/v1/dashboard/districts', 'department');
    expect(districts.body.districts.map((d: { name: string }) => d.name)).toContain('Đức Cơ');
  });
});
