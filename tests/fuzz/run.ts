/**
 * One fuzz run: a real server as a child process, set up over its API (admin token, two enrolled kiosks),
 * real device sessions recorded, then `mqttCount` mutated MQTT sessions and `httpCount` mutated HTTP requests
 * sent side by side while a well-behaved device publishes QoS 1 health. A crash is recorded with the cases in
 * flight, the server restarted on the same data and each suspect replayed alone to name the culprit.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { setUpFleet } from './enroll.js';
import { GoodDevice } from './good-device.js';
import { type HttpCase, type HttpFuzzContext, httpCase, type Operation, operationsOf } from './http-cases.js';
import { sendHttp } from './http-runner.js';
import { type MqttCase, type MqttFuzzContext, mqttCase } from './mqtt-mutator.js';
import { runMqttSession } from './mqtt-runner.js';
import { printable } from './mutator.js';
import { corpusHash, recordSessions } from './recorder.js';
import { bump, type Crash, type FuzzReport } from './report.js';
import { rssMiB, type ServerProcess, startServerProcess } from './server-process.js';

export interface FuzzOptions {
  seed: number;
  mqttCount: number;
  httpCount: number;
  /** The server's resident memory may not pass this (MiB). */
  rssLimitMiB?: number;
  /** The good device may not wait longer than this for a PUBACK (ms). */
  gapLimitMs?: number;
  mqttConcurrency?: number;
  httpConcurrency?: number;
  /** Run only these cases (`mqtt:12`, `http:40`) and print their bytes. */
  replay?: string[];
  log?: (line: string) => void;
}

const ADMIN_PASSWORD = 'fuzz-admin-password-0123';
const MAX_RESTARTS = 6;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export function describeMqtt(c: MqttCase): string {
  return `${c.transport} session from ${c.base}: ${c.notes.join('; ') || 'unmutated'} | ${printable(Buffer.concat(c.chunks), 600)}`;
}

export function describeHttp(c: HttpCase): string {
  return `${c.operation}: ${c.notes.join('; ')} | ${printable(Buffer.concat([c.head, c.body]), 600)}`;
}

