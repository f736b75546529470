/**
 * The fleet simulator against the real server (aedes broker, group-commit ingest, SQLite file) at small N:
 * every device comes online, links are cut while samples are in flight, and in the end every sample a
 * device saw acknowledged is in `health` exactly once. Also: going offline shows in the registry (will), a
 * skewed clock raises a device event.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer, waitFor } from '../server/testing/test-server.js';
import { Fleet } from '../tools/fleet-sim/fleet.js';
import { registerFleet } from '../tools/fleet-sim/provision.js';
import { checkHealth } from '../tools/fleet-sim/verify.js';

const N = 50;

describe('fleet simulator against the real server', () => {
  let server: TestServer;
  let fleet: Fleet | null = null;

  beforeEach(async () => {
    server = await startTestServer();
  });
  afterEach(async () => {
    await fleet?.stop();
    fleet = null;
    await server.stop();
  });

  function onlineCount(): number {
    return server.db.prepare("SELECT count(*) FROM devices WHERE id LIKE 'sim-%' AND online = 1").pluck().get() as number;
  }

  it('brings every device online and loses or duplicates no acknowledged sample across link cuts', async () => {
    const devices = registerFleet(server.db, { count: N });
    expect(new Set(devices.map((d) => d.siteId)).size).toBeGreaterThan(10);
    fleet = new Fleet({
      mqttUrl: server.mqttUrl,
      devices: devices.map((d, i) => ({ ...d, ...(i === 0 ? { clockSkewMs: 3_600_000 } : {}) })),
      device: { reconnectBaseMs: 50, reconnectCapMs: 200 },
    });
    expect(await fleet.connect()).toBe(N);
    await waitFor(() => onlineCount() === N, 'every simulated device online in the registry');

    for (let round = 0; round < 20; round++) {
      fleet.sampleAll();
      // Cut a few links while their samples are in flight: they resend on the next connection.
      if (round % 4 === 1) for (const d of fleet.devices.slice(round, round + 5)) d.cut();
      await new Promise((r) => setTimeout(r, 20));
    }
    await waitFor(() => fleet?.unacknowledged === 0 && fleet.connected === N, 'every sample acknowledged', 20_000);

    const report = fleet.report();
    expect(report.samplesTaken).toBe(N * 20);
    expect(report.acked).toBe(N * 20);
    expect(report.connects).toBeGreaterThan(N);
    const check = checkHealth(server.db, report.ackedRanges, report.lastSeq);
    expect(check.examples).toEqual([]);
    expect(check).toMatchObject({ devices: N, ackedSamples: N * 20, rows: N * 20, lost: 0, duplicated: 0, unknown: 0 });

    const skewEvents = server.db
      .prepare("SELECT count(*) FROM device_events WHERE device_id = ? AND type = 'clock_skew'")
      .pluck()
      .get(devices[0]?.id) as number;
    expect(skewEvents).toBeGreaterThanOrEqual(1);
  });

  it('shows a device that drops off as offline, and back online when it returns', async () => {
    const devices = registerFleet(server.db, { count: 10 });
    fleet = new Fleet({ mqttUrl: server.mqttUrl, devices, device: { reconnectBaseMs: 60_000, reconnectCapMs: 60_000 } });
    expect(await fleet.connect()).toBe(10);
    await waitFor(() => onlineCount() === 10, 'all online');
    const gone = fleet.devices.slice(0, 3);
    for (const d of gone) await d.stop();
    await waitFor(() => onlineCount() === 7, 'three devices offline');
    for (const d of gone) expect(await d.start()).toBe(true);
    await waitFor(() => onlineCount() === 10, 'back online');
  });
});
