/**
 * Site coordinates and the offline base map (issue 16): the seeded Gia Lai sites carry lat/lon (marked
 * approximate), the department edits them through PATCH (audited, checked), and GET /api/v1/map/base answers
 * projected country outlines and the Vietnam–Cambodia / Vietnam–Laos borders with every site inside the frame.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MapBase } from '../protocol/api.js';
import { listAudit } from '../server/auth/audit.js';
import { parseSitesCsv } from '../server/db/seed.js';
import type { HttpSession, TestServer } from '../server/testing/test-server.js';
import { startServerAsAdmin } from './helpers/admin-server.js';

let server: TestServer;
let admin: HttpSession;

beforeAll(async () => {
  ({ server, admin } = await startServerAsAdmin());
});

afterAll(async () => {
  await server?.stop();
});

describe('site coordinates', () => {
  it('the seed gives every commune, station and gate a coordinate marked approximate', async () => {
    const { body } = await admin.json<{ site: { lat: number; lon: number; coordApprox: boolean } }>(
      'GET',
      '/api/v1/sites/gl-g-lethanh',
    );
    expect(body.site.lat).toBeCloseTo(13.78, 1);
    expect(body.site.lon).toBeCloseTo(107.5, 1);
    expect(body.site.coordApprox).toBe(true);
  });

  it('the CSV refuses a latitude alone or out of range, naming the line', () => {
    const head = 'id,kind,name,parent_id,border,lat,lon\n';
    expect(() => parseSitesCsv(`${head}x,commune,X,,1,13.5,\n`)).toThrow(/line 2: lon: lat and lon are given together/);
    expect(() => parseSitesCsv(`${head}x,commune,X,,1,95,107\n`)).toThrow(/line 2: lat/);
    expect(parseSitesCsv(`${head}x,commune,X,,1,13.5,107.5\n`)[0]).toMatchObject({ lat: 13.5, lon: 107.5, coordApprox: false });
  });

  it('PATCH /sites/:id sets coordinates, audited; a lone lat is refused', async () => {
    const ok = await admin.json<{ site: { lat: number; lon: number; coordApprox: boolean } }>('PATCH', '/api/v1/sites/gl-c-iao', {
      lat: 14.0412,
      lon: 107.5561,
      coordApprox: false,
    });
    expect(ok.status).toBe(200);
    expect(ok.body.site).toMatchObject({ lat: 14.0412, lon: 107.5561, coordApprox: false });
    const entry = listAudit(server.db, { limit: 10, action: 'site.update' })[0];
    expect(entry?.target).toBe('gl-c-iao');
    const bad = await admin.json('PATCH', '/api/v1/sites/gl-c-iao', { lat: 14 });
    expect(bad.status).toBe(400);
    expect(JSON.stringify(bad.body)).toContain('lat and lon are set together');
    expect((await admin.json('PATCH', '/api/v1/sites/nope', { name: 'x' })).status).toBe(404);
  });
});

describe('GET /api/v1/map/base', () => {
  it('answers projected outlines and borders, and every site projects inside the frame', async () => {
    const res = await admin.request('GET', '/api/v1/map/base');
    expect(res.status).toBe(200);
    const map = MapBase.parse(await res.json());
    expect(map.countries.map((c) => c.name).sort()).toEqual(['Cambodia', 'Laos', 'Vietnam']);
    for (const c of map.countries) expect(c.path).toMatch(/^M[\d.,-]+L/);
    const borders = Object.fromEntries(map.borders.map((b) => [b.between[1], b.path]));
    expect(borders.Cambodia?.length).toBeGreaterThan(100);
    expect(borders.Laos?.length).toBeGreaterThan(100);
    expect(map.province).toBeNull();
    expect(map.sites.length).toBe(16);
    for (const s of map.sites) {
      expect(s.x, s.id).toBeGreaterThan(0);
      expect(s.x, s.id).toBeLessThan(map.width);
      expect(s.y, s.id).toBeGreaterThan(0);
      expect(s.y, s.id).toBeLessThan(map.height);
    }
    // The frame is the border region, not the world: the province's sites spread over a good part of it.
    const spread = (v: number[]) => Math.max(...v) - Math.min(...v);
    expect(spread(map.sites.map((s) => s.x)) + spread(map.sites.map((s) => s.y))).toBeGreaterThan(0.1 * (map.width + map.height));
    // North is up: Ia Chía (further north) is drawn above Ia Mơ.
    const y = (id: string) => map.sites.find((s) => s.id === id)?.y as number;
    expect(y('gl-c-iachia')).toBeLessThan(y('gl-c-iamo'));
  });

  it('leaves out a site at a pole (Mercator infinity) instead of answering 500 (found by the fuzzer)', async () => {
    const patched = await admin.json('PATCH', '/api/v1/sites/gl-c-iamo', { lat: -90, lon: 107 });
    expect(patched.status).toBe(200);
    const res = await admin.request('GET', '/api/v1/map/base');
    expect(res.status).toBe(200);
    const map = MapBase.parse(await res.json());
    expect(map.sites.map((site) => site.id)).not.toContain('gl-c-iamo');
    expect(map.sites.length).toBe(15);
  });

  it('needs a signed-in reader', async () => {
    expect((await fetch(`${server.httpUrl}/api/v1/map/base`)).status).toBe(401);
  });
});