export async function runFuzz(options: FuzzOptions): Promise<FuzzReport> {
  const { seed } = options;
  const log = options.log ?? (() => {});
  const rssLimitMiB = options.rssLimitMiB ?? 512;
  const gapLimitMs = options.gapLimitMs ?? 5000;
  const dataDir = mkdtempSync(join(tmpdir(), 'fleet-fuzz-'));
  const started = Date.now();
  let server: ServerProcess = await startServerProcess(dataDir, ADMIN_PASSWORD);
  let maxRss = 0;
  const sampler = setInterval(() => {
    const rss = rssMiB(server.pid);
    if (rss !== null) maxRss = Math.max(maxRss, rss);
  }, 100);
  const report: FuzzReport = {
    seed,
    corpusHash: '',
    durationMs: 0,
    rssLimitMiB,
    baselineRssMiB: 0,
    maxRssMiB: 0,
    mqtt: { sessions: 0, outcomes: {}, connack: {}, transports: {}, replies: {} },
    http: { operations: 0, requests: 0, statuses: {}, outcomes: {}, drips: { sent: 0, answeredWithinBound: 0 } },
    good: { sent: 0, acked: 0, lost: [], maxGapMs: 0, gapLimitMs },
    crashes: [],
    findings: [],
    aliveAtEnd: false,
    aborted: false,
    harnessErrors: [],
    serverErrors: [],
  };
  let good: GoodDevice | null = null;
  let stopping = false;
  try {
    const setup = await setUpFleet(server.httpUrl, ADMIN_PASSWORD);
    const corpus = await recordSessions(server.mqttUrl, setup.fuzzed);
    report.corpusHash = corpusHash(corpus, setup.fuzzed);
    const doc = (await (await fetch(`${server.httpUrl}/api/openapi.json`)).json()) as Parameters<typeof operationsOf>[0];
    const ops: Operation[] = operationsOf(doc);
    report.http.operations = ops.length;
    const mqttCtx: MqttFuzzContext = { corpus, device: setup.fuzzed, other: setup.good.id };
    const httpCtx = (): HttpFuzzContext => ({
      host: new URL(server.httpUrl).host,
      cookie: setup.cookie,
      bearer: setup.bearer,
      deviceBasic: `Basic ${Buffer.from(`${setup.fuzzed.id}:${setup.fuzzed.secret}`).toString('base64')}`,
      knownIds: ['gl-c-iao', 'gl-d-ducco', 'gia-lai-2509-2020', 'p1-stations', setup.fuzzed.id, setup.good.id],
      protectedIds: [setup.fuzzed.id, setup.good.id, 'admin'],
    });
    const mqttOf = (i: number) => mqttCase(seed, i, mqttCtx);
    const httpOf = (i: number) => httpCase(seed, i, ops, httpCtx());

    if (options.replay) {
      for (const id of options.replay) {
        const [kind, n] = id.split(':');
        log(kind === 'mqtt' ? describeMqtt(mqttOf(Number(n))) : describeHttp(httpOf(Number(n))));
      }
    }

    report.baselineRssMiB = rssMiB(server.pid) ?? 0;
    good = new GoodDevice(setup.good);
    good.start(server.mqttUrl);
    const goodDevice = good;
    const firstAckBy = Date.now() + 10_000;
    while (goodDevice.ackedCount === 0 && Date.now() < firstAckBy) await sleep(50);
    goodDevice.resetGap();

    const inFlight = new Set<string>();
    /** Cases that ended lately: the one that crashed the server often sees its socket close before the exit is seen. */
    const recent: { key: string; at: number }[] = [];
    const ended = (key: string) => {
      inFlight.delete(key);
      recent.push({ key, at: Date.now() });
      if (recent.length > 64) recent.shift();
    };
    let gate: Promise<void> | null = null;
    /** Waits while a crash is being handled (the gate is set from the moment the exit is seen until the restart). */
    const gateOpen = async () => {
      for (let g = gate; g !== null; g = gate) await g;
    };
    let restarts = 0;

    /** A case the harness itself could not build is counted and reported, never thrown into the pools. */
    const build = <T>(key: string, make: () => T): T | null => {
      try {
        return make();
      } catch (error) {
        report.harnessErrors.push(`${key}: ${(error as Error).stack?.split('\n').slice(0, 3).join(' ') ?? String(error)}`);
        return null;
      }
    };
    const runMqtt = async (i: number, tally: boolean) => {
      const c = build(`mqtt:${i}`, () => mqttOf(i));
      if (!c) return;
      const key = `mqtt:${i}`;
      inFlight.add(key);
      const result = await runMqttSession({ mqttUrl: server.mqttUrl, wsUrl: server.wsUrl, timeoutMs: 3000, quietMs: 150 }, c);
      ended(key);
      if (!tally) return;
      report.mqtt.sessions++;
      bump(report.mqtt.outcomes, result.outcome);
      bump(report.mqtt.transports, c.transport);
      bump(report.mqtt.connack, result.connack === null ? 'none' : String(result.connack));
      for (const [name, n] of Object.entries(result.replies)) bump(report.mqtt.replies, name, n);
    };
    const runHttp = async (i: number, tally: boolean) => {
      const c = build(`http:${i}`, () => httpOf(i));
      if (!c) return;
      const key = `http:${i}`;
      inFlight.add(key);
      const url = new URL(server.httpUrl);
      const result = await sendHttp({ host: url.hostname, port: Number(url.port), timeoutMs: 5000 }, c);
      ended(key);
      if (!tally) return;
      report.http.requests++;
      bump(report.http.statuses, result.status === null ? 'none' : String(result.status));
      bump(report.http.outcomes, result.outcome);
      if (c.drip) {
        report.http.drips.sent++;
        if (result.outcome === 'response' || result.outcome === 'closed_without_response')
          report.http.drips.answeredWithinBound++;
      }
      if (result.status !== null && result.status >= 500) {
        report.findings.push({
          kind: '5xx',
          caseId: key,
          detail: `${result.status} for ${c.operation} (${c.notes.join('; ')})`,
          reproducer: printable(Buffer.concat([c.head, c.body]), 600),
        });
      }
    };
    const runCase = (key: string, tally: boolean) => {
      const [kind, n] = key.split(':');
      return kind === 'mqtt' ? runMqtt(Number(n), tally) : runHttp(Number(n), tally);
    };

    const exitedNow = (p: ServerProcess) => p.child.exitCode !== null || p.child.signalCode !== null;
    const restart = async () => {
      restarts++;
      server = await startServerProcess(dataDir, ADMIN_PASSWORD);
      watch(server);
    };
    const recover = async (dead: ServerProcess, exit: { code: number | null; signal: string | null }): Promise<void> => {
      const crash: Crash = {
        atMs: Date.now() - started,
        exit: `code ${exit.code}, signal ${exit.signal}`,
        suspects: [
          ...[...inFlight].sort(),
          ...recent
            .filter((r) => r.at >= Date.now() - 400 && !inFlight.has(r.key))
            .reverse()
            .map((r) => r.key),
        ].filter((key, i, all) => all.indexOf(key) === i),
        confirmed: null,
        reproducer: null,
        serverTail: dead.tail(),
      };
      report.crashes.push(crash);
      log(`server exited (${crash.exit}) with ${crash.suspects.length} case(s) in flight; restarting`);
      const settleBy = Date.now() + 10_000;
      while (inFlight.size > 0 && Date.now() < settleBy) await sleep(20);
      if (restarts >= MAX_RESTARTS) {
        report.aborted = true;
        return;
      }
      await restart();
      for (const key of crash.suspects.slice(0, 24)) {
        if (restarts >= MAX_RESTARTS) break;
        const suspect = server;
        await runCase(key, false);
        for (let t = 0; t < 10 && !exitedNow(suspect); t++) await sleep(30);
        if (exitedNow(suspect)) {
          crash.confirmed = key;
          const [kind, n] = key.split(':');
          crash.reproducer = kind === 'mqtt' ? describeMqtt(mqttOf(Number(n))) : describeHttp(httpOf(Number(n)));
          log(`  ${key} crashes it alone: ${crash.reproducer.slice(0, 300)}`);
          await restart();
          break;
        }
      }
      goodDevice.start(server.mqttUrl);
      await sleep(300);
      goodDevice.resetGap();
    };
    const watch = (p: ServerProcess) => {
      void p.exited.then((exit) => {
        if (stopping || p !== server) return;
        gate ??= recover(p, exit).finally(() => {
          gate = null;
        });
      });
    };
    watch(server);

    const pool = async (count: number, concurrency: number, run: (i: number) => Promise<void>, only?: number[]) => {
      const indexes = only ?? Array.from({ length: count }, (_, i) => i);
      let next = 0;
      await Promise.all(
        Array.from({ length: concurrency }, async () => {
          for (;;) {
            await gateOpen();
            if (report.aborted) return;
            const i = next++;
            if (i >= indexes.length) return;
            await run(indexes[i] as number);
          }
        }),
      );
    };
    const only = (kind: string) =>
      options.replay?.filter((id) => id.startsWith(`${kind}:`)).map((id) => Number(id.split(':')[1]));
    let progress = 0;
    const tick = setInterval(() => {
      const done = report.mqtt.sessions + report.http.requests;
      if (done - progress >= 1000) {
        progress = done;
        log(`  … ${report.mqtt.sessions} sessions, ${report.http.requests} requests, max RSS ${maxRss.toFixed(0)} MiB`);
      }
    }, 1000);
    try {
      await Promise.all([
        pool(options.mqttCount, options.mqttConcurrency ?? 8, (i) => runMqtt(i, true), only('mqtt')),
        pool(options.httpCount, options.httpConcurrency ?? 6, (i) => runHttp(i, true), only('http')),
      ]);
      await gateOpen();
    } finally {
      clearInterval(tick);
    }

    const figures = await goodDevice.stop();
    good = null;
    const db = new Database(join(dataDir, 'fleet.db'), { readonly: true, fileMustExist: true });
    try {
      const stored = new Set(db.prepare('SELECT seq FROM health WHERE device_id = ?').pluck().all(setup.good.id) as number[]);
      report.good = {
        sent: figures.sent,
        acked: figures.acked.length,
        lost: figures.acked.filter((s) => !stored.has(s)),
        maxGapMs: figures.maxGapMs,
        gapLimitMs,
      };
    } finally {
      db.close();
    }
    report.serverErrors = server
      .tail()
      .split('\n')
      .filter((line) => /"level":(50|60)/.test(line))
      .slice(-5)
      .map((line) => line.slice(0, 600));
    report.aliveAtEnd =
      !exitedNow(server) &&
      (await fetch(`${server.httpUrl}/healthz`).then(
        (r) => r.ok,
        () => false,
      ));
  } finally {
    stopping = true;
    if (good) await good.stop(0);
    clearInterval(sampler);
    report.maxRssMiB = maxRss;
    report.durationMs = Date.now() - started;
    await server.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
  return report;
}
