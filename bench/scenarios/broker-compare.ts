/**
 * Scenario 4, like with like in one run: the highest open-loop rate each of three targets holds with zero loss
 * under the same load generator (worker processes of tools/fleet-sim): aedes alone (as embedded in the server,
 * without auth and storage), Mosquitto with no queue limits, and the server's whole path (auth, ACL,
 * validation, commit before PUBACK). N publishers of QoS 1 messages spread round robin; for the brokers 300-byte
 * payloads to `bench/{worker}/{i}` and one QoS 1 subscriber per worker process (every acknowledged message must
 * reach it: `lost`), for the server one-sample health messages from registered kiosks (every acknowledged sample
 * must be in SQLite). Each search bisects between a held and a failed rate (bench/lib/rate-search.ts), each
 * step from an empty backlog. The generator's own CPU is reported per step; a worker process near 100 % of a
 * core marks the figure as the generator's limit.
 */
import { type ChildProcess, execFileSync, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import mqtt from 'mqtt';
import { Generator } from '../../tools/fleet-sim/generator.js';
import { freePort, MiB, percentile, procUsage, sleep, until } from '../lib/proc.js';
import { type SearchResult, searchHighestHeld } from '../lib/rate-search.js';
import { connectStorm, openLoopStep, rig, teardown, verify } from './fleet-bench.js';

export interface BrokerCompareOptions {
  /** Publishers (raw brokers) and kiosks (the server), the same count for all three. */
  publishers: number;
  /** Length of every step of the search. */
  stepSeconds: number;
  workers: number;
  /** First rate tried; the search doubles from it until a step fails, then bisects. */
  startRate: number;
  maxSteps: number;
  resolution: number;
  /** A step is held only with publish → PUBACK p99 under this. */
  p99LimitMs: number;
  /** Which of aedes, mosquitto, server to measure (default all three). */
  targets?: string[];
  log: (line: string) => void;
}

const ROOT = resolve(import.meta.dirname, '..', '..');

function mosquittoPath(log: (line: string) => void): string | null {
  const find = () => {
    try {
      return (
        execFileSync('/bin/sh', ['-c', 'command -v mosquitto || ls /usr/sbin/mosquitto']).toString().trim().split('\n')[0] || null
      );
    } catch {
      return null;
    }
  };
  const found = find();
  if (found) return found;
  if (process.getuid?.() !== 0) {
    log('  mosquitto missing and not root: run `sudo apt-get install -y mosquitto`');
    return null;
  }
  log('  installing the Debian package mosquitto…');
  execFileSync('/bin/sh', ['-c', 'DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends mosquitto'], {
    stdio: 'ignore',
  });
  return find();
}

async function waitForPort(port: number, child: ChildProcess): Promise<void> {
  const ok = await until(
    () =>
      new Promise<boolean>((r) => {
        const c = mqtt.connect(`mqtt://127.0.0.1:${port}`, { reconnectPeriod: 0, connectTimeout: 1000 });
        c.once('connect', () => {
          c.end(true);
          r(true);
        });
        c.once('error', () => {
          c.end(true);
          r(false);
        });
        c.once('close', () => r(false));
      }),
    20_000,
    200,
  );
  if (!ok || child.exitCode !== null) throw new Error(`broker on ${port} did not come up`);
}

export interface BrokerStep {
  targetPerSecond: number;
  held: boolean;
  seconds: number;
  ackedPerSecond: number;
  deliveredPerSecond: number;
  lost: number;
  backlogAtEnd: number;
  latencyP50Ms: number;
  latencyP99Ms: number;
  brokerCpuPercent: number;
  brokerCpuUsPerMessage: number;
  brokerRssMiB: number;
  generatorCpuPercent: number;
  generatorMaxWorkerCpuPercent: number;
  load1m: number;
}

/** One open-loop step against a bare broker: publishes acknowledged, delivered to the workers' subscribers. */
async function rawStep(gen: Generator, child: ChildProcess, rate: number, o: BrokerCompareOptions): Promise<BrokerStep> {
  await gen.all({ cmd: 'drain', timeoutMs: 60_000 }, 90_000);
  await gen.all({ cmd: 'latency', on: true });
  const c0 = await gen.all({ cmd: 'counters', latencies: false });
  const b0 = procUsage(child.pid as number);
  await gen.all((i) => ({ cmd: 'rate', perSecond: rate / gen.size + (i < rate % gen.size ? 1 : 0), payloadBytes: 300 }));
  await sleep(o.stepSeconds * 1000);
  const c1 = await gen.all({ cmd: 'counters', latencies: true });
  const b1 = procUsage(child.pid as number);
  await gen.all({ cmd: 'stopSampling' });
  const d = await gen.all({ cmd: 'drain', timeoutMs: 60_000 }, 90_000);
  const sum = (xs: Array<Record<string, unknown>>, k: string) => xs.reduce((n, x) => n + (x[k] as number), 0);
  const acked = sum(c1, 'acked') - sum(c0, 'acked');
  const delivered = sum(c1, 'received') - sum(c0, 'received');
  const latencies = c1.flatMap((x) => x.latencies);
  // After the drain, every acknowledged message must have reached its subscriber.
  const lost = Math.max(0, sum(d, 'acked') - sum(d, 'received'));
  const ms = o.stepSeconds * 1000;
  const step: BrokerStep = {
    targetPerSecond: rate,
    held: false,
    seconds: o.stepSeconds,
    ackedPerSecond: acked / o.stepSeconds,
    deliveredPerSecond: delivered / o.stepSeconds,
    lost,
    backlogAtEnd: sum(c1, 'unacknowledged'),
    latencyP50Ms: percentile(latencies, 50),
    latencyP99Ms: percentile(latencies, 99),
    brokerCpuPercent: ((b1.cpuMs - b0.cpuMs) / ms) * 100,
    brokerCpuUsPerMessage: ((b1.cpuMs - b0.cpuMs) * 1000) / Math.max(1, acked),
    brokerRssMiB: b1.rssBytes / MiB,
    generatorCpuPercent: ((Generator.cpuMs(c1) - Generator.cpuMs(c0)) / ms) * 100,
    generatorMaxWorkerCpuPercent: Math.max(...c1.map((x, i) => ((x.cpuMs - (c0[i]?.cpuMs ?? 0)) / ms) * 100)),
    load1m: loadavg()[0] as number,
  };
  step.held =
    d.every((x) => x.done) &&
    lost === 0 &&
    step.ackedPerSecond >= rate * 0.97 &&
    step.backlogAtEnd <= rate &&
    step.latencyP99Ms < o.p99LimitMs;
  return step;
}

function summary<T extends BrokerStep | (Record<string, unknown> & { targetPerSecond: number; held: boolean })>(
  name: string,
  search: SearchResult<T>,
  extra: Record<string, unknown>,
) {
  const h = search.held as (T & { generatorMaxWorkerCpuPercent?: number }) | null;
  // A generator process at ≥ 90 % of a core at the held rate: the figure is the generator's limit (a lower
  // bound for the broker), not the broker's. No failed rate above it: the steps ran out first (also a lower bound).
  const generatorLimited = h !== null && (h.generatorMaxWorkerCpuPercent ?? 0) >= 90;
  return {
    broker: name,
    heldPerSecond: h?.targetPerSecond ?? 0,
    failedAt: search.failedAt,
    converged: search.converged,
    generatorLimited,
    held: h,
    steps: search.steps,
    ...extra,
  };
}

const WARM_UP_MS = 5_000;

/** A bare broker process for one step of the search, and how to stop it. */
interface RawBroker {
  child: ChildProcess;
  port: number;
  stop(): Promise<void>;
}

/**
 * Each step runs on a fresh broker process with fresh connections: a broker pushed past saturation keeps its
 * queue to the subscribers for minutes after the publishers stopped (aedes at 100 % of a core, still draining), so a
 * step after a collapse measured the collapse, not its own rate (the 02:28 run: aedes "failed" at 18 000/s after
 * holding 16 000). Each fresh process is warmed for WARM_UP_MS at half the step's rate first.
 */
async function searchRaw(name: string, startBroker: () => Promise<RawBroker>, o: BrokerCompareOptions) {
  let connected = 0;
  let subscribers = 0;
  const search = await searchHighestHeld({
    start: o.startRate,
    tryRate: async (rate) => {
      const broker = await startBroker();
      const gen = Generator.start(o.workers);
      try {
        await waitForPort(broker.port, broker.child);
        const url = `mqtt://127.0.0.1:${broker.port}`;
        const per = Math.ceil(o.publishers / gen.size);
        await gen.all({ cmd: 'init', mode: 'raw', mqttUrl: url, ids: [], fleetKey: '', connectConcurrency: 100, device: {} });
        connected = (
          await gen.all((i) => ({ cmd: 'connect', mqttUrl: url, count: per, offset: i * per, concurrency: 100, subscribe: true }))
        ).reduce((n, x) => n + x.connected, 0);
        subscribers = gen.size;
        // A fresh process starts with a cold JIT: warm it for a few seconds at half the rate (which it held or
        // will hold), drained again by the step before its measured window.
        const warm = Math.floor(rate / 2);
        await gen.all((i) => ({ cmd: 'rate', perSecond: warm / gen.size + (i < warm % gen.size ? 1 : 0), payloadBytes: 300 }));
        await sleep(WARM_UP_MS);
        await gen.all({ cmd: 'stopSampling' });
        const step = await rawStep(gen, broker.child, rate, o);
        o.log(`  ${name} ${rate}/s: ${step.held ? 'held' : 'NOT held'} ${JSON.stringify(step)}`);
        return step;
      } finally {
        await gen.stop();
        await broker.stop();
      }
    },
    maxSteps: o.maxSteps,
    resolution: o.resolution,
    granularity: 100,
  });
  return summary(name, search, { publishers: connected, subscribers, freshBrokerPerStep: true });
}

/** The whole server (server/main.ts: auth, ACL, validation, commit before PUBACK) under the same generator. */
async function searchServer(o: BrokerCompareOptions) {
  // One sample per message, as the raw publishers send one message per publish: a device with a backlog would
  // otherwise send up to 100 samples in one message, and samples/s would not be messages/s.
  const r = await rig(o.publishers, { workers: o.workers, device: { maxBatch: 1, maxInflight: 16 } }, 0);
  try {
    await connectStorm(r, o.publishers, 180);
    const search = await searchHighestHeld({
      start: o.startRate,
      tryRate: async (rate) => {
        const step = await openLoopStep(r, rate, o.stepSeconds, o.p99LimitMs);
        const out = {
          ...step,
          // Held also requires one sample per message (the server's own count of messages received).
          held: step.held && step.messagesPerSecond >= step.ackedPerSecond * 0.97,
          brokerCpuPercent: step.serverCpuPercent,
          brokerCpuUsPerMessage: (step.serverCpuPercent * 10_000) / Math.max(1, step.messagesPerSecond),
        };
        o.log(`  server ${rate}/s: ${step.held ? 'held' : 'NOT held'} ${JSON.stringify(out)}`);
        return out;
      },
      maxSteps: o.maxSteps,
      resolution: o.resolution,
      granularity: 100,
    });
    await r.server.stop('SIGTERM');
    const check = await verify(r);
    return summary('server', search, { publishers: o.publishers, zeroLossCheck: check });
  } finally {
    await teardown(r);
  }
}

function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((r) => {
    child.once('exit', () => r());
    child.kill('SIGTERM');
    setTimeout(() => child.kill('SIGKILL'), 5000).unref();
  });
}

