/**
 * GET /api/v1/dashboard/map writes its body as text (each site's fixed part serialized once per registry
 * version, the body reused while no state or problem count changed: server/dashboard/create-dashboard-routes.ts).
 * Here, over real HTTP with the server's auth, the body is checked equal, after each change, to the answer built
 * from the repository's map points (a fresh repository: nothing kept), and valid against its schema: after time
 * passes with no write (a kiosk goes offline), after a kiosk reports again, after a site is renamed; and a poll
 * with the ETag of the body it holds gets 304 exactly while that body is still the answer.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { serve } from '@hono/node-server';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAP_COLUMNS, MapOut } from '../protocol/api-dashboard.js';
import { createAuthMiddleware } from '../server/auth/auth-middleware.js';
import { createApiToken, insertUser } from '../server/auth/users-repo.js';
import { createDashboardRoutes } from '../server/dashboard/create-dashboard-routes.js';
import { createDashboardRepo } from '../server/dashboard/dashboard-repo.js';
import { type Database, openDatabase } from '../server/db/open-database.js';
import { seedReferenceData } from '../server/db/seed.js';
import { buildHttpApp } from '../server/http/app.js';
import { createDeviceDataRepo } from '../server/ingest/device-data-repo.js';
import { registerDevice } from '../server/registry/devices-repo.js';

const HOUR = 3_600_000;
const OFFLINE_AFTER = 24 * HOUR;
const START = Date.UTC(2026, 10, 23, 3);

let dir: string;
let db: Database;
let clock = START;
let url: string;
let token: string;
let close: () => Promise<void>;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'dashboard-map-route-'));
  db = openDatabase(join(dir, 'fleet.db'));
  seedReferenceData(db);
  const user = insertUser(db, { username: 'department-1', role: 'department', passwordHash: 'unused' });
  token = createApiToken(db, { userId: user.id, name: 'test', ttlMs: null }).token;
  for (const [id, site, seen] of [
    ['kiosk-iao', 'gl-c-iao', START - HOUR],
    ['kiosk-s-iao', 'gl-s-iao', START - 30 * HOUR],
  ] as const) {
    registerDevice(db, { id, secret: 'x'.repeat(43), siteId: site, now: START - 100 * HOUR });
    db.prepare(`UPDATE devices SET status = 'active', first_seen = ?, last_seen = ?, equipped_at = ? WHERE id = ?`).run(
      START - 90 * HOUR,
      seen,
      START - 80 * HOUR,
      id,
    );
  }
  const dashboard = createDashboardRoutes({
    db,
    config: { OFFLINE_AFTER },
    auth: createAuthMiddleware(db),
    now: () => clock,
  });
  const server = serve({
    fetch: buildHttpApp([{ path: '/', app: dashboard }], pino({ level: 'silent' })).fetch,
    port: 0,
    hostname: '127.0.0.1',
  });
  await new Promise<void>((resolve) => server.once('listening', () => resolve()));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/api/v1/dashboard/map`;
  close = () => new Promise<void>((resolve) => server.close(() => resolve()));
});

afterAll(async () => {
  await close?.();
  db?.close();
  rmSync(dir, { recursive: true, force: true });
});

/** The map's answer as the route built it before (objects from the repository, one JSON.stringify). */
function expected(at: number): string {
  const points = createDashboardRepo(db).mapPoints(at - OFFLINE_AFTER, at);
  return JSON.stringify({
    columns: [...MAP_COLUMNS],
    sites: points.map((p) => [p.id, p.name, p.kind, p.districtName, p.communeName, p.lat, p.lon, p.state, p.problems]),
  });
}

async function map(): Promise<{ text: string; type: string | null; etag: string }> {
  const res = await fetch(url, { headers: { authorization: `Bearer ${token}` } });
  expect(res.status).toBe(200);
  return { text: await res.text(), type: res.headers.get('content-type'), etag: res.headers.get('etag') ?? '' };
}

/** A poll with the ETag of the body the page holds: 304 (no body) while the answer is that body. */
async function revalidate(etag: string): Promise<number> {
  const res = await fetch(url, { headers: { authorization: `Bearer ${token}`, 'if-none-match': etag } });
  await res.arrayBuffer();
  return res.status;
}

const row = (text: string, id: string) => (MapOut.parse(JSON.parse(text)).sites.find((s) => s[0] === id) ?? []).slice(1);

describe('the map route', () => {
  it('answers what the repository gives, after time passes, a kiosk reports and a site is renamed', async () => {
    const first = await map();
    expect(first.type).toMatch(/^application\/json/);
    expect(first.text).toBe(expected(clock));
    expect(row(first.text, 'gl-c-iao').slice(6)).toEqual(['operational', 0]);
    expect(row(first.text, 'gl-s-iao').slice(6)).toEqual(['equipped', 1]);
    // Unchanged: the same text, and a poll with its ETag gets 304.
    expect((await map()).text).toBe(first.text);
    expect(first.etag).toMatch(/^".+"$/);
    expect(await revalidate(first.etag)).toBe(304);

    // A day later, with no write, kiosk-iao (last seen an hour before START) is offline.
    clock = START + 23 * HOUR + 1;
    const later = await map();
    expect(later.text).toBe(expected(clock));
    expect(row(later.text, 'gl-c-iao').slice(6)).toEqual(['equipped', 1]);
    expect(later.etag).not.toBe(first.etag);
    expect(await revalidate(first.etag)).toBe(200);

    // kiosk-s-iao reports again.
    createDeviceDataRepo(db).touch('kiosk-s-iao', clock);
    const back = await map();
    expect(back.text).toBe(expected(clock));
    expect(row(back.text, 'gl-s-iao').slice(6)).toEqual(['operational', 0]);

    // A site renamed (names with quotes and a backslash stay valid JSON).
    db.prepare(`UPDATE sites SET name = ? WHERE id = 'gl-c-iao'`).run('Ia "O" \\ mới');
    const renamed = await map();
    expect(renamed.text).toBe(expected(clock));
    expect(row(renamed.text, 'gl-c-iao')[0]).toBe('Ia "O" \\ mới');
    expect(await revalidate(back.etag)).toBe(200);
    expect(await revalidate(renamed.etag)).toBe(304);
  });
});
