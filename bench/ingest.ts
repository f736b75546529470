/**
 * Health-ingest benchmark: N mqtt.js devices publish QoS 1 `health` against a real server process
 * (server/main.ts on a temp DATA_DIR) for a fixed time. Prints samples/s committed, publish→PUBACK
 * latency p50/p99 (client side: a PUBACK means committed) and group-commit latency p50/p99 (from the
 * server's /metrics histogram, so bucket bounds). Bounded in time: setup + `--seconds` + shutdown.
 *
 *   npm run bench:ingest -- --clients 300 --inflight 8 --seconds 20 --prefill 200000
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import mqtt, { type MqttClient } from 'mqtt';
import { topics } from '../protocol/index.js';
import { openDatabase } from '../server/db/open-database.js';
import { seedReferenceData } from '../server/db/seed.js';
import { registerDevice } from '../server/registry/devices-repo.js';
import { prefillHealth } from './lib/prefill.js';

const { values } = parseArgs({
  options: {
    clients: { type: 'string', default: '300' },
    inflight: { type: 'string', default: '8' },
    samples: { type: 'string', default: '1' },
    seconds: { type: 'string', default: '20' },
    prefill: { type: 'string', default: '200000' },
  },
});
const CLIENTS = Number(values.clients);
const INFLIGHT = Number(values.inflight);
const SAMPLES_PER_MESSAGE = Number(values.samples);
const SECONDS = Math.min(Number(values.seconds), 90);
const PREFILL = Number(values.prefill);
const ROOT = resolve(import.meta.dirname, '..');

function quantile(sorted: number[], q: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] as number;
}

/** Upper bound of the bucket holding quantile q of a Prometheus histogram. */
function histogramQuantile(metrics: string, name: string, q: number): string {
  const buckets = [...metrics.matchAll(new RegExp(`^${name}_bucket\\{le="([^"]+)"\\} (\\d+)`, 'gm'))].map((m) => ({
    le: m[1] as string,
    count: Number(m[2]),
  }));
  const total = buckets.at(-1)?.count ?? 0;
  const hit = buckets.find((b) => b.count >= q * total);
  return hit ? `≤ ${hit.le === '+Inf' ? '∞' : `${Number(hit.le) * 1000} ms`}` : 'n/a';
}

function sample(seq: number) {
  return {
    seq,
    ts: Date.now(),
    cpuLoad: 23.5,
    memUsed: 61.2,
    diskUsed: 48.9,
    diskFree: 51_234_567_890,
    tempC: 52.5,
    uptimeS: 86_400 + seq,
    contentSeq: 17,
    queueDepth: 0,
  };
}

function prefill(file: string, rows: number): void {
  const db = openDatabase(file);
  seedReferenceData(db);
  // History of 10 000 other kiosks, one sample a minute, through the server's own ingest.
  prefillHealth(db, rows);
  for (let i = 0; i < CLIENTS; i++) registerDevice(db, { id: `bench-${i}`, secret: `bench-secret-${i}-0123456789` });
  db.close();
}

function startServer(dataDir: string): Promise<{ child: ChildProcess; mqttUrl: string; httpUrl: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'server/main.ts'], {
    cwd: ROOT,
    env: {
      ...process.env,
      DATA_DIR: dataDir,
      HTTP_HOST: '127.0.0.1',
      HTTP_PORT: '0',
      MQTT_HOST: '127.0.0.1',
      MQTT_PORT: '0',
      MQTTS_PORT: '0',
      HTTPS_PORT: '0',
      ADMIN_PASSWORD: 'bench-admin-pw',
      LOG_LEVEL: 'warn',
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  return new Promise((resolvePromise, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error('server did not start within 30 s')), 30_000);
    child.stdout?.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      const mqttUrl = /MQTT \(TCP\)\s+(\S+)/.exec(out)?.[1];
      const httpUrl = /HTTP API and dashboard\s+(\S+)/.exec(out)?.[1];
      if (mqttUrl && httpUrl) {
        clearTimeout(timer);
        resolvePromise({ child, mqttUrl, httpUrl });
      }
    });
    child.once('exit', (code) => reject(new Error(`server exited with ${code}`)));
  });
}

