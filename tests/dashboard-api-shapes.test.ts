/**
 * The fleet, coverage and health answers the dashboard reads match their schemas in protocol/api-dashboard.ts, the
 * one definition the page takes its types from. A real server (port 0, SQLite file with the Gia Lai seed), real
 * devices over MQTT (status, health, a failed sync, a clock-skew event), the real maintenance roll-up; each answer
 * fetched over HTTP is parsed with its schema and must come back unchanged (no field the schema does not name, none
 * it names missing or of another type). A route or repository that drifts from the schema fails here.
 */
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { z } from 'zod';
import {
  AlertsOut,
  CommunesOut,
  DeviceDetailOut,
  DeviceEventsOut,
  DeviceRevokedOut,
  DevicesOut,
  DistrictsOut,
  HealthOut,
  MapOut,
  PlanCoverageOut,
  PlanListOut,
  PlanTrendOut,
  SiteListOut,
  SiteOneOut,
  SitePageOut,
} from '../protocol/api-dashboard.js';
import { topics } from '../protocol/index.js';
import { createMaintenance } from '../server/ingest/maintenance.js';
import {
  addDevice,
  connectDevice,
  HttpSession,
  healthSample,
  startTestServer,
  TEST_ADMIN_PASSWORD,
  type TestServer,
  waitFor,
} from '../server/testing/test-server.js';

const PLAN = 'gia-lai-2509-2020';
const HOUR = 3_600_000;

let server: TestServer;
let admin: HttpSession;

/** GETs (or POSTs) `path`, parses the answer with `schema` and checks the parse changed nothing. */
async function answer<S extends z.ZodType>(schema: S, path: string, method = 'GET'): Promise<z.infer<S>> {
  const response = await admin.request(method, path, method === 'POST' ? {} : undefined);
  const text = await response.text();
  expect(response.status, `${method} ${path}: ${text.slice(0, 500)}`).toBe(200);
  const body = JSON.parse(text);
  const parsed = schema.safeParse(body);
  if (!parsed.success) throw new Error(`${method} ${path} does not match its schema:\n${parsed.error.message}`);
  // Whatever the schema does not name is stripped by the parse: equal means the answer has nothing else.
  expect(parsed.data, `${method} ${path} has fields its schema does not name`).toEqual(body);
  return parsed.data as z.infer<S>;
}

beforeAll(async () => {
  // Errors logged: a route whose answer fails its schema's parse answers 500 and the log names the field.
  server = await startTestServer({ LOG_LEVEL: 'error' });
  admin = new HttpSession(server.httpUrl);
  await admin.login('admin', TEST_ADMIN_PASSWORD);

  // A kiosk at Ia O that connects and reports: health (disk over the alert limit, one sample with no temperature),
  // a failed download, a clock-skew event. A second one registered only (planned, no sync report).
  const live = addDevice(server, 'shape-live', 'gl-c-iao');
  addDevice(server, 'shape-planned', 'gl-s-iao');
  const client = await connectDevice(server.mqttUrl, live.id, live.secret);
  try {
    const now = Date.now();
    await client.publishAsync(
      topics.status(live.id),
      JSON.stringify({ online: true, ts: now, agentVersion: '0.1.0', bootId: 'boot-1' }),
      { qos: 1, retain: true },
    );
    const samples = [
      { ...healthSample(1, now - 2000), diskUsed: 95 },
      { ...healthSample(2, now - 1000), diskUsed: 96, tempC: null, queueDropped: 3 },
    ];
    await client.publishAsync(topics.health(live.id), JSON.stringify({ samples }), { qos: 1 });
    await client.publishAsync(
      topics.sync(live.id),
      JSON.stringify({ manifestSeq: 1, state: 'failed', bytes: 10, missing: 2, error: 'disk full', ts: now }),
      { qos: 1 },
    );
    await client.publishAsync(
      topics.events(live.id),
      JSON.stringify({ type: 'clock_skew', severity: 'warning', message: 'clock 300 s ahead', ts: now }),
      { qos: 1 },
    );
    const count = (sql: string) => server.db.prepare(sql).pluck().get(live.id) as number;
    await waitFor(
      () =>
        count('SELECT count(*) FROM health WHERE device_id = ?') === 2 &&
        count('SELECT count(*) FROM device_sync WHERE device_id = ?') === 1 &&
        count('SELECT count(*) FROM device_events WHERE device_id = ?') >= 1 &&
        count('SELECT count(*) FROM devices WHERE id = ? AND agent_version IS NOT NULL') === 1,
      'the kiosk reports stored',
    );
  } finally {
    await client.endAsync(true);
  }
  // The hourly roll-up, as the server's maintenance makes it once the hour is complete.
  const maintenance = createMaintenance(
    server.db,
    { intervalMs: HOUR, retentionMs: 30 * 24 * HOUR, offlineAfterMs: 24 * HOUR, contentRoot: null },
    pino({ level: 'silent' }),
  );
  maintenance.runOnce(Date.now() + 2 * HOUR);
}, 60_000);

