/**
 * The dashboard's own reads at the size of a large province (10 000 sites, 50 000 devices, one health
 * sample and one sync row per device), over HTTP with the server's auth. Checks what the answers say; the
 * timings are printed (repeat with `npx vitest run tests/dashboard-scale.test.ts`), not asserted.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAuthMiddleware } from '../server/auth/auth-middleware.js';
import { createApiToken, insertUser } from '../server/auth/users-repo.js';
import { testConfig } from '../server/config.js';
import { createDashboardRoutes } from '../server/dashboard/create-dashboard-routes.js';
import { type Database, openDatabase } from '../server/db/open-database.js';
import { buildHttpApp } from '../server/http/app.js';

const NOW = Date.UTC(2026, 10, 23, 3);
const HOUR = 3_600_000;
const DISTRICTS = 100;
const COMMUNES_PER_DISTRICT = 30;
const SITES_PER_COMMUNE = 2; // 3 000 communes + 6 000 stations + 1 000 offices = 10 000 sites under 100 districts
const OFFICES = 1000;
const DEVICES = 50_000;

let dir: string;
let db: Database;
let app: ReturnType<typeof buildHttpApp>;
let token: string;
const timings: Record<string, number> = {};

function seed(): { siteIds: string[]; offline: number; diskFull: number; failing: number } {
  const site = db.prepare(
    `INSERT INTO sites (id, kind, name, parent_id, border, lat, lon, valid_to) VALUES (?, ?, ?, ?, 1, ?, ?, ?)`,
  );
  const device = db.prepare(
    `INSERT INTO devices (id, site_id, status, first_seen, last_seen, online, content_seq, equipped_at, created_at)
     VALUES (?, ?, ?, ?, ?, 0, ?, ?, ?)`,
  );
  const health = db.prepare(
    `INSERT INTO health (device_id, seq, device_ts, received_ts, cpu_load, mem_used, disk_used, disk_free, temp_c, uptime_s,
       content_seq, queue_depth) VALUES (?, 1, ?, ?, 10, 20, ?, 1000, NULL, 100, 1, 0)`,
  );
  const sync = db.prepare(
    `INSERT INTO device_sync (device_id, manifest_seq, state, bytes, missing, error, failures, updated_at)
     VALUES (?, 9, ?, 0, 0, NULL, ?, ?)`,
  );
  const siteIds: string[] = [];
  let offline = 0;
  let diskFull = 0;
  let failing = 0;
  db.transaction(() => {
    for (let d = 0; d < DISTRICTS; d++) {
      site.run(`d${d}`, 'district', `Huyện ${d}`, null, null, null, d % 2 ? '2025-06-30' : null);
      for (let c = 0; c < COMMUNES_PER_DISTRICT; c++) {
        const commune = `d${d}-c${c}`;
        site.run(commune, 'commune', `Xã Ia ${d}-${c}`, `d${d}`, 13 + d / 100, 107 + c / 100, null);
        siteIds.push(commune);
        for (let s = 0; s < SITES_PER_COMMUNE; s++) {
          site.run(`${commune}-s${s}`, 'station', `Đồn ${d}-${c}-${s}`, commune, null, null, null);
          siteIds.push(`${commune}-s${s}`);
        }
      }
    }
    for (let o = 0; o < OFFICES; o++) {
      site.run(`o${o}`, 'office', `Văn phòng ${o}`, null, null, null, null);
      siteIds.push(`o${o}`);
    }
    for (let i = 0; i < DEVICES; i++) {
      const id = `dev-${i}`;
      const silent = i % 10 === 0;
      const lastSeen = silent ? NOW - 48 * HOUR : NOW - (i % 60) * 60_000;
      device.run(
        id,
        siteIds[i % siteIds.length],
        'active',
        NOW - 90 * 24 * HOUR,
        lastSeen,
        9,
        NOW - 80 * 24 * HOUR,
        NOW - 100 * 24 * HOUR,
      );
      offline += silent ? 1 : 0;
      const disk = i % 50 === 0 ? 95 : 40;
      diskFull += disk > 90 ? 1 : 0;
      health.run(id, lastSeen, lastSeen, disk);
      const fails = i % 100 === 1 ? 4 : 0;
      failing += fails >= 3 ? 1 : 0;
      sync.run(id, fails ? 'failed' : 'applied', fails, lastSeen);
    }
  })();
  return { siteIds, offline, diskFull, failing };
}

// biome-ignore lint/suspicious/noExplicitAny: response bodies are JSON whose shape the assertions check
async function timed(name: string, path: string): Promise<any> {
  const start = performance.now();
  const response = await app.request(path, { headers: { authorization: `Bearer ${token}` } });
  const body = await response.json();
  timings[name] = Math.round((performance.now() - start) * 10) / 10;
  expect(response.status, path).toBe(200);
  return body;
}

let expected: ReturnType<typeof seed>;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'dashboard-scale-'));
  db = openDatabase(join(dir, 'fleet.db'));
  expected = seed();
  const user = insertUser(db, { username: 'so', role: 'department', passwordHash: 'unused' });
  token = createApiToken(db, { userId: user.id, name: 'scale', ttlMs: null }).token;
  const dashboard = createDashboardRoutes({
    db,
    config: testConfig({ DATA_DIR: dir }),
    auth: createAuthMiddleware(db),
    now: () => NOW,
  });
  app = buildHttpApp([{ path: '/', app: dashboard }], pino({ level: 'silent' }));
}, 120_000);

afterAll(() => {
  console.log('dashboard reads at 10 000 sites / 50 000 devices (ms, first call then warm):', timings);
  db?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('at 10 000 sites and 50 000 devices', () => {
  it('pages the site table without sending it all', async () => {
    const first = await timed('sites first page (cold)', '/api/v1/dashboard/sites');
    await timed('sites first page (warm)', '/api/v1/dashboard/sites');
    expect(first.total).toBe(expected.siteIds.length);
    expect(first.total).toBe(10_000);
    expect(first.sites).toHaveLength(50);
    const devices = first.sites.reduce((sum: number, s: { devices: number }) => sum + s.devices, 0);
    expect(devices).toBe(50 * 5); // 50 000 devices spread evenly over 10 000 sites
    const filtered = await timed(
      'sites filtered + sorted by problems',
      '/api/v1/dashboard/sites?q=Ia%2042-&sort=problems&dir=desc',
    );
    expect(filtered.total).toBe(90); // "Ia 42-…": 30 communes and their 60 stations
    const last = await timed('sites last page', '/api/v1/dashboard/sites?offset=9950');
    expect(last.sites).toHaveLength(50);
  });

  it('computes every alert', async () => {
    const alerts = await timed('alerts', '/api/v1/alerts?limit=100');
    expect(alerts.counts.offline).toBe(expected.offline);
    expect(alerts.counts.disk).toBe(expected.diskFull);
    expect(alerts.counts.download_failures).toBe(expected.failing);
    expect(alerts.alerts).toHaveLength(100);
  });

  it('answers the filter lists and the map', async () => {
    const districts = await timed('districts', '/api/v1/dashboard/districts');
    expect(districts.districts).toHaveLength(DISTRICTS);
    const map = await timed('map (all sites)', '/api/v1/dashboard/map');
    expect(map.sites).toHaveLength(10_000);
  });
});
