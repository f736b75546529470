/**
 * Fault drill "the server's data disk is full": the real server (tsx server/main.ts, its checkpointer thread, the
 * WAL fsynced off the event loop) on a 48 MiB tmpfs, devices publishing QoS 1 health over mqtt.js, the disk then
 * filled to the last byte. A full disk is an error the server recovers from, not a fatal one (a failed fsync is,
 * server/ingest/wal-sync.ts): it must refuse what it cannot store (no PUBACK) and stay up, the checkpointer thread
 * must survive it, and once room is back the devices' resends are stored — every acknowledged sample exactly once.
 * Needs root for the mount.
 */
import { type ChildProcess, execFileSync } from 'node:child_process';
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
import { fillToTheLastByte } from './helpers/fill-disk.js';
import { startServerProcess } from './helpers/server-process.js';

const isRoot = process.getuid?.() === 0;
const DEVICES = 8;
/** Samples per publish: a kiosk's backlog flush (LIMITS.maxHealthSamples is 500), so the disk fills in seconds. */
const PER_MESSAGE = 200;

let child: ChildProcess | null = null;
let mount: string | null = null;
afterAll(() => {
  if (child && child.exitCode === null) child.kill('SIGKILL');
  if (mount) {
    execFileSync('umount', ['-l', mount]);
    rmSync(mount, { recursive: true, force: true });
  }
});

/** Resolves true on PUBACK, false when refused (the server closes the connection) or not acknowledged in time. */
function publish(client: MqttClient, deviceId: string, seqs: number[], t0: number): Promise<boolean> {
  const body = JSON.stringify({ samples: seqs.map((seq) => healthSample(seq, t0 + seq)) });
  return Promise.race([
    client.publishAsync(topics.health(deviceId), body, { qos: 1 }).then(
      () => true,
      () => false,
    ),
    new Promise<boolean>((resolve) => setTimeout(() => resolve(false), 5_000)),
  ]);
}

describe.skipIf(!isRoot)('fault drill: the server’s data disk full (tmpfs; needs root to mount)', () => {
  it('refuses what it cannot store and stays up; the checkpointer survives; resends stored once room is back', async () => {
    mount = mkdtempSync(join(tmpdir(), 'server-tmpfs-'));
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=48m', 'tmpfs', mount]);
    const setup = openDatabase(join(mount, 'fleet.db'));
    seedReferenceData(setup);
    const ids = Array.from({ length: DEVICES }, (_, i) => `full-${i}`);
    const secret = (id: string) => `secret-${id}-0123456789`;
    for (const id of ids) registerDevice(setup, { id, secret: secret(id), siteId: 'gl-c-iao' });
    setup.close();

    const started = await startServerProcess({ dataDir: mount, adminPassword: 'disk-full-admin', timeoutMs: 60_000 });
    child = started.child;
    let log = '';
    child.stdout?.on('data', (chunk: Buffer) => {
      log += chunk.toString();
    });
    const connectAll = () => Promise.all(ids.map((id) => connectDevice(started.mqttUrl, id, secret(id))));
    let clients = await connectAll();

    const t0 = Date.now();
    const acked = new Map<string, number[]>(ids.map((id) => [id, []]));
    const unacked = new Map<string, number[][]>(ids.map((id) => [id, []]));
    let nextSeq = 1;
    /** One round: each device publishes PER_MESSAGE new samples; true when all were acknowledged. */
    const round = async (): Promise<boolean> => {
      const seqs = Array.from({ length: PER_MESSAGE }, (_, k) => nextSeq + k);
      nextSeq += PER_MESSAGE;
      const results = await Promise.all(clients.map((c, i) => publish(c, ids[i] as string, seqs, t0)));
      results.forEach((ok, i) => {
        const id = ids[i] as string;
        if (ok) acked.get(id)?.push(...seqs);
        else unacked.get(id)?.push(seqs);
      });
      return results.every(Boolean);
    };

    for (let r = 0; r < 5; r++) expect(await round(), 'acknowledged before the disk filled').toBe(true);
    const filler = join(mount, 'filler');
    fillToTheLastByte(filler);

    // The disk has no byte left: rounds go on until the server refuses one (bounded: 200 rounds ≈ 320 000 samples,
    // far more than the WAL's and the database's preallocated pages can take).
    let refused = false;
    for (let r = 0; r < 200 && !refused; r++) refused = !(await round());
    expect(refused, 'a publish refused on the full disk').toBe(true);
    expect(child.exitCode, 'the server still runs on the full disk').toBeNull();

    // Room again. The devices (closed by the refusal, or not) connect again and resend what was not acknowledged,
    // as the agent does from its queue, then go on.
    rmSync(filler);
    for (const c of clients) await c.endAsync(true);
    clients = await waitFor(() => connectAll().catch(() => null), 'devices connect again', 20_000);
    for (const [i, id] of ids.entries()) {
      for (const seqs of unacked.get(id) ?? []) {
        expect(await publish(clients[i] as MqttClient, id, seqs, t0), `resend of ${id} after the disk was freed`).toBe(true);
        acked.get(id)?.push(...seqs);
      }
    }
    for (let r = 0; r < 3; r++) expect(await round(), 'acknowledged after the disk was freed').toBe(true);
    for (const c of clients) await c.endAsync();

    expect(log).not.toMatch(/"level":60/); // no fatal
    // The checkpoints failed on the full disk (the database file could not grow) and the thread kept trying.
    expect(log).toMatch(/"code":"SQLITE_FULL".*"msg":"checkpoint failed; tried again every interval"/);
    expect(log, 'the checkpointer thread survived the full disk').not.toMatch(/checkpointer thread stopped/);
    const exited = new Promise((resolve) => child?.once('exit', resolve));
    child.kill('SIGTERM');
    await exited;

    const check = openDatabase(join(mount, 'fleet.db'));
    for (const id of ids) {
      const stored = check.prepare('SELECT seq FROM health WHERE device_id = ? ORDER BY seq').pluck().all(id) as number[];
      const expected = [...new Set(acked.get(id))].sort((a, b) => a - b);
      expect(stored.length, `${id}: rows stored (no duplicates, no series split)`).toBe(expected.length);
      expect(stored).toEqual(expected);
    }
    expect(check.prepare("SELECT count(*) FROM device_events WHERE type = 'seq_restart'").pluck().get()).toBe(0);
    check.close();
  }, 150_000);
});
