/**
 * Issue 1/7: a device that does not wait for its PUBACKs is slowed (its socket is not read while its own
 * publishes waiting for their commit are over the bound of server/broker/flow-control.ts) and disconnected when it
 * persists, while a well-behaved device keeps being acknowledged and nothing acknowledged is lost.
 *
 * The flooder is its own process (tests/helpers/broker-flooder.mjs, raw socket + mqtt-packet) sending QoS 1
 * `health` of 500 samples each (what a kiosk flushing its backlog sends) as fast as TCP takes them. On the code
 * before this change aedes read it as fast as it sent (its 'readable' listener undoes the batch counter): the
 * ingest queue reached 1.7 M samples against INGEST_QUEUE_LIMIT 20 000, RSS grew by 320 MiB and the good
 * device waited 10–12 s for a PUBACK; the flooder was never disconnected.
 */
import { spawn } from 'node:child_process';
import { resolve } from 'node:path';
import type { MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { topics } from '../protocol/index.js';
import { addDevice, connectDevice, healthSample, startTestServer, type TestServer } from '../server/testing/test-server.js';

const FLOODER = resolve(import.meta.dirname, 'helpers/broker-flooder.mjs');
/** Bounds asserted while a flooder runs. */
const BOUNDS = {
  /** Samples waiting for a commit: INGEST_QUEUE_LIMIT (one flooder is held at ~1 MiB of payload, ~8 000 samples). */
  queueDepth: 20_000,
  /** Growth of this process's RSS (server and test) over its value before the flood. */
  rssGrowthMiB: 150,
  /** The well-behaved device's slowest publish → PUBACK. */
  pubackMs: 5_000,
  /** The flooder is disconnected within this. */
  disconnectMs: 10_000,
};
/** It logs in again each time it is cut off, up to `sessions` times. */
const FLOOD = { messages: 200_000, seconds: 15, sessions: 5, samplesPerMessage: 500 };

interface FloodSession {
  sent: number;
  pubacks: number;
  closedByServer: boolean;
  closedAfterMs: number | null;
}
interface FloodResult {
  sent: number;
  pubacks: number;
  sessions: FloodSession[];
}

let server: TestServer;
const clients: MqttClient[] = [];
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(async () => {
  for (const client of clients) client.end(true);
  await server?.stop();
});

const count = (sql: string, ...params: unknown[]) =>
  server.db
    .prepare(sql)
    .pluck()
    .get(...params) as number;
async function metricsText(): Promise<string> {
  return (await fetch(`${server.httpUrl}/metrics`)).text();
}
function metricValue(text: string, series: string): number {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line ? Number(line.slice(series.length + 1)) : 0;
}

function runFlooder(id: string, secret: string, mode: 'noread' | 'read'): Promise<FloodResult> {
  const args = [FLOODER, server.mqttUrl, id, secret, String(FLOOD.messages), String(FLOOD.seconds), String(FLOOD.sessions), mode];
  const child = spawn(process.execPath, [...args, String(FLOOD.samplesPerMessage)], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.on('data', (chunk: Buffer) => {
    out += chunk.toString();
  });
  child.stderr.on('data', (chunk: Buffer) => {
    err += chunk.toString();
  });
  return new Promise((resolvePromise, reject) => {
    const timer = setTimeout(
      () => {
        child.kill('SIGKILL');
        reject(new Error(`flooder did not finish:\n${out}\n${err}`));
      },
      (FLOOD.seconds + 15) * 1000,
    );
    child.once('exit', (code) => {
      clearTimeout(timer);
      if (code === 0) resolvePromise(JSON.parse(out.trim().split('\n').pop() as string) as FloodResult);
      else reject(new Error(`flooder exited with ${code}:\n${out}\n${err}`));
    });
  });
}

/** Publishes one sample at a time (waiting for each PUBACK, as the agent does) until `until` settles. */
async function behave(client: MqttClient, id: string, until: Promise<unknown>) {
  let finished = false;
  void until.finally(() => {
    finished = true;
  });
  let seq = 0;
  let slowestMs = 0;
  const deadline = Date.now() + (FLOOD.seconds + 15) * 1000;
  while (!finished && Date.now() < deadline) {
    seq++;
    const started = Date.now();
    await Promise.race([
      client.publishAsync(topics.health(id), JSON.stringify({ samples: [healthSample(seq)] }), { qos: 1 }),
      new Promise((_, reject) => setTimeout(() => reject(new Error(`no PUBACK for seq ${seq} in 20 s`)), 20_000)),
    ]);
    slowestMs = Math.max(slowestMs, Date.now() - started);
    await new Promise((r) => setTimeout(r, 20));
  }
  return { acked: seq, slowestMs };
}

/** Samples queue depth and RSS every 50 ms until stopped. */
function watch() {
  const peak = { depth: 0, rss: 0 };
  const timer = setInterval(() => {
    peak.rss = Math.max(peak.rss, process.memoryUsage().rss);
    metricsText().then(
      (text) => {
        peak.depth = Math.max(peak.depth, metricValue(text, 'fleet_ingest_queue_depth'));
      },
      () => {},
    );
  }, 50);
  return { peak, stop: () => clearInterval(timer) };
}

describe('a device that publishes QoS 1 without waiting for its PUBACKs', () => {
  for (const mode of ['noread', 'read'] as const) {
    it(`is held and disconnected (${mode === 'noread' ? 'it never reads its PUBACKs' : 'it reads its PUBACKs but never waits for them'}); another device keeps being acknowledged; nothing acknowledged is lost`, async () => {
      const flooder = addDevice(server, `kiosk-flood-${mode}`);
      const good = addDevice(server, `kiosk-good-${mode}`);
      const client = await connectDevice(server.mqttUrl, good.id, good.secret);
      clients.push(client);
      const before = await metricsText();
      global.gc?.();
      const rssBefore = process.memoryUsage().rss;
      const watcher = watch();

      const flood = runFlooder(flooder.id, flooder.secret, mode);
      const behaved = await behave(client, good.id, flood);
      const result = await flood;
      watcher.stop();
      const after = await metricsText();
      const stored = count('SELECT count(*) FROM health WHERE device_id = ?', flooder.id);
      const figures = {
        ...result,
        storedSamples: stored,
        peakQueueDepth: watcher.peak.depth,
        rssGrowthMiB: Math.round((watcher.peak.rss - rssBefore) / 2 ** 20),
        good: behaved,
      };
      console.log(`flood (${mode}):`, JSON.stringify(figures));

      // Held, then disconnected (each time it came back) with a log line, a refusal and one device event.
      expect(result.sessions).toHaveLength(FLOOD.sessions);
      for (const session of result.sessions) {
        expect(session.closedByServer).toBe(true);
        expect(session.closedAfterMs).toBeLessThan(BOUNDS.disconnectMs);
      }
      expect(result.sent).toBeLessThan(FLOOD.messages);
      expect(metricValue(after, 'fleet_mqtt_throttled_total')).toBeGreaterThan(metricValue(before, 'fleet_mqtt_throttled_total'));
      const floodingRefusals = 'fleet_mqtt_refused_total{what="flooding"}';
      expect(metricValue(after, floodingRefusals)).toBe(metricValue(before, floodingRefusals) + FLOOD.sessions);
      await expect
        .poll(() => count("SELECT count(*) FROM device_events WHERE device_id = ? AND type = 'flooding'", flooder.id))
        .toBe(1);
      // Memory stayed bounded.
      expect(watcher.peak.depth).toBeLessThanOrEqual(BOUNDS.queueDepth);
      expect(figures.rssGrowthMiB).toBeLessThan(BOUNDS.rssGrowthMiB);
      // What the flooder saw acknowledged is stored (PUBACKs follow commits, in order).
      expect(stored).toBeGreaterThanOrEqual(result.pubacks * FLOOD.samplesPerMessage);
      // The well-behaved device kept being acknowledged within the bound, and every acknowledged sample is stored.
      expect(behaved.slowestMs).toBeLessThan(BOUNDS.pubackMs);
      expect(count('SELECT count(*) FROM health WHERE device_id = ?', good.id)).toBe(behaved.acked);
      expect(client.connected).toBe(true);
    }, 60_000);
  }
});

describe('a full ingest queue', () => {
  it('stops reading every device until commits make room, then reads them again: all acknowledged, none cut off', async () => {
    // A queue of 100 samples and commits at most every 100 ms: 8 devices with 3 publishes of 50 samples in flight fill it.
    const small = await startTestServer({ INGEST_QUEUE_LIMIT: 100, INGEST_BATCH_SAMPLES: 100, INGEST_BATCH_MS: 100 });
    const devices: MqttClient[] = [];
    try {
      const ids = Array.from({ length: 8 }, (_, i) => `kiosk-queue-${i}`);
      for (const id of ids) {
        const { secret } = addDevice(small, id);
        devices.push(await connectDevice(small.mqttUrl, id, secret));
      }
      let closes = 0;
      const cutOff = new Promise<never>((_, reject) => {
        for (const client of devices)
          client.on('close', () => {
            closes++;
            reject(new Error('a device was disconnected'));
          });
      });
      cutOff.catch(() => {});
      const publishing = Promise.all(
        devices.map(async (client, d) => {
          const id = ids[d] as string;
          for (let round = 0; round < 4; round++) {
            await Promise.all(
              [0, 1, 2].map((k) => {
                const first = (round * 3 + k) * 50 + 1;
                const samples = Array.from({ length: 50 }, (_, i) => healthSample(first + i));
                return client.publishAsync(topics.health(id), JSON.stringify({ samples }), { qos: 1 });
              }),
            );
          }
        }),
      );
      await Promise.race([publishing, cutOff]);
      expect(closes).toBe(0);
      expect(small.db.prepare("SELECT count(*) FROM health WHERE device_id LIKE 'kiosk-queue-%'").pluck().get()).toBe(
        8 * 4 * 3 * 50,
      );
      const text = (await (await fetch(`${small.httpUrl}/metrics`)).text()).split('\n');
      expect(text.find((l) => l.startsWith('fleet_mqtt_refused_total{what="flooding"}'))).toBeUndefined();
    } finally {
      for (const client of devices) client.end(true);
      await small.stop();
    }
  }, 60_000);
});
