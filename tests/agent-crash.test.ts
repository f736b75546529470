/**
 * SIGKILL of a real agent process (agent/main.ts via tsx) in the middle of a download and in the middle of queue writes:
 * after a restart the store and the queue are consistent and nothing is lost.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { HealthSample } from '../protocol/index.js';
import { type AgentEnv, agentEnv, item } from './helpers/agent-fixture.js';
import { startBroker, startCuttableProxy, startObserver, waitFor } from './helpers/agent-test-net.js';

let cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => {});
  cleanups = [];
});

async function spawnAgent(env: AgentEnv, mqttUrl: string, extra: Record<string, string> = {}): Promise<ChildProcess> {
  const configPath = join(env.dir, 'agent.json');
  await writeFile(configPath, JSON.stringify(env.fileConfig(mqttUrl)), { mode: 0o600 });
  const child = spawn(process.execPath, ['--import', 'tsx', 'agent/main.ts', '--config', configPath], {
    cwd: join(import.meta.dirname, '..'),
    env: {
      ...process.env,
      LOG_LEVEL: 'silent',
      AGENT_UI_DIR: join(env.dir, 'no-ui'),
      AGENT_RECONNECT_CAP_S: '1',
      // A restart here is the test's, not a fleet powering on at 07:00: no start-up jitter.
      AGENT_SYNC_JITTER_S: '0',
      ...extra,
    },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  cleanups.push(async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await exited;
  });
  return child;
}

async function kill(child: ChildProcess): Promise<void> {
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGKILL');
  await exited;
}

const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

async function currentSeq(dataDir: string): Promise<number> {
  try {
    return (JSON.parse(await readFile(join(dataDir, 'current.json'), 'utf8')) as { signed: { manifest: { seq: number } } }).signed
      .manifest.seq;
  } catch {
    return 0;
  }
}

describe('agent killed with SIGKILL', () => {
  it('during a download: the store holds only verified files, the old content stays current, and the restart resumes', async () => {
    const env = await agentEnv('kiosk-crash-1', 16 * 1024);
    const broker = await startBroker({ [env.deviceId]: env.secret });
    cleanups.push(env.cleanup, broker.close);
    const dataDir = join(env.dir, 'data');
    const small = env.api.addFile(randomBytes(10_000), 'image/png');
    env.api.publish(1, [item('a', small)]);
    let child = await spawnAgent(env, broker.url);
    await waitFor(async () => (await currentSeq(dataDir)) === 1, 'seq 1 applied', 20_000);

    const big = randomBytes(2 * 1024 * 1024);
    const bf = env.api.addFile(big, 'video/mp4');
    env.api.chunkDelayMs = 10;
    env.api.publish(2, [item('a', small), item('v', bf)]);
    await kill(child);
    child = await spawnAgent(env, broker.url);
    await waitFor(() => (env.api.bytesServed.get(bf.sha256) ?? 0) > big.length * 0.3, 'download under way', 30_000);
    await kill(child);

    // Consistent after the kill: only verified files in the store, the partial one in tmp, seq 1 still current.
    expect(await currentSeq(dataDir)).toBe(1);
    const stored = await readdir(join(dataDir, 'content'));
    for (const name of stored) expect(sha(await readFile(join(dataDir, 'content', name)))).toBe(name);
    expect(stored).not.toContain(bf.sha256);
    const part = await stat(join(dataDir, 'tmp', `${bf.sha256}.part`));
    expect(part.size).toBeGreaterThan(0);
    expect(part.size).toBeLessThan(big.length);
    const servedBefore = env.api.bytesServed.get(bf.sha256) ?? 0;

    env.api.chunkDelayMs = 0;
    await spawnAgent(env, broker.url);
    await waitFor(async () => (await currentSeq(dataDir)) === 2, 'seq 2 applied after restart', 30_000);
    expect(sha(await readFile(join(dataDir, 'content', bf.sha256)))).toBe(bf.sha256);
    const resumed = env.api.requests.filter((r) => r.path === `/files/${bf.sha256}` && r.range);
    expect(resumed.length).toBeGreaterThanOrEqual(1);
    // Resumed, not restarted: the second transfer is the rest of the file, not all of it again.
    expect((env.api.bytesServed.get(bf.sha256) ?? 0) - servedBefore).toBeLessThan(big.length);
  }, 180_000);

  it('during queue writes: the SQLite queue stays intact, seq strictly increasing, and every sample is delivered after restart', async () => {
    const env = await agentEnv('kiosk-crash-2');
    const broker = await startBroker({ [env.deviceId]: env.secret });
    const proxy = await startCuttableProxy(broker.port);
    const observer = await startObserver(broker.url);
    cleanups.push(env.cleanup, broker.close, proxy.close, observer.close);
    proxy.cut();
    const dbPath = join(env.dir, 'data', 'agent.db');
    const rows = (): Array<{ seq: number; sample: string }> => {
      const db = new Database(dbPath, { readonly: true, fileMustExist: true });
      try {
        return db.prepare('SELECT seq, sample FROM health_queue ORDER BY seq').all() as Array<{ seq: number; sample: string }>;
      } finally {
        db.close();
      }
    };
    const count = (): number => {
      try {
        return rows().length;
      } catch {
        return 0;
      }
    };
    let lastMax = 0;
    for (const target of [30, 80, 130]) {
      const child = await spawnAgent(env, proxy.url, { AGENT_HEALTH_INTERVAL_MS: '5' });
      await waitFor(() => count() >= target, `${target} samples queued`, 30_000);
      await kill(child);
      const db = new Database(dbPath);
      expect(db.pragma('integrity_check', { simple: true })).toBe('ok');
      const lastSeq = Number(
        (db.prepare("SELECT value FROM meta WHERE key = 'health.lastSeq'").get() as { value: string }).value,
      );
      db.close();
      const r = rows();
      const seqs = r.map((x) => x.seq);
      for (let i = 1; i < seqs.length; i++) expect(seqs[i]).toBe((seqs[i - 1] ?? 0) + 1);
      expect(seqs[0]).toBe(1);
      expect(lastSeq).toBe(seqs.at(-1));
      expect(lastSeq).toBeGreaterThan(lastMax);
      lastMax = lastSeq;
      for (const x of r) expect(HealthSample.safeParse(JSON.parse(x.sample)).success).toBe(true);
    }

    proxy.restore();
    const child = await spawnAgent(env, proxy.url, { AGENT_HEALTH_INTERVAL_S: '3600' });
    const received = (): Set<number> =>
      new Set(
        observer.messages
          .filter((m) => m.topic.endsWith('/health'))
          .flatMap((m) => (m.json as { samples: Array<{ seq: number }> }).samples.map((s) => s.seq)),
      );
    await waitFor(() => received().size >= lastMax, 'backlog delivered', 30_000);
    const got = [...received()].sort((a, b) => a - b);
    expect(got.slice(0, lastMax)).toEqual(Array.from({ length: lastMax }, (_, i) => i + 1));
    await waitFor(() => count() === 0, 'queue emptied on PUBACK');
    await kill(child);
  }, 180_000);
});
