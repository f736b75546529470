/**
 * Scenarios 1–3 and the SIGKILL drill against the real server in a child process, with the fleet simulator's
 * light devices in generator worker processes: connect storm, sustained ingest (nominal rate, then the
 * highest rate held with zero loss), reconnect storm after a restart, and a crash under load.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { openDatabase } from '../../server/db/open-database.js';
import { seedReferenceData } from '../../server/db/seed.js';
import { Generator } from '../../tools/fleet-sim/generator.js';
import { DEFAULT_FLEET_KEY, registerFleet } from '../../tools/fleet-sim/provision.js';
import type { Range } from '../../tools/fleet-sim/seq-ranges.js';
import { checkHealth, type HealthCheck } from '../../tools/fleet-sim/verify.js';
import { prefillHealth } from '../lib/prefill.js';
import { freePort, MiB, percentile, sleep, until } from '../lib/proc.js';
import { searchHighestHeld } from '../lib/rate-search.js';
import { type ServerProcess, startServerProcess } from '../lib/server-process.js';
import { parsePrometheusText, serverSide, total } from '../lib/server-side.js';

export interface FleetBenchOptions {
  sizes: number[];
  workers: number;
  nominalSeconds: number;
  probeSeconds: number;
  holdSeconds: number;
  downSeconds: number;
  prefillRows: number;
  killDrill: boolean;
  /** Bisection for the highest open-loop rate held `holdSeconds`: this many steps at most. */
  searchSteps: number;
  /** … stopping when the bracket is narrower than this share of the held rate (default 0.05). */
  searchResolution?: number;
  /** A step is held only with sample → PUBACK p99 under this (default DEFAULT_P99_LIMIT_MS). */
  p99LimitMs?: number;
  /** Hold this rate (samples/s) without searching. */
  holdRate?: number;
  /** Skip the reconnect storm (and the drill). */
  skipRestart?: boolean;
  /** A connect storm is timed for at most this long; the figure then says how many were online. */
  stormCapSeconds: number;
  /** Devices connect over MQTT over TLS (mqtts://, the server's own CA pinned), as enrolled kiosks do. */
  tls?: boolean;
  log: (line: string) => void;
}

export interface Rig {
  dataDir: string;
  server: ServerProcess;
  gen: Generator;
  ids: string[];
  httpPort: number;
  mqttPort: number;
  mqttsPort: number;
}

const DEVICE = { reconnectBaseMs: 1000, reconnectCapMs: 30_000, maxInflight: 4, queueLimit: 10_000 };

function prepare(dataDir: string, count: number, prefillRows: number): string[] {
  const db = openDatabase(join(dataDir, 'fleet.db'));
  seedReferenceData(db);
  const ids = registerFleet(db, { count, prefix: 'bench' }).map((d) => d.id);
  prefillHealth(db, prefillRows);
  db.close();
  return ids;
}

export async function rig(
  count: number,
  o: Pick<FleetBenchOptions, 'workers' | 'tls'> & { device?: Partial<typeof DEVICE & { maxBatch: number }> },
  prefillRows: number,
  serverOptions?: { nodeArgs?: string[]; entry?: string; env?: Record<string, string> },
): Promise<Rig> {
  const dataDir = mkdtempSync(join(tmpdir(), 'fleet-bench-'));
  const ids = prepare(dataDir, count, prefillRows);
  const httpPort = await freePort();
  const mqttPort = await freePort();
  const mqttsPort = await freePort();
  const server = await startServerProcess({ dataDir, httpPort, mqttPort, mqttsPort, ...serverOptions });
  const gen = Generator.start(o.workers);
  await gen.all((i) => ({
    cmd: 'init',
    mode: 'fleet',
    mqttUrl: o.tls ? server.mqttsUrl : server.mqttUrl,
    ids: gen.slice(ids, i),
    fleetKey: DEFAULT_FLEET_KEY,
    connectConcurrency: 100,
    device: { ...DEVICE, ...o.device, ...(o.tls ? { ca: server.caPem } : {}) },
  }));
  return { dataDir, server, gen, ids, httpPort, mqttPort, mqttsPort };
}

export async function teardown(r: Rig): Promise<void> {
  await r.gen.stop();
  await r.server.stop();
  rmSync(r.dataDir, { recursive: true, force: true });
}

async function genCpu(r: Rig): Promise<number> {
  return Generator.cpuMs(await r.gen.all({ cmd: 'counters', latencies: false }));
}

