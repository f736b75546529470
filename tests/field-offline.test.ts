/**
 * Issue 14, "a month offline on the injected clock": a real server (broker, ingest, SQLite), a real agent whose MQTT
 * link runs through a proxy the test cuts, the content API stand-in. The kiosk's wall clock is a year behind (no RTC)
 * and both its clocks — the wall (`deps.clock`) and the monotonic one (`performance.now`, which agent/clock.ts reads)
 * — are moved on by 30 days while it is cut off, one health sample every 10 minutes of that month:
 *
 *   - the queue bound holds: never more than AGENT_QUEUE_LIMIT samples kept, the oldest dropped first, and the count
 *     rides on the samples the server receives (`queue_dropped`);
 *   - content whose validity ended during the month is hidden by the server-time estimate (the wall clock, a year
 *     behind, would still show it);
 *   - on reconnect the backlog flushes, and a live sample taken right after the link is back reaches the server within
 *     LIVE_BOUND_MS, not after the backlog.
 */
import { get } from 'node:http';
import { performance } from 'node:perf_hooks';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createAgent } from '../agent/create-agent.js';
import type { LocalManifest } from '../protocol/index.js';
import { registerDevice } from '../server/registry/devices-repo.js';
import { startTestServer, waitFor } from '../server/testing/test-server.js';
import { agentEnv, fixedHealth, item, silent } from './helpers/agent-fixture.js';
import { startCuttableProxy } from './helpers/agent-test-net.js';

const DAY = 86_400_000;
const MONTH = 30 * DAY;
const QUEUE_LIMIT = 1500;
const INTERVAL = 10 * 60_000;
/** A live sample taken after the reconnect is at the server this soon, backlog or not. */
const LIVE_BOUND_MS = 3000;

let cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.reverse()) await Promise.resolve(c()).catch(() => {});
  cleanups = [];
});

