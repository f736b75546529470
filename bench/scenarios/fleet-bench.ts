/**
 * Scenarios 1–3 and the SIGKILL drill against the real server in a child process, with the fleet simulator's
 * light devices in generator worker processes: connect storm, sustained ingest (nominal rate, then the
 * highest rate held with zero loss), reconnect storm after a restart, and a crash under load.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { openDatabase } from '../../server/db/open-database.js';
import { seedReferenceData } from '../../server/db/seed.js';
import { Generator } from '../../tools/fleet-sim/generator.js';
import { DEFAULT_FLEET_KEY, registerFleet } from '../../tools/fleet-sim/provision.js';
import type { Range } from '../../tools/fleet-sim/seq-ranges.js';
import { checkHealth, type HealthCheck } from '../../tools/fleet-sim/verify.js';
import { freePort, MiB, percentile, sleep, until } from '../lib/proc.js';
import { type ServerProcess, startServerProcess } from '../lib/server-process.js';

export interface FleetBenchOptions {
  sizes: number[];
  workers: number;
  nominalSeconds: number;
  probeSeconds: number;
  holdSeconds: number;
  downSeconds: number;
  prefillRows: number;
  killDrill: boolean;
  /** Open-loop search for the highest rate: steps of ×1.5, this many at most, this long each. */
  searchSteps: number;
  /** Hold this rate (samples/s) without searching. */
  holdRate?: number;
  /** Skip the reconnect storm (and the drill). */
  skipRestart?: boolean;
  searchSeconds: number;
  /** A connect storm is timed for at most this long; the figure then says how many were online. */
  stormCapSeconds: number;
  log: (line: string) => void;
}

interface Rig {
  dataDir: string;
  server: ServerProcess;
  gen: Generator;
  ids: string[];
  httpPort: number;
  mqttPort: number;
}

const DEVICE = { reconnectBaseMs: 1000, reconnectCapMs: 30_000, maxInflight: 4, queueLimit: 10_000 };

function prepare(dataDir: string, count: number, prefillRows: number): string[] {
  const db = openDatabase(join(dataDir, 'fleet.db'));
  seedReferenceData(db);
  const ids = registerFleet(db, { count, prefix: 'bench' }).map((d) => d.id);
  if (prefillRows > 0) {
    // History of other kiosks (one sample a minute), so inserts land in a table of realistic size.
    const insert = db.prepare(
      `INSERT INTO health (device_id, seq, device_ts, received_ts, cpu_load, mem_used, disk_used, disk_free, temp_c,
         uptime_s, content_seq, queue_depth) VALUES (?, ?, ?, ?, 20, 50, 40, 1000000000, 45, 1000, 3, 0)`,
    );
    const start = Date.now() - Math.ceil(prefillRows / 10_000) * 60_000;
    const chunk = db.transaction((from: number, to: number) => {
      for (let i = from; i < to; i++) {
        const minute = Math.floor(i / 10_000);
        insert.run(`history-${i % 10_000}`, minute + 1, start + minute * 60_000, start + minute * 60_000);
      }
    });
    for (let i = 0; i < prefillRows; i += 100_000) chunk(i, Math.min(prefillRows, i + 100_000));
  }
  db.close();
  return ids;
}

async function rig(count: number, o: FleetBenchOptions, prefillRows: number): Promise<Rig> {
  const dataDir = mkdtempSync(join(tmpdir(), 'fleet-bench-'));
  const ids = prepare(dataDir, count, prefillRows);
  const httpPort = await freePort();
  const mqttPort = await freePort();
  const server = await startServerProcess({ dataDir, httpPort, mqttPort });
  const gen = Generator.start(o.workers);
  await gen.all((i) => ({
    cmd: 'init',
    mode: 'fleet',
    mqttUrl: server.mqttUrl,
    ids: gen.slice(ids, i),
    fleetKey: DEFAULT_FLEET_KEY,
    connectConcurrency: 100,
    device: DEVICE,
  }));
  return { dataDir, server, gen, ids, httpPort, mqttPort };
}

async function teardown(r: Rig): Promise<void> {
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
  };
}

