/**
 * Field conditions of the kiosk's own storage (issue 14, part A), with a real server (its broker and ingest), a real
 * agent (createAgent) on real SQLite and real files, content from the stand-in content API:
 *   - a corrupt agent.db is set aside and rebuilt, the page comes up from the content on disk, an event says so,
 *     and health numbering goes on (no seq reused);
 *   - the page comes up before anything is hashed (a power cut must not cost minutes of eMMC);
 *   - bit rot after start (same size, same mtime) is found by the background re-verification, quarantined and
 *     fetched again;
 *   - a 304 does not make the agent use a held target whose signature no longer verifies.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, stat, truncate, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ContentStore } from '../agent/content-store.js';
import { createAgent, type RunningAgent } from '../agent/create-agent.js';
import { ContentVerifier } from '../agent/verify.js';
import type { LocalManifest } from '../protocol/index.js';
import { registerDevice } from '../server/registry/devices-repo.js';
import { startTestServer, type TestServer, waitFor } from '../server/testing/test-server.js';
import { type AgentEnv, agentEnv, fixedHealth, item, silent } from './helpers/agent-fixture.js';

let cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => {});
  cleanups = [];
});

async function setup(deviceId: string): Promise<{ server: TestServer; env: AgentEnv }> {
  const server = await startTestServer();
  cleanups.push(() => server.stop());
  const env = await agentEnv(deviceId);
  cleanups.push(env.cleanup);
  registerDevice(server.db, { id: env.deviceId, secret: env.secret, siteId: 'gl-c-iadom' });
  return { server, env };
}

async function start(server: TestServer, env: AgentEnv, extra: Record<string, string> = {}): Promise<RunningAgent> {
  const agent = await createAgent(env.config(server.mqttUrl, { AGENT_SYNC_JITTER_S: '0', ...extra }), {
    log: silent,
    healthSource: fixedHealth(),
    syncRetryBaseMs: 60_000,
  });
  cleanups.push(() => agent.close());
  return agent;
}

const localManifest = async (agent: RunningAgent): Promise<LocalManifest> =>
  (await (await fetch(`http://127.0.0.1:${agent.kioskPort}/local/manifest`)).json()) as LocalManifest;
const localFile = async (agent: RunningAgent, sha: string): Promise<Buffer | null> => {
  const res = await fetch(`http://127.0.0.1:${agent.kioskPort}/local/files/${sha}`);
  return res.status === 200 ? Buffer.from(await res.arrayBuffer()) : null;
};
const events = (server: TestServer, deviceId: string, type: string) =>
  server.db.prepare('SELECT severity, message FROM device_events WHERE device_id = ? AND type = ?').all(deviceId, type) as Array<{
    severity: string;
    message: string;
  }>;
const healthSeqs = (server: TestServer, deviceId: string): number[] =>
  server.db.prepare('SELECT seq FROM health WHERE device_id = ? ORDER BY seq').pluck().all(deviceId) as number[];

describe('agent storage under field conditions', () => {
  it('sets a corrupt agent.db aside, rebuilds it, shows the content on disk at once and says so', async () => {
    const { server, env } = await setup('kiosk-field-db-1');
    const video = randomBytes(100_000);
    const f = env.api.addFile(video, 'video/mp4');
    env.api.publish(1, [item('v1', f)]);
    const first = await start(server, env);
    await first.enrolled();
    expect(await first.sync()).toMatchObject({ state: expect.stringMatching(/applied|unchanged/), seq: 1 });
    await waitFor(() => first.online(), 'first run online');
    for (let i = 0; i < 3; i++) await first.collectHealth();
    await waitFor(() => healthSeqs(server, env.deviceId).length === 3, 'first samples stored by the server');
    await first.close();

    // "file is not a database": what a torn write of the header or a bad eMMC block leaves behind.
    const dataDir = join(env.dir, 'data');
    await writeFile(join(dataDir, 'agent.db'), randomBytes(16_384));
    env.api.fail5xx = 1000; // and the server's content API is out of reach: the page must come from the disk alone
    const agent = await start(server, env);
    const lm = await localManifest(agent);
    expect(lm.seq).toBe(1);
    expect(lm.items.map((i) => i.id)).toEqual(['v1']);
    expect((await localFile(agent, f.sha256))?.equals(video)).toBe(true);
    const aside = (await readdir(dataDir)).filter((n) => n.startsWith('agent.db.corrupt-'));
    expect(aside).toHaveLength(1);

    await waitFor(() => agent.online(), 'second run online');
    await waitFor(() => events(server, env.deviceId, 'agent_db_rebuilt').length === 1, 'agent_db_rebuilt event stored');
    expect(events(server, env.deviceId, 'agent_db_rebuilt')[0]?.message).toContain(aside[0]);
    // Health goes on numbering after the lost DB's last seq: the server sees one series, no restart.
    await agent.collectHealth();
    await waitFor(() => healthSeqs(server, env.deviceId).length === 4, 'sample after the rebuild stored');
    expect(healthSeqs(server, env.deviceId)).toEqual([1, 2, 3, 4]);
    expect(events(server, env.deviceId, 'seq_restart')).toHaveLength(0);
  });

  it('serves the page from what was last verified before hashing anything', async () => {
    const { server, env } = await setup('kiosk-field-fast-1');
    const a = env.api.addFile(randomBytes(50_000), 'image/png');
    env.api.publish(1, [item('a', a)]);
    const first = await start(server, env);
    expect(await first.sync()).toMatchObject({ state: expect.stringMatching(/applied|unchanged/), seq: 1 });
    await first.close();
    // A large file in the store (sparse: no disk used). Hashing it at start would keep the page dark for seconds;
    // on a real kiosk's eMMC, for minutes.
    const big = join(env.dir, 'data', 'content', 'ab'.repeat(32));
    await writeFile(big, '');
    await truncate(big, 512 * 2 ** 20);

    const t0 = performance.now();
    env.api.fail5xx = 1000;
    const agent = await start(server, env);
    const lm = await localManifest(agent);
    const ms = performance.now() - t0;
    expect(lm.items.map((i) => i.id)).toEqual(['a']);
    expect(ms).toBeLessThan(2000);
  });

  it('finds bit rot after start (same size and mtime), quarantines the file and fetches it again', async () => {
    const { server, env } = await setup('kiosk-field-rot-1');
    const bytes = randomBytes(200_000);
    const f = env.api.addFile(bytes, 'video/mp4');
    env.api.publish(1, [item('v1', f)]);
    const agent = await start(server, env, { AGENT_VERIFY_INTERVAL_MS: '300' });
    expect(await agent.sync()).toMatchObject({ state: expect.stringMatching(/applied|unchanged/), seq: 1 });
    await waitFor(() => agent.online(), 'online');
    // A whole-second mtime (utimes cannot put back a finer one), taken in by the store's next check of the file.
    const path = join(env.dir, 'data', 'content', f.sha256);
    const mtime = Math.floor(Date.now() / 1000) - 60;
    await utimes(path, mtime, mtime);
    expect((await localFile(agent, f.sha256))?.equals(bytes)).toBe(true);
    const before = await stat(path);

    // One flipped bit, written in place; the mtime put back: size + mtime cannot see it.
    const buf = await readFile(path);
    buf[123_456] = (buf[123_456] ?? 0) ^ 0x01;
    await writeFile(path, buf);
    await utimes(path, mtime, mtime);
    expect((await stat(path)).mtimeMs).toBe(before.mtimeMs);
    expect((await stat(path)).size).toBe(before.size);

    await waitFor(() => events(server, env.deviceId, 'content_corrupted').length > 0, 'content_corrupted event', 15_000);
    // Fetched again: the kiosk serves the right bytes, and the bad copy sits in quarantine.
    await waitFor(async () => (await localFile(agent, f.sha256))?.equals(bytes), 'good copy served again', 15_000);
    expect((await readdir(join(env.dir, 'data', 'quarantine'))).some((n) => n.startsWith(f.sha256))).toBe(true);
    expect(env.api.bytesServed.get(f.sha256)).toBeGreaterThanOrEqual(2 * bytes.length);
  });

  it('on a 304, does not use a held target whose signature no longer verifies', async () => {
    const { server, env } = await setup('kiosk-field-304-1');
    const a = env.api.addFile(randomBytes(20_000), 'image/png');
    env.api.publish(1, [item('a', a)]);
    const agent = await start(server, env);
    expect(await agent.sync()).toMatchObject({ state: expect.stringMatching(/applied|unchanged/), seq: 1 });
    // Manifest 2 is accepted as the target, but its new file arrives damaged: not applied yet.
    const b = env.api.addFile(randomBytes(20_000), 'image/png');
    env.api.publish(2, [item('a', a), item('b', b)]);
    env.api.corrupt.set(b.sha256, randomBytes(20_000));
    expect((await agent.sync()).state).toBe('failed');

    // The held target edited on disk (another title), its signature and ETag left as they were: the server answers
    // 304 to that ETag, and only the signature can tell.
    const targetPath = join(env.dir, 'data', 'target.json');
    const held = JSON.parse(await readFile(targetPath, 'utf8')) as {
      signed: { manifest: { seq: number; items: Array<{ translations: { vi: { title: string } } }> } };
    };
    expect(held.signed.manifest.seq).toBe(2);
    for (const i of held.signed.manifest.items) i.translations.vi.title = 'Tin giả';
    await writeFile(targetPath, JSON.stringify(held));
    env.api.corrupt.delete(b.sha256);

    expect(await agent.sync()).toMatchObject({ state: 'applied', seq: 2 });
    const lm = await localManifest(agent);
    expect(lm.seq).toBe(2);
    expect(lm.items.map((i) => i.translations.vi?.title)).toEqual(['Tin a', 'Tin b']);
  });

  it('re-hashes in the background in chunks, no faster than the rate it is given', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'agent-verify-'));
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    const store = new ContentStore(dir);
    await store.init();
    const files = [randomBytes(1024 * 1024), randomBytes(1024 * 1024)];
    const names = files.map((b) => createHash('sha256').update(b).digest('hex'));
    await Promise.all(files.map((b, i) => writeFile(store.filePath(names[i] as string), b)));
    const verifier = new ContentVerifier({
      store,
      wanted: async () => names,
      intervalMs: 3_600_000,
      bytesPerSecond: 4 * 1024 * 1024,
      chunkBytes: 64 * 1024,
      log: silent,
      onBad: () => {},
    });
    cleanups.push(() => verifier.close());
    const result = await verifier.runPass();
    // 2 MiB at 4 MiB/s: at least half a second, however fast the disk.
    expect(result).toMatchObject({ checked: 2, bytes: 2 * 1024 * 1024, bad: [] });
    expect(result?.ms).toBeGreaterThanOrEqual(480);
    expect(names.every((n) => store.isKnownGood(n))).toBe(true);
  });
});