async function counters(r: Rig, latencies = false) {
  const replies = await r.gen.all({ cmd: 'counters', latencies });
  return {
    acked: replies.reduce((n, x) => n + x.acked, 0),
    taken: replies.reduce((n, x) => n + x.taken, 0),
    unacknowledged: replies.reduce((n, x) => n + x.unacknowledged, 0),
    connected: replies.reduce((n, x) => n + x.connected, 0),
    latencies: replies.flatMap((x) => x.latencies),
    cpuMs: Generator.cpuMs(replies),
    workerCpuMs: replies.map((x) => x.cpuMs),
  };
}

/** Connects every device; time until the server counts them all as connected. */
export async function connectStorm(r: Rig, count: number, capSeconds: number) {
  const before = r.server.usage();
  const cpu0 = await genCpu(r);
  const t0 = performance.now();
  const connectReplies = r.gen.all({ cmd: 'connect' }, 900_000);
  const allOnline = await until(async () => (await r.server.connectedDevices()) >= count, capSeconds * 1000, 100);
  const ms = performance.now() - t0;
  const onlineAtEnd = await r.server.connectedDevices();
  const after = r.server.usage();
  // The rest keep connecting: later scenarios need the whole fleet.
  const connected = (await connectReplies).reduce((n, x) => n + x.connected, 0);
  return {
    devices: count,
    connected,
    onlineAtEnd,
    connectsPerSecond: onlineAtEnd / (ms / 1000),
    allOnline,
    secondsToAllOnline: ms / 1000,
    serverRssIdleMiB: before.rssBytes / MiB,
    serverRssMiB: after.rssBytes / MiB,
    rssPerConnectionKiB: (after.rssBytes - before.rssBytes) / 1024 / count,
    serverCpuSeconds: (after.cpuMs - before.cpuMs) / 1000,
    generatorCpuSeconds: ((await genCpu(r)) - cpu0) / 1000,
  };
}

/** Runs the fleet for `seconds` under whatever load was started; returns rates and latency. */
async function window(r: Rig, seconds: number) {
  await r.gen.all({ cmd: 'latency', on: true });
  const c0 = await counters(r);
  const s0 = r.server.usage();
  const t0 = await r.server.metricsText();
  await sleep(seconds * 1000);
  const c1 = await counters(r, true);
  const s1 = r.server.usage();
  const t1 = await r.server.metricsText();
  const messagesIn = (text: string) => (text ? total(parsePrometheusText(text), 'fleet_mqtt_messages_in_total') : Number.NaN);
  return {
    seconds,
    taken: c1.taken - c0.taken,
    acked: c1.acked - c0.acked,
    ackedPerSecond: (c1.acked - c0.acked) / seconds,
    // MQTT messages the server received (a backlog goes in batches of up to 100 samples per message).
    messagesPerSecond: (messagesIn(t1) - messagesIn(t0)) / seconds,
    backlogAtEnd: c1.unacknowledged,
    latencyP50Ms: percentile(c1.latencies, 50),
    latencyP99Ms: percentile(c1.latencies, 99),
    serverCpuPercent: ((s1.cpuMs - s0.cpuMs) / (seconds * 1000)) * 100,
    serverRssMiB: s1.rssBytes / MiB,
    generatorCpuPercent: ((c1.cpuMs - c0.cpuMs) / (seconds * 1000)) * 100,
    // Near 100 %: that worker process (one core at most) is what limits the rate, not the server.
    generatorMaxWorkerCpuPercent: Math.max(
      ...c1.workerCpuMs.map((ms, i) => ((ms - (c0.workerCpuMs[i] ?? 0)) / (seconds * 1000)) * 100),
    ),
    // The server's own view of the same window: its share of the latency, its event loop, its GC.
    server: serverSide(t0, t1, seconds),
  };
}

/** sample → PUBACK p99 a held step must stay under. */
export const DEFAULT_P99_LIMIT_MS = 500;

/**
 * One open-loop step: from an empty backlog, `rate` samples/s spread over the whole fleet for `seconds`.
 * Held = committed ≥ 97 % of the rate, at most one second of backlog at the end, p99 under the limit, and
 * the backlog drained afterwards.
 */