describe('a month offline (injected wall and monotonic clocks)', () => {
  it('keeps the queue bound (oldest dropped, counted), hides content that ended, flushes the backlog without starving live samples', async () => {
    const server = await startTestServer();
    cleanups.push(() => server.stop());
    const env = await agentEnv('kiosk-month-offline');
    cleanups.push(env.cleanup);
    registerDevice(server.db, { id: env.deviceId, secret: env.secret, siteId: 'gl-c-iadom' });
    const proxy = await startCuttableProxy(Number(new URL(server.mqttUrl).port));
    cleanups.push(() => proxy.close());

    const t0 = Date.now();
    const iso = (ms: number) => new Date(ms).toISOString();
    env.api.publish(1, [
      item('all-season', undefined, { validFrom: iso(t0 - 400 * DAY), validTo: iso(t0 + 45 * DAY) }),
      // Ends two weeks into the month offline; on the wall clock (a year behind) it would run for another year.
      item('two-weeks', undefined, { validFrom: iso(t0 - 400 * DAY), validTo: iso(t0 + 14 * DAY) }),
    ]);

    // The injected clocks: `shift` moves both; the wall starts a year behind the server.
    let shift = 0;
    const realNow = performance.now.bind(performance);
    const mono = vi.spyOn(performance, 'now').mockImplementation(() => realNow() + shift);
    cleanups.push(() => mono.mockRestore());
    const wall = () => Date.now() - 365 * DAY + shift;

    const config = env.config(proxy.url, {
      AGENT_QUEUE_LIMIT: String(QUEUE_LIMIT),
      AGENT_HEALTH_INTERVAL_MS: String(3_600_000), // samples are taken by the test
      AGENT_SYNC_JITTER_S: '0',
      AGENT_RECONNECT_CAP_S: '1',
    });
    const agent = await createAgent(config, {
      log: silent,
      clock: wall,
      healthSource: fixedHealth(),
      reconnectBaseMs: 50,
      syncRetryBaseMs: 3_600_000,
    });
    cleanups.push(() => agent.close());
    await waitFor(() => agent.online(), 'online');
    expect(await agent.sync()).toMatchObject({ seq: 1 });
    // A fresh connection each time (no keep-alive: a pooled socket idle through the month may be gone).
    const page = (): Promise<string[]> =>
      new Promise((resolve, reject) => {
        get(`http://127.0.0.1:${agent.kioskPort}/local/manifest`, { agent: false }, (res) => {
          let body = '';
          res.on('data', (c) => {
            body += c;
          });
          res.on('end', () => resolve((JSON.parse(body) as LocalManifest).items.map((i) => i.id).sort()));
        }).on('error', reject);
      });
    expect(await page()).toEqual(['all-season', 'two-weeks']);

    const rows = () =>
      server.db
        .prepare(
          `SELECT seq, device_ts AS ts, received_ts AS received, queue_dropped AS dropped FROM health
           WHERE device_id = ? ORDER BY seq`,
        )
        .all(env.deviceId) as Array<{ seq: number; ts: number; received: number; dropped: number | null }>;
    await agent.collectHealth();
    await waitFor(() => rows().length === 1 && agent.queueDepth() === 0, 'first sample online, acknowledged');

    // A month cut off: one sample every 10 minutes of it (4 320), the clocks moved on by each interval.
    proxy.cut();
    await waitFor(() => !agent.online(), 'offline');
    const samples = MONTH / INTERVAL;
    let maxDepth = 0;
    for (let i = 0; i < samples; i++) {
      shift += INTERVAL;
      await agent.collectHealth();
      maxDepth = Math.max(maxDepth, agent.queueDepth());
    }
    expect(maxDepth).toBe(QUEUE_LIMIT);
    expect(agent.queueDepth()).toBe(QUEUE_LIMIT);
    // The server's time, carried on the monotonic clock, is a month on: `two-weeks` has ended.
    expect(await page()).toEqual(['all-season']);

    // Back online. The backlog (QUEUE_LIMIT samples, 500 to a message) flushes; a live sample taken at once is not
    // held behind it.
    proxy.restore();
    await waitFor(() => agent.online(), 'online again', 20_000);
    const liveTakenAt = Date.now();
    const live = await agent.collectHealth();
    expect(live?.seq).toBe(1 + samples + 1);
    // The live sample was queued behind a full backlog, so it pushed out one more of the oldest (the bound holds).
    await waitFor(() => agent.queueDepth() === 0, 'backlog and live sample acknowledged', 30_000);
    const stored = rows();
    const liveRow = stored.find((r) => r.seq === live?.seq);
    expect(liveRow, 'the live sample arrived').toBeDefined();
    expect((liveRow?.received ?? Number.POSITIVE_INFINITY) - liveTakenAt).toBeLessThanOrEqual(LIVE_BOUND_MS);
    // Oldest dropped first: what the server holds of the month is its newest samples, in order, without a gap.
    const month = stored.filter((r) => r.seq > 1 && r.seq <= 1 + samples).map((r) => r.seq);
    expect(month.length).toBeGreaterThanOrEqual(QUEUE_LIMIT - 1);
    expect(month.length).toBeLessThanOrEqual(QUEUE_LIMIT);
    expect(month).toEqual(Array.from({ length: month.length }, (_, i) => 1 + samples - month.length + 1 + i));
    // …and every sample it lacks was counted. The count may exceed what is missing by the one sample the live one
    // pushed out of the queue while it was already in flight (it was delivered all the same): at most 1 here.
    const missing = samples - month.length;
    const counted = stored.at(-1)?.dropped ?? 0;
    expect(liveRow?.dropped).toBe(counted);
    expect(counted).toBeGreaterThanOrEqual(missing);
    expect(counted).toBeLessThanOrEqual(missing + 1);
    expect(
      server.db
        .prepare(`SELECT count(*) FROM device_events WHERE device_id = ? AND type = 'health_queue_dropped'`)
        .pluck()
        .get(env.deviceId),
    ).toBeGreaterThanOrEqual(1);
    // The device's timestamps span the month (on its wall clock, a year behind).
    const span = (stored.at(-2)?.ts ?? 0) - (stored[1]?.ts ?? 0);
    expect(span).toBeGreaterThan((QUEUE_LIMIT - 1) * INTERVAL - 1000);
    console.log(
      `month offline: ${samples} samples, ${missing} missing at the server, ${counted} counted as dropped, backlog ` +
        `${QUEUE_LIMIT}; live sample at the server ` +
        `${(liveRow?.received ?? 0) - liveTakenAt} ms after it was taken, ` +
        `${stored.filter((r) => r.seq <= 1 + samples && r.received > (liveRow?.received ?? 0)).length} backlog samples stored after it`,
    );
  }, 120_000);
});
