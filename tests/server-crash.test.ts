/**
 * DESIGN §5: "a server crash loses nothing the agent believes delivered". The real server runs as a child
 * process (tsx server/main.ts), devices publish QoS 1 health, the server is SIGKILLed mid-stream, restarted,
 * and every sample whose PUBACK a device saw must be in the database; resending everything adds no duplicate.
 */
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { MqttClient } from 'mqtt';
import { afterAll, describe, expect, it } from 'vitest';
import { topics } from '../protocol/index.js';
import { openDatabase } from '../server/db/open-database.js';
import { seedReferenceData } from '../server/db/seed.js';
import { registerDevice } from '../server/registry/devices-repo.js';
import { connectDevice, healthSample, waitFor } from '../server/testing/test-server.js';
import { startServerProcess } from './helpers/server-process.js';

const DEVICES = 6;
const dataDir = mkdtempSync(join(tmpdir(), 'fleet-crash-'));
const children: ChildProcess[] = [];

afterAll(() => {
  for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
  rmSync(dataDir, { recursive: true, force: true });
});

/** Starts server/main.ts on the test's data directory (tests/helpers/server-process.ts). */
async function startServer(): Promise<{ child: ChildProcess; mqttUrl: string }> {
  const started = await startServerProcess({ dataDir, adminPassword: 'crash-test-admin' });
  children.push(started.child);
  return started;
}

/** Each seq's sample has one device time, so the resends below are the same samples (as an agent's are). */
const T0 = Date.now();

describe('crash safety of health ingest', () => {
  it('keeps every acknowledged sample across a SIGKILL, and none twice', async () => {
    const setup = openDatabase(join(dataDir, 'fleet.db'));
    seedReferenceData(setup);
    const ids = Array.from({ length: DEVICES }, (_, i) => `crash-${i}`);
    for (const id of ids) registerDevice(setup, { id, secret: `secret-${id}-0123456789`, siteId: 'gl-c-iao' });
    setup.close();

    const first = await startServer();
    const acked = new Map<string, Set<number>>(ids.map((id) => [id, new Set<number>()]));
    const sent = new Map<string, number>(ids.map((id) => [id, 0]));
    const clients: MqttClient[] = [];
    for (const id of ids) clients.push(await connectDevice(first.mqttUrl, id, `secret-${id}-0123456789`, { reconnectPeriod: 0 }));

    // Each device keeps publishing batches of 5 samples with many publishes in flight, as a flushing agent does.
    let stopped = false;
    const publishing = clients.map(async (client, i) => {
      const id = ids[i] as string;
      for (let batch = 0; batch < 2000 && !stopped; batch++) {
        const seqs = Array.from({ length: 5 }, (_, k) => batch * 5 + k + 1);
        sent.set(id, batch * 5 + 5);
        const payload = JSON.stringify({ samples: seqs.map((seq) => healthSample(seq, T0 + seq)) });
        // Once the kill has cut the link, mqtt.js may already have closed its store: stop like an agent going offline.
        if (!client.connected) break;
        try {
          client.publish(topics.health(id), payload, { qos: 1 }, (error) => {
            if (!error) for (const seq of seqs) acked.get(id)?.add(seq);
          });
        } catch {
          break;
        }
        if (batch % 20 === 19) await new Promise((r) => setTimeout(r, 5));
      }
    });
    const ackedCount = () => [...acked.values()].reduce((n, s) => n + s.size, 0);
    await waitFor(() => ackedCount() >= 2000, 'acknowledged samples before the kill', 30_000);

    const exited = new Promise((r) => first.child.once('exit', r));
    first.child.kill('SIGKILL');
    await exited;
    stopped = true;
    await Promise.all(publishing);
    for (const client of clients) client.end(true);
    const ackedAtKill = new Map([...acked].map(([id, seqs]) => [id, new Set(seqs)]));
    const totalAcked = [...ackedAtKill.values()].reduce((n, s) => n + s.size, 0);
    expect(totalAcked).toBeGreaterThanOrEqual(2000);

    // Restart on the same data: every acknowledged sample is there.
    const second = await startServer();
    const check = openDatabase(join(dataDir, 'fleet.db'));
    const stored = (id: string) =>
      new Set(check.prepare('SELECT seq FROM health WHERE device_id = ?').pluck().all(id) as number[]);
    for (const id of ids) {
      const have = stored(id);
      const missing = [...(ackedAtKill.get(id) ?? [])].filter((seq) => !have.has(seq));
      expect(missing, `acknowledged samples of ${id} lost`).toEqual([]);
    }

    // The agents resend everything they sent (acknowledged or not): nothing is stored twice.
    for (const id of ids) {
      const client = await connectDevice(second.mqttUrl, id, `secret-${id}-0123456789`);
      const last = sent.get(id) ?? 0;
      for (let from = 1; from <= last; from += 500) {
        const seqs = Array.from({ length: Math.min(500, last - from + 1) }, (_, k) => from + k);
        await client.publishAsync(
          topics.health(id),
          JSON.stringify({ samples: seqs.map((seq) => healthSample(seq, T0 + seq)) }),
          {
            qos: 1,
          },
        );
      }
      client.end(true);
      const rows = check
        .prepare('SELECT count(*) AS n, count(DISTINCT seq) AS d, min(seq) AS lo, max(seq) AS hi FROM health WHERE device_id = ?')
        .get(id);
      expect(rows).toEqual({ n: last, d: last, lo: 1, hi: last });
    }
    check.close();

    const stoppedCleanly = new Promise<number | null>((r) => second.child.once('exit', (code) => r(code)));
    second.child.kill('SIGTERM');
    expect(await stoppedCleanly).toBe(0);
  });
});
