/** The bench's reading of the server's own /metrics over a window (bench/lib/server-side.ts), on prom-client's real text. */
import { collectDefaultMetrics, Histogram, Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { histogramQuantileBound, parsePrometheusText, serverSide } from '../bench/lib/server-side.js';
import { createServerMetrics } from '../server/http/metrics.js';

function registry() {
  const register = new Registry();
  const latency = new Histogram({
    name: 'fleet_ingest_latency_seconds',
    help: 'test',
    buckets: [0.001, 0.01, 0.1, 1],
    registers: [register],
  });
  return { register, latency };
}

describe('server-side figures of a bench window', () => {
  it('takes the quantile from what was observed between the two scrapes only', async () => {
    const { register, latency } = registry();
    // Before the window: slow observations that must not count.
    for (let i = 0; i < 1000; i++) latency.observe(0.5);
    const before = await register.metrics();
    for (let i = 0; i < 990; i++) latency.observe(0.0005);
    for (let i = 0; i < 10; i++) latency.observe(0.05);
    const after = await register.metrics();
    const [b, a] = [parsePrometheusText(before), parsePrometheusText(after)];
    expect(histogramQuantileBound(b, a, 'fleet_ingest_latency_seconds', 0.99)).toBe(0.001);
    expect(histogramQuantileBound(b, a, 'fleet_ingest_latency_seconds', 0.995)).toBe(0.1);
    latency.observe(5);
    const beyond = parsePrometheusText(await register.metrics());
    expect(histogramQuantileBound(a, beyond, 'fleet_ingest_latency_seconds', 0.99)).toBe(Number.POSITIVE_INFINITY);
    expect(histogramQuantileBound(beyond, beyond, 'fleet_ingest_latency_seconds', 0.99)).toBeNaN();
  });

  it("reads prom-client's event-loop lag and GC pauses, and says NaN for a failed scrape", async () => {
    const { register, latency } = registry();
    collectDefaultMetrics({ register, eventLoopMonitoringPrecision: 1 });
    latency.observe(0.002);
    // The delay monitor's timer runs from the next turn of the event loop on.
    await new Promise((r) => setTimeout(r, 20));
    const before = await register.metrics();
    // A 30 ms block of the event loop and a forced collection, both inside the window.
    await new Promise((r) =>
      setTimeout(() => {
        const until = performance.now() + 30;
        while (performance.now() < until);
        setTimeout(r, 20);
      }, 5),
    );
    (globalThis as { gc?: () => void }).gc?.();
    for (let i = 0; i < 100; i++) latency.observe(0.004);
    const after = await register.metrics();
    const s = serverSide(before, after, 1);
    expect(s.ingestP99BoundMs).toBe(10);
    expect(s.eventLoopLagMaxMs).toBeGreaterThanOrEqual(25);
    expect(s.gcPausePercent).toBeGreaterThanOrEqual(0);
    expect(Object.values(serverSide('', after, 1)).every(Number.isNaN)).toBe(true);
  });
});

describe("the server's own ingest metrics in a bench window", () => {
  it('splits the commit of a batch from read → committed and counts the WAL restarts, on the server metrics', async () => {
    const m = createServerMetrics();
    m.checkpointHolds.observe({ complete: 'true' }, 0.004); // before the window: not counted
    const before = await m.registry.metrics();
    for (let i = 0; i < 100; i++) m.ingestLatency.observe(0.2);
    for (let i = 0; i < 100; i++) m.ingestCommitSeconds.observe(0.003);
    for (let i = 0; i < 3; i++) m.checkpointHolds.observe({ complete: 'true' }, 0.006);
    m.checkpointHolds.observe({ complete: 'false' }, 0.25);
    const s = serverSide(before, await m.registry.metrics(), 1);
    expect(s.ingestP99BoundMs).toBe(250);
    expect(s.commitP99BoundMs).toBe(5);
    expect(s.walRestarts).toBe(3);
    expect(s.walRestartsIncomplete).toBe(1);
    expect(s.walHoldMs).toBeCloseTo(268, 6);
  });
});