async function main(): Promise<void> {
  const dataDir = mkdtempSync(join(tmpdir(), 'fleet-bench-'));
  let child: ChildProcess | null = null;
  try {
    let t = performance.now();
    prefill(join(dataDir, 'fleet.db'), PREFILL);
    console.log(`prefilled ${PREFILL} health rows in ${((performance.now() - t) / 1000).toFixed(1)} s`);
    const server = await startServer(dataDir);
    child = server.child;

    t = performance.now();
    const clients: MqttClient[] = await Promise.all(
      Array.from(
        { length: CLIENTS },
        (_, i) =>
          new Promise<MqttClient>((ok, fail) => {
            const c = mqtt.connect(server.mqttUrl, {
              clientId: `bench-${i}`,
              username: `bench-${i}`,
              password: `bench-secret-${i}-0123456789`,
              reconnectPeriod: 0,
              connectTimeout: 30_000,
            });
            c.once('connect', () => ok(c));
            c.once('error', fail);
          }),
      ),
    );
    console.log(`${CLIENTS} devices connected in ${((performance.now() - t) / 1000).toFixed(1)} s`);

    const cpuSeconds = async () =>
      Number(
        /^process_cpu_seconds_total (\S+)/m.exec(await (await fetch(`${server.httpUrl}/metrics`)).text())?.[1] ?? Number.NaN,
      );
    const cpuBefore = await cpuSeconds();
    const latencies: number[] = [];
    let acked = 0;
    let running = true;
    const started = performance.now();
    await Promise.all(
      clients.map(
        (client, i) =>
          new Promise<void>((done) => {
            let seq = 0;
            let inflight = 0;
            const pump = () => {
              while (running && inflight < INFLIGHT) {
                const samples = Array.from({ length: SAMPLES_PER_MESSAGE }, () => sample(++seq));
                const sentAt = performance.now();
                inflight++;
                client.publish(topics.health(`bench-${i}`), JSON.stringify({ samples }), { qos: 1 }, (error) => {
                  inflight--;
                  if (!error) {
                    acked += SAMPLES_PER_MESSAGE;
                    latencies.push(performance.now() - sentAt);
                  }
                  if (running) pump();
                  else if (inflight === 0) done();
                });
              }
            };
            pump();
            setTimeout(() => {
              running = false;
              if (inflight === 0) done();
            }, SECONDS * 1000);
          }),
      ),
    );
    const elapsedS = (performance.now() - started) / 1000;
    const metrics = await (await fetch(`${server.httpUrl}/metrics`)).text();
    const serverCpu = Number(/^process_cpu_seconds_total (\S+)/m.exec(metrics)?.[1] ?? Number.NaN) - cpuBefore;
    for (const client of clients) client.end(true);

    latencies.sort((a, b) => a - b);
    const batches = Number(/^fleet_ingest_batch_samples_count (\d+)/m.exec(metrics)?.[1] ?? 0);
    const committed = Number(/^fleet_ingest_samples_committed_total (\d+)/m.exec(metrics)?.[1] ?? 0);
    console.log(`
clients ${CLIENTS}, in flight per client ${INFLIGHT}, samples per message ${SAMPLES_PER_MESSAGE}, ${elapsedS.toFixed(1)} s, table prefilled with ${PREFILL} rows
samples acknowledged (= committed)  ${acked}  →  ${Math.round(acked / elapsedS)} samples/s
publish → PUBACK latency            p50 ${quantile(latencies, 0.5).toFixed(1)} ms, p99 ${quantile(latencies, 0.99).toFixed(1)} ms
group commits                       ${batches}, mean ${(committed / Math.max(1, batches)).toFixed(0)} writes each
server CPU                          ${serverCpu.toFixed(1)} s in ${elapsedS.toFixed(1)} s (${Math.round((100 * serverCpu) / elapsedS)}% of one core), ${Math.round((serverCpu * 1e6) / Math.max(1, acked))} µs per sample
machine load average (1 min)        ${loadavg()[0]?.toFixed(1)} on ${availableParallelism()} cores
commit latency (server histogram)   p50 ${histogramQuantile(metrics, 'fleet_ingest_commit_seconds', 0.5)}, p99 ${histogramQuantile(metrics, 'fleet_ingest_commit_seconds', 0.99)}`);
  } finally {
    if (child && child.exitCode === null) {
      const exited = new Promise((r) => child?.once('exit', r));
      child.kill('SIGTERM');
      await exited;
    }
    rmSync(dataDir, { recursive: true, force: true });
  }
}

await main();