export async function runBrokerCompare(o: BrokerCompareOptions) {
  const out: Record<string, unknown> = { publishers: o.publishers, stepSeconds: o.stepSeconds, p99LimitMs: o.p99LimitMs };
  const want = new Set(o.targets ?? ['aedes', 'mosquitto', 'server']);
  if (want.has('aedes')) {
    out.aedes = await searchRaw(
      'aedes',
      async () => {
        const port = await freePort();
        const child = spawn(process.execPath, ['--import', 'tsx', 'bench/lib/aedes-alone.ts', String(port)], {
          cwd: ROOT,
          stdio: ['ignore', 'ignore', 'inherit'],
        });
        return { child, port, stop: () => stopChild(child) };
      },
      o,
    );
  }
  const bin = want.has('mosquitto') ? mosquittoPath(o.log) : null;
  if (want.has('mosquitto') && !bin) out.mosquitto = { error: 'mosquitto not installed' };
  if (bin) {
    // `mosquitto -h` prints its version and exits non-zero.
    const version = spawnSync(bin, ['-h'], { encoding: 'utf8' }).stdout.split('\n')[0] ?? '';
    const result = await searchRaw(
      'mosquitto',
      async () => {
        const dir = mkdtempSync(join(tmpdir(), 'bench-mosquitto-'));
        const port = await freePort();
        const conf = join(dir, 'mosquitto.conf');
        writeFileSync(
          conf,
          [
            `listener ${port} 127.0.0.1`,
            'allow_anonymous true',
            // No queue limits: its defaults silently drop QoS 1 to a slow subscriber (/work/shared/PERFORMANCE.md).
            'max_queued_messages 0',
            'max_inflight_messages 0',
            'persistence false',
            'log_dest none',
            '',
          ].join('\n'),
        );
        const child = spawn(bin, ['-c', conf], { stdio: ['ignore', 'ignore', 'inherit'] });
        return {
          child,
          port,
          stop: async () => {
            await stopChild(child);
            rmSync(dir, { recursive: true, force: true });
          },
        };
      },
      o,
    );
    out.mosquitto = { ...result, version: version.trim() };
  }
  if (want.has('server')) out.server = await searchServer(o);
  const rate = (k: string) => (out[k] as { heldPerSecond?: number } | undefined)?.heldPerSecond;
  const ratio = (a?: number, b?: number) => (a && b ? a / b : null);
  out.ratioServerToAedes = ratio(rate('server'), rate('aedes'));
  out.ratioServerToMosquitto = ratio(rate('server'), rate('mosquitto'));
  return out;
}