export async function openLoopStep(r: Rig, rate: number, seconds: number, p99LimitMs: number) {
  await drain(r, 120_000);
  await r.gen.all((i) => ({ cmd: 'rate', perSecond: rate / r.gen.size + (i < rate % r.gen.size ? 1 : 0) }));
  const w = await window(r, seconds);
  await stopLoad(r);
  const d = await drain(r, 120_000);
  const held = d.done && w.ackedPerSecond >= rate * 0.97 && w.backlogAtEnd <= rate && w.latencyP99Ms < p99LimitMs;
  return { targetPerSecond: rate, held, ...w, load1m: loadavg()[0] as number };
}

export async function stopLoad(r: Rig): Promise<void> {
  await r.gen.all({ cmd: 'stopSampling' });
  await r.gen.all({ cmd: 'latency', on: false });
}

export async function verify(r: Rig): Promise<HealthCheck> {
  const reports = await r.gen.all({ cmd: 'report' });
  const acked: Record<string, Range[]> = {};
  const last: Record<string, number> = {};
  for (const rep of reports) {
    Object.assign(acked, rep.ackedRanges);
    Object.assign(last, rep.lastSeq);
  }
  const db = new BetterSqlite3(join(r.dataDir, 'fleet.db'), { readonly: true });
  try {
    return checkHealth(db, acked, last);
  } finally {
    db.close();
  }
}

export async function drain(r: Rig, timeoutMs: number) {
  const replies = await r.gen.all({ cmd: 'drain', timeoutMs }, timeoutMs + 30_000);
  return { done: replies.every((x) => x.done), unacknowledged: replies.reduce((n, x) => n + x.unacknowledged, 0) };
}

/** How long a restarted server's devices get to come back, and then to empty their queues. */
const RESTART_BOUND_MS = 600_000;

/** Server down (SIGTERM or SIGKILL) for `downSeconds` while devices keep sampling; back on the same ports. */
async function restart(r: Rig, signal: 'SIGTERM' | 'SIGKILL', downSeconds: number, count: number, o: FleetBenchOptions) {
  await r.server.stop(signal);
  await sleep(downSeconds * 1000);
  await stopLoad(r);
  const buffered = (await counters(r)).unacknowledged;
  const t0 = performance.now();
  r.server = await startServerProcess({
    dataDir: r.dataDir,
    httpPort: r.httpPort,
    mqttPort: r.mqttPort,
    mqttsPort: r.mqttsPort,
  });
  // Generous bounds: on the shared 2-core machine 10 000 devices took 207 s to come back (load 20), and a
  // drill cut short by a bound reports nothing (the drill at 10 000 never completed that way before).
  const allBack = await until(async () => (await r.server.connectedDevices()) >= count, RESTART_BOUND_MS, 250);
  const backMs = performance.now() - t0;
  const drained = await drain(r, RESTART_BOUND_MS);
  const committedMs = performance.now() - t0;
  o.log(
    `    ${signal}: ${buffered} samples buffered, all back in ${(backMs / 1000).toFixed(1)} s, all committed in ${(committedMs / 1000).toFixed(1)} s`,
  );
  return {
    signal,
    devices: count,
    downSeconds,
    bufferedSamples: buffered,
    allBack,
    secondsUntilAllBack: backMs / 1000,
    allCommitted: drained.done,
    secondsUntilAllCommitted: committedMs / 1000,
    serverRssMiB: r.server.usage().rssBytes / MiB,
  };
}

/** Connect storms only (`--only storm`), one fresh server per size: plaintext, or over TLS with `tls`. */
export async function runConnectStorms(o: Pick<FleetBenchOptions, 'sizes' | 'workers' | 'stormCapSeconds' | 'tls' | 'log'>) {
  const storms = [];
  for (const size of o.sizes) {
    const r = await rig(size, o as FleetBenchOptions, 0);
    try {
      storms.push({ transport: o.tls ? 'mqtts' : 'mqtt', ...(await connectStorm(r, size, o.stormCapSeconds)) });
      o.log(`  connect storm ${size} over ${o.tls ? 'mqtts' : 'mqtt'}: ${JSON.stringify(storms.at(-1))}`);
    } finally {
      await teardown(r);
    }
  }
  return { connectStorm: storms };
}