afterAll(async () => {
  await server?.stop();
});

describe('coverage answers (server/coverage/coverage-routes.ts)', () => {
  it('plans, coverage today and on a past day, trend', async () => {
    const { plans } = await answer(PlanListOut, '/api/v1/plans');
    expect(plans.map((p) => p.id)).toContain(PLAN);
    const today = await answer(PlanCoverageOut, `/api/v1/plans/${PLAN}/coverage`);
    expect(today.targets.length).toBeGreaterThan(0);
    const past = await answer(PlanCoverageOut, `/api/v1/plans/${PLAN}/coverage?asOf=2025-06-30`);
    expect(past.targets.every((t) => t.operational === null)).toBe(true);
    const trend = await answer(PlanTrendOut, `/api/v1/plans/${PLAN}/trend`);
    expect(trend.targets[0]?.points.length).toBeGreaterThan(0);
  });

  it('communes, a page with their sites and all of them', async () => {
    const page = await answer(CommunesOut, `/api/v1/plans/${PLAN}/communes?include=sites&limit=5`);
    expect(page.communes.some((c) => (c.siteRows ?? []).length > 0)).toBe(true);
    const all = await answer(CommunesOut, `/api/v1/plans/${PLAN}/communes?all=1`);
    const iao = all.communes.find((c) => c.commune.id === 'gl-c-iao');
    // The commune's own kiosk and its station's.
    expect(iao).toMatchObject({ devices: 2, problems: { syncFailed: 1 } });
  });
});

describe("the dashboard's fleet reads (server/dashboard/create-dashboard-routes.ts)", () => {
  it('the site table, districts and the map', async () => {
    const sites = await answer(SitePageOut, '/api/v1/dashboard/sites?limit=500');
    expect(sites.sites.find((s) => s.id === 'gl-c-iao')).toMatchObject({ devices: 1, syncFailing: 1 });
    expect(sites.sites.find((s) => s.id === 'gl-s-iao')).toMatchObject({ planned: 1 });
    expect((await answer(DistrictsOut, '/api/v1/dashboard/districts')).districts.length).toBeGreaterThan(0);
    const map = await answer(MapOut, '/api/v1/dashboard/map');
    expect(map.sites.length).toBe(sites.total);
  });

  it("alerts, and a device's events", async () => {
    const alerts = await answer(AlertsOut, '/api/v1/alerts');
    expect(alerts.alerts.map((a) => a.type)).toEqual(expect.arrayContaining(['disk', 'clock_skew']));
    const { events } = await answer(DeviceEventsOut, '/api/v1/dashboard/devices/shape-live/events');
    expect(events.map((e) => e.type)).toContain('clock_skew');
  });
});

describe('the registry (server/registry/registry-routes.ts)', () => {
  it('sites and one site', async () => {
    const { sites } = await answer(SiteListOut, '/api/v1/sites');
    expect(sites.length).toBeGreaterThan(0);
    expect((await answer(SiteOneOut, '/api/v1/sites/gl-c-iao')).site.id).toBe('gl-c-iao');
  });

  it('devices, one with its sync report and one without', async () => {
    const { devices } = await answer(DevicesOut, '/api/v1/devices');
    expect(devices.map((d) => d.id).sort()).toEqual(['shape-live', 'shape-planned']);
    const live = await answer(DeviceDetailOut, '/api/v1/devices/shape-live');
    expect(live.sync).toMatchObject({ state: 'failed', error: 'disk full' });
    expect((await answer(DeviceDetailOut, '/api/v1/devices/shape-planned')).sync).toBeNull();
  });

  it('health, raw and by the hour', async () => {
    const raw = await answer(HealthOut, '/api/v1/devices/shape-live/health');
    expect(raw.resolution === 'raw' && raw.samples.map((s) => s.tempC)).toEqual([48, null]);
    const from = Date.now() - 2 * HOUR;
    const hours = await answer(HealthOut, `/api/v1/devices/shape-live/health?resolution=hour&from=${from}`);
    expect(hours.resolution === 'hour' && hours.hours.length).toBe(1);
  });

  it('a revoked device', async () => {
    const { device } = await answer(DeviceRevokedOut, '/api/v1/devices/shape-planned/revoke', 'POST');
    expect(device.id).toBe('shape-planned');
  });
});