/** Connects every device; time until the server counts them all as connected. */
async function connectStorm(r: Rig, count: number, capSeconds: number) {
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
  await sleep(seconds * 1000);
  const c1 = await counters(r, true);
  const s1 = r.server.usage();
  return {
    seconds,
    taken: c1.taken - c0.taken,
    acked: c1.acked - c0.acked,
    ackedPerSecond: (c1.acked - c0.acked) / seconds,
    backlogAtEnd: c1.unacknowledged,
    latencyP50Ms: percentile(c1.latencies, 50),
    latencyP99Ms: percentile(c1.latencies, 99),
    serverCpuPercent: ((s1.cpuMs - s0.cpuMs) / (seconds * 1000)) * 100,
    serverRssMiB: s1.rssBytes / MiB,
    generatorCpuPercent: ((c1.cpuMs - c0.cpuMs) / (seconds * 1000)) * 100,
  };
}

async function stopLoad(r: Rig): Promise<void> {
  await r.gen.all({ cmd: 'stopSampling' });
  await r.gen.all({ cmd: 'latency', on: false });
}

async function verify(r: Rig): Promise<HealthCheck> {
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

async function drain(r: Rig, timeoutMs: number) {
  const replies = await r.gen.all({ cmd: 'drain', timeoutMs }, timeoutMs + 30_000);
  return { done: replies.every((x) => x.done), unacknowledged: replies.reduce((n, x) => n + x.unacknowledged, 0) };
}

/** Server down (SIGTERM or SIGKILL) for `downSeconds` while devices keep sampling; back on the same ports. */
async function restart(r: Rig, signal: 'SIGTERM' | 'SIGKILL', downSeconds: number, count: number, o: FleetBenchOptions) {
  await r.server.stop(signal);
  await sleep(downSeconds * 1000);
  await stopLoad(r);
  const buffered = (await counters(r)).unacknowledged;
  const t0 = performance.now();
  r.server = await startServerProcess({ dataDir: r.dataDir, httpPort: r.httpPort, mqttPort: r.mqttPort });
  const allBack = await until(async () => (await r.server.connectedDevices()) >= count, 180_000, 100);
  const backMs = performance.now() - t0;
  const drained = await drain(r, 180_000);
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

    // Search upwards in short open-loop steps from 80% of the probe (a closed loop of 1 sample per device
    // under-reports what the server can take), stop at the first rate not held, then hold the last good one.
    const fmt = (w: { ackedPerSecond: number; latencyP99Ms: number; serverCpuPercent: number }) =>
      `${Math.round(w.ackedPerSecond)}/s, p99 ${Math.round(w.latencyP99Ms)} ms, server CPU ${Math.round(w.serverCpuPercent)} %`;
    const steps = [];
    let good = 0;
    const runRate = async (rate: number, seconds: number) => {
      // Start from an empty backlog, so one step's overload does not show up in the next one's latency.
      await drain(r, 120_000);
      await r.gen.all((i) => ({ cmd: 'rate', perSecond: rate / r.gen.size + (i < rate % r.gen.size ? 1 : 0) }));
      const w = await window(r, seconds);
      await stopLoad(r);
      const d = await drain(r, 60_000);
      const ok = d.done && w.ackedPerSecond >= rate * 0.97 && w.backlogAtEnd <= rate && w.latencyP99Ms < 2000;
      return { targetPerSecond: rate, held: ok, ...w };
    };
    for (
      let rate = Math.max(100, Math.round(probe.ackedPerSecond * 0.8)), n = 0;
      n < (o.holdRate ? 0 : o.searchSteps);
      n++, rate = Math.round(rate * 1.5)
    ) {
      const step = await runRate(rate, o.searchSeconds);
      steps.push(step);
      o.log(`  step ${rate}/s for ${o.searchSeconds} s: ${step.held ? 'held' : 'NOT held'} (${fmt(step)})`);
      if (!step.held) break;
      good = rate;
    }
    const holds = [];
    let held = null;
    for (
      let rate = o.holdRate ?? (good || Math.round(probe.ackedPerSecond * 0.5));
      rate >= 50 && holds.length < 3;
      rate = Math.round(rate * 0.7)
    ) {
      const h = await runRate(rate, o.holdSeconds);
      holds.push(h);
      o.log(`  hold ${rate}/s for ${o.holdSeconds} s: ${h.held ? 'held' : 'NOT held'} (${fmt(h)})`);
      if (h.held) {
        held = h;
        break;
      }
    }
    results.sustainedIngest = { devices: largest, nominal, probe, steps, holds, held };

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