export async function runFleetBench(o: FleetBenchOptions) {
  const results: Record<string, unknown> = {};
  const storms = [];
  const largest = Math.max(...o.sizes);
  for (const size of o.sizes.filter((s) => s !== largest)) {
    const r = await rig(size, o, 0);
    try {
      storms.push(await connectStorm(r, size, o.stormCapSeconds));
      o.log(`  connect storm ${size}: ${JSON.stringify(storms.at(-1))}`);
    } finally {
      await teardown(r);
    }
  }
  // The largest fleet goes on through ingest and the restart, on one server and one growing table.
  const r = await rig(largest, o, o.prefillRows);
  try {
    storms.push(await connectStorm(r, largest, o.stormCapSeconds));
    o.log(`  connect storm ${largest}: ${JSON.stringify(storms.at(-1))}`);
    results.connectStorm = storms;
    if (!(await until(async () => (await r.server.connectedDevices()) >= largest, 300_000, 500))) {
      o.log(`  only ${await r.server.connectedDevices()} of ${largest} connected after 5 more minutes; going on with them`);
    }

    await r.gen.all({ cmd: 'sample', intervalMs: 30_000 });
    const nominal = await window(r, o.nominalSeconds);
    await stopLoad(r);
    o.log(`  nominal (1 sample / 30 s / device): ${JSON.stringify(nominal)}`);
    await drain(r, 30_000);

    // Capacity probe, closed loop: each device keeps one sample outstanding.
    await r.gen.all({ cmd: 'closedLoop', inflight: 1 });
    const probe = await window(r, o.probeSeconds);
    await stopLoad(r);
    await drain(r, 60_000);
    o.log(`  capacity probe (closed loop): ${Math.round(probe.ackedPerSecond)} samples/s`);

    // The highest open-loop rate held for a whole step of `holdSeconds`: bisection from the probe's rate
    // between the highest rate held and the lowest that failed, each step from an empty backlog.
    const fmt = (w: { ackedPerSecond: number; latencyP99Ms: number; serverCpuPercent: number; generatorCpuPercent: number }) =>
      `${Math.round(w.ackedPerSecond)}/s, p99 ${Math.round(w.latencyP99Ms)} ms, server CPU ${Math.round(w.serverCpuPercent)} %, generator CPU ${Math.round(w.generatorCpuPercent)} %`;
    const runRate = async (rate: number) => {
      const step = await openLoopStep(r, rate, o.holdSeconds, o.p99LimitMs ?? DEFAULT_P99_LIMIT_MS);
      o.log(`  ${rate}/s for ${o.holdSeconds} s: ${step.held ? 'held' : 'NOT held'} (${fmt(step)})`);
      return step;
    };
    const search = o.holdRate
      ? await (async () => {
          const h = await runRate(o.holdRate as number);
          return { held: h.held ? h : null, failedAt: h.held ? null : h.targetPerSecond, steps: [h], converged: false };
        })()
      : await searchHighestHeld({
          start: Math.max(100, probe.ackedPerSecond),
          tryRate: runRate,
          maxSteps: o.searchSteps,
          resolution: o.searchResolution ?? 0.05,
          granularity: 10,
        });
    const held = search.held;
    results.sustainedIngest = {
      devices: largest,
      nominal,
      probe,
      steps: search.steps,
      held,
      failedAt: search.failedAt,
      converged: search.converged,
      p99LimitMs: o.p99LimitMs ?? DEFAULT_P99_LIMIT_MS,
    };

    if (o.skipRestart) {
      await r.server.stop('SIGTERM');
      results.zeroLossCheck = await verify(r);
      o.log(`  zero-loss check over the whole run: ${JSON.stringify(results.zeroLossCheck)}`);
      return results;
    }
    // Reconnect storm: devices keep sampling at the nominal rate, so the outage leaves a backlog in their queues.
    await r.gen.all({ cmd: 'sample', intervalMs: 30_000 });
    await sleep(5_000);
    results.reconnectStorm = await restart(r, 'SIGTERM', o.downSeconds, largest, o);

    if (o.killDrill) {
      const rate = Math.round(((held?.targetPerSecond as number | undefined) ?? 1000) * 0.8);
      await r.gen.all((i) => ({ cmd: 'rate', perSecond: rate / r.gen.size + (i < rate % r.gen.size ? 1 : 0) }));
      await sleep(10_000);
      const drill = await restart(r, 'SIGKILL', 3, largest, o);
      results.killDrill = { ...drill, loadPerSecond: rate };
    }
    await r.server.stop('SIGTERM');
    const check = await verify(r);
    o.log(`  zero-loss check over the whole run: ${JSON.stringify(check)}`);
    results.zeroLossCheck = check;
  } finally {
    await teardown(r);
  }
  return results;
}
