/**
 * DESIGN §5, issue 18: neither the group commit's fsync nor the WAL's checkpoints run on the event loop. The
 * real server (tsx server/main.ts, a SQLite file in WAL mode at synchronous FULL) runs under strace, devices
 * publish QoS 1 health over mqtt.js, and every fsync/fdatasync of `fleet.db-wal` and every write or fsync of
 * `fleet.db` (a checkpoint copying pages) made while the samples were acknowledged is counted by the thread that
 * made it: none may be the main thread (the one that executed node), some must be made by others (libuv's thread
 * pool, the checkpointer thread) — and every sample acknowledged is in the database. Before, SQLite fsynced the
 * WAL inside COMMIT, on the main thread, once per batch, and checkpointed there every 1 000 pages.
 *
 * Needs strace (Debian's package, installed by tools/ensure-system-packages.sh) and ptrace: skipped with the
 * reason otherwise.
 */
import { type ChildProcess, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { topics } from '../protocol/index.js';
import { openDatabase } from '../server/db/open-database.js';
import { seedReferenceData } from '../server/db/seed.js';
import { CHECKPOINT_EVERY_MS } from '../server/ingest/checkpointer.js';
import { registerDevice } from '../server/registry/devices-repo.js';
import { connectDevice, healthSample } from '../server/testing/test-server.js';
import { startServerProcess } from './helpers/server-process.js';

const ROUNDS = 250;
const straceMissing = spawnSync('strace', ['-V']).error ? 'strace is not installed' : null;
const dataDir = mkdtempSync(join(tmpdir(), 'fleet-fsync-'));
const traceFile = join(dataDir, 'strace.txt');
let child: ChildProcess | null = null;

afterAll(() => {
  if (child && child.exitCode === null) child.kill('SIGKILL');
  rmSync(dataDir, { recursive: true, force: true });
});

async function startTracedServer(): Promise<string> {
  const started = await startServerProcess({
    dataDir,
    adminPassword: 'fsync-test-admin',
    timeoutMs: 60_000,
    // -f: every thread; -y: the path of each descriptor; -ttt: wall-clock time of each call, to cut the window.
    wrap: (argv) => [
      'strace',
      ['-f', '--seccomp-bpf', '-qq', '-y', '-ttt', '-e', 'trace=execve,fsync,fdatasync,pwrite64', '-o', traceFile, ...argv],
    ],
  });
  child = started.child;
  return started.mqttUrl;
}

describe.skipIf(straceMissing)(
  `the ingest fsync off the event loop${straceMissing ? ` (skipped: ${straceMissing})` : ''}`,
  () => {
    it('acknowledges health with the WAL fsynced by the thread pool, never by the main thread', async () => {
      const setup = openDatabase(join(dataDir, 'fleet.db'));
      seedReferenceData(setup);
      const ids = Array.from({ length: 8 }, (_, i) => `fsync-${i}`);
      for (const id of ids) registerDevice(setup, { id, secret: `secret-${id}-0123456789`, siteId: 'gl-c-iao' });
      setup.close();

      const url = await startTracedServer();
      const clients = await Promise.all(ids.map((id) => connectDevice(url, id, `secret-${id}-0123456789`)));
      // The presence writes of the connects (their own transactions, fsynced inline at FULL) come first.
      await new Promise((r) => setTimeout(r, 500));
      const from = Date.now() / 1000;
      // 8 devices × 250 QoS 1 publishes, each round after the last one's PUBACKs: hundreds of group commits, each
      // acknowledged only once durable, and more than 1 000 WAL pages (SQLite's own checkpoint threshold).
      const T0 = Date.now();
      for (let seq = 1; seq <= ROUNDS; seq++) {
        await Promise.all(
          clients.map((client, i) =>
            client.publishAsync(topics.health(ids[i] as string), JSON.stringify({ samples: [healthSample(seq, T0 + seq)] }), {
              qos: 1,
            }),
          ),
        );
      }
      const to = Date.now() / 1000;
      for (const client of clients) await client.endAsync();
      // The node process's main thread is the one that executed node (strace's own child); stop it, not strace
      // (strace would detach and leave the server running).
      const mainThread = () =>
        readFileSync(traceFile, 'utf8')
          .split('\n')
          .find((l) => /execve\(/.test(l) && / = 0$/.test(l))
          ?.split(/\s+/)[0];
      const main = mainThread();
      expect(main, 'the main thread in the trace').toBeTruthy();
      const exited = new Promise((r) => child?.once('exit', r));
      process.kill(Number(main), 'SIGTERM');
      await exited;

      const check = openDatabase(join(dataDir, 'fleet.db'));
      expect(check.prepare('SELECT count(*) FROM health').pluck().get()).toBe(ids.length * ROUNDS);
      check.close();

      const lines = readFileSync(traceFile, 'utf8').split('\n');
      const calls = lines
        .map((l) => /^(\d+)\s+([\d.]+)\s+(fsync|fdatasync|pwrite64)\(\d+<([^>]+)>.*\)\s+= \d+/.exec(l))
        .filter((m): m is RegExpExecArray => m !== null && Number(m[2]) >= from && Number(m[2]) <= to)
        .map((m) => ({ line: m[0], thread: m[1], call: m[3] as string, file: m[4] as string }));
      const walSyncs = calls.filter((c) => c.call !== 'pwrite64' && c.file.endsWith('fleet.db-wal'));
      const dbWrites = calls.filter((c) => c.file.endsWith('/fleet.db'));
      const byOthers = (list: typeof calls) => list.filter((c) => c.thread !== main).length;
      const byMain = (list: typeof calls) => list.filter((c) => c.thread === main).map((c) => c.line);
      expect(byOthers(walSyncs), 'WAL fsyncs made off the main thread while the samples were acknowledged').toBeGreaterThan(0);
      // What the main thread may still fsync: the WAL's header when a writer restarts the WAL after a complete
      // checkpoint (SQLite syncs it so new frames cannot be mistaken for old ones) — at most once per checkpoint.
      const restartsBound = Math.ceil(((to - from) * 1000) / CHECKPOINT_EVERY_MS) + 1;
      expect(byMain(walSyncs).length, 'WAL fsyncs made by the main thread (the event loop) while ingesting').toBeLessThanOrEqual(
        restartsBound,
      );
      expect(byOthers(walSyncs)).toBeGreaterThan(10 * restartsBound);
      expect(byOthers(dbWrites), 'checkpoint writes and fsyncs of fleet.db made by the checkpointer thread').toBeGreaterThan(0);
      expect(byMain(dbWrites).slice(0, 5), 'checkpoint writes or fsyncs of fleet.db on the main thread').toEqual([]);
    }, 120_000);
  },
);
