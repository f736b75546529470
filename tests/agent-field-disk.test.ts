/**
 * Drill "the data directory on a small tmpfs filled to the last byte" at small size (issue 14): a real server, a real
 * agent whose data dir is a 16 MiB tmpfs. Once no byte is left the agent DB cannot take the next health sample:
 * health must still reach the server (from memory, in seq order), `disk_full` is reported, the page is still served,
 * and a restart on the still-full disk reuses no seq. Needs root for the mount.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { openAgentDb } from '../agent/agent-db.js';
import { createAgent, type RunningAgent } from '../agent/create-agent.js';
import { HealthQueue } from '../agent/health-queue.js';
import type { LocalManifest } from '../protocol/index.js';
import { registerDevice } from '../server/registry/devices-repo.js';
import { startTestServer, waitFor } from '../server/testing/test-server.js';
import { agentEnv, fixedHealth, item, silent } from './helpers/agent-fixture.js';
import { fillToTheLastByte } from './helpers/fill-disk.js';

const isRoot = process.getuid?.() === 0;

let cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => {});
  cleanups = [];
});

describe.skipIf(!isRoot)('fault drill: data directory filled to the last byte (tmpfs; needs root to mount)', () => {
  it('keeps health flowing from memory, reports disk_full, serves the page, reuses no seq after a restart', async () => {
    const mount = mkdtempSync(join(tmpdir(), 'agent-tmpfs-'));
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=16m', 'tmpfs', mount]);
    cleanups.push(async () => {
      execFileSync('umount', ['-l', mount]);
      rmSync(mount, { recursive: true, force: true });
    });
    const server = await startTestServer();
    cleanups.push(() => server.stop());
    const env = await agentEnv('kiosk-field-full-1');
    cleanups.push(env.cleanup);
    registerDevice(server.db, { id: env.deviceId, secret: env.secret, siteId: 'gl-c-iadom' });
    const config = env.config(server.mqttUrl, { AGENT_DATA_DIR: mount, AGENT_DISK_RESERVE_MB: '0', AGENT_SYNC_JITTER_S: '0' });
    const start = async (): Promise<RunningAgent> => {
      const agent = await createAgent(config, { log: silent, healthSource: fixedHealth(), syncRetryBaseMs: 60_000 });
      cleanups.push(() => agent.close());
      await waitFor(() => agent.online(), 'agent online');
      return agent;
    };
    const seqs = (): number[] =>
      server.db.prepare('SELECT seq FROM health WHERE device_id = ? ORDER BY seq').pluck().all(env.deviceId) as number[];
    const eventCount = (type: string): number =>
      (
        server.db.prepare('SELECT count(*) AS n FROM device_events WHERE device_id = ? AND type = ?').get(env.deviceId, type) as {
          n: number;
        }
      ).n;

    const video = randomBytes(300_000);
    const f = env.api.addFile(video, 'video/mp4');
    env.api.publish(1, [item('v1', f)]);
    let agent = await start();
    expect(await agent.sync()).toMatchObject({ seq: 1 });
    for (let i = 0; i < 2; i++) await agent.collectHealth();
    await waitFor(() => seqs().length === 2, 'samples before the disk filled');

    // Let SQLite give back its WAL (a checkpoint truncates it), then fill the disk: the next sample needs a page
    // nobody has.
    const side = new Database(join(mount, 'agent.db'));
    side.pragma('wal_checkpoint(TRUNCATE)');
    side.close();
    const filler = join(mount, 'filler');
    fillToTheLastByte(filler);

    for (let i = 0; i < 3; i++) await agent.collectHealth();
    await waitFor(() => seqs().length === 5, 'samples taken on the full disk reach the server');
    await waitFor(() => eventCount('disk_full') === 1, 'disk_full event stored by the server');
    await waitFor(() => agent.queueDepth() === 0, 'memory ring emptied on PUBACK');
    // The page is still served, with its file.
    const lm = (await (await fetch(`http://127.0.0.1:${agent.kioskPort}/local/manifest`)).json()) as LocalManifest;
    expect(lm.items.map((i) => i.id)).toEqual(['v1']);
    const file = await fetch(`http://127.0.0.1:${agent.kioskPort}/local/files/${f.sha256}`);
    expect(Buffer.from(await file.arrayBuffer()).equals(video)).toBe(true);

    // A restart with the disk still full: the DB still says 2, numbering goes on after 5.
    await agent.close();
    agent = await start();
    await agent.collectHealth();
    await waitFor(() => seqs().length === 6, 'sample after the restart');
    // Room again: the next sample goes to disk, and nothing was numbered twice.
    await rm(filler);
    await agent.collectHealth();
    await waitFor(() => seqs().length === 7, 'sample after the disk was freed');
    expect(seqs()).toEqual([1, 2, 3, 4, 5, 6, 7]);
    expect(eventCount('seq_restart')).toBe(0);
    await waitFor(() => agent.queueDepth() === 0, 'queue emptied on PUBACK');
  }, 60_000);
});

describe('health queue on an agent DB that cannot be written', () => {
  const reading = { cpuLoad: 1, memUsed: 2, diskUsed: 3, diskFree: 4, tempC: null, uptimeS: 5 };
  it('keeps samples in a bounded memory ring, in seq order, and numbers on after a restart', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'agent-ro-'));
    try {
      const seqFile = join(dir, 'health-seq');
      const rw = openAgentDb(dir);
      const q1 = new HealthQueue(rw, 100, { seqFile });
      expect([1, 2].map((t) => q1.enqueue(reading, t, 0).stored)).toEqual(['disk', 'disk']);
      q1.close();
      rw.close();
      // Read-only (a remount after an eMMC error does this): the DB takes nothing, the ring keeps the newest 3.
      const ro = new Database(join(dir, 'agent.db'), { readonly: true });
      const q2 = new HealthQueue(ro, 100, { seqFile, ringLimit: 3 });
      const taken = [3, 4, 5, 6].map((t) => q2.enqueue(reading, t, 0));
      expect(taken.map((e) => [e.sample.seq, e.stored])).toEqual([
        [3, 'memory'],
        [4, 'memory'],
        [5, 'memory'],
        [6, 'memory'],
      ]);
      expect(taken[3]?.droppedNow).toBe(1);
      expect(q2.oldest(10, new Set()).map((x) => x.seq)).toEqual([1, 2, 4, 5, 6]);
      q2.remove([1, 2, 4]);
      expect(q2.oldest(10, new Set()).map((x) => x.seq)).toEqual([5, 6]);
      q2.close();
      ro.close();
      // Writable again after a restart: the DB still says 2, the seq file 6; the ring was lost with the process.
      const again = openAgentDb(dir);
      const q3 = new HealthQueue(again, 100, { seqFile });
      expect(q3.enqueue(reading, 7, 0)).toMatchObject({ stored: 'disk', sample: { seq: 7 } });
      q3.close();
      again.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
