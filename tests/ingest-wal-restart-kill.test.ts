/**
 * SIGKILL while the checkpointer thread restarts the WAL (server/ingest/checkpointer.ts): a child process
 * (tests/helpers/wal-restart-writer.ts) commits batches on a real SQLite file with the WAL restarted every few dozen
 * pages, and is killed at a random moment once several restarts happened — five times over the same file. After
 * each kill the file must pass `PRAGMA integrity_check` and hold every row the child had reported durable.
 * A SIGKILL keeps what reached the page cache, so this checks the hold, the restart and the recovery's logic under a
 * crash at any moment, not a power cut (which nothing here can simulate; docs/server.md gives the argument).
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { afterAll, expect, it } from 'vitest';

const ROUNDS = 5;
const RESTARTS_BEFORE_KILL = 3;
const dir = mkdtempSync(join(tmpdir(), 'wal-restart-kill-'));
const file = join(dir, 'fleet.db');
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Runs the writer until `restarts` restarts, then kills it `delayMs` later; resolves with the acknowledged ranges. */
function runAndKill(delayMs: number): Promise<{ acked: Array<[number, number]>; restarts: number }> {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', join(import.meta.dirname, 'helpers', 'wal-restart-writer.ts'), file],
    {
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  const acked: Array<[number, number]> = [];
  let restarts = 0;
  let rest = '';
  return new Promise((resolve, reject) => {
    const bound = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`the writer made ${restarts} restarts in 30 s`));
    }, 30_000);
    child.stdout.on('data', (chunk: Buffer) => {
      const lines = (rest + chunk.toString()).split('\n');
      rest = lines.pop() ?? '';
      for (const line of lines) {
        const ack = /^ack (\d+) (\d+)$/.exec(line);
        if (ack) acked.push([Number(ack[1]), Number(ack[2])]);
        else if (line === 'restart' && ++restarts === RESTARTS_BEFORE_KILL) setTimeout(() => child.kill('SIGKILL'), delayMs);
      }
    });
    child.on('exit', (code, signal) => {
      clearTimeout(bound);
      if (signal === 'SIGKILL') resolve({ acked, restarts });
      else reject(new Error(`the writer exited with ${code ?? signal} before it was killed`));
    });
  });
}

it(`keeps every acknowledged row and a sound file across ${ROUNDS} SIGKILLs during WAL restarts`, async () => {
  let ackedRows = 0;
  for (let round = 1; round <= ROUNDS; round++) {
    const delayMs = Math.floor(Math.random() * 60);
    const { acked, restarts } = await runAndKill(delayMs);
    const db = new BetterSqlite3(file);
    try {
      expect(db.pragma('integrity_check', { simple: true }), `round ${round}, killed ${delayMs} ms after a restart`).toBe('ok');
      const has = db.prepare('SELECT count(*) FROM t WHERE k BETWEEN ? AND ?').pluck();
      const missing = acked.filter(([a, b]) => has.get(a, b) !== b - a + 1);
      expect(missing, `round ${round}: acknowledged ranges missing (killed ${delayMs} ms after restart ${restarts})`).toEqual([]);
      ackedRows += acked.reduce((s, [a, b]) => s + b - a + 1, 0);
      expect(acked.length).toBeGreaterThan(0);
    } finally {
      db.close();
    }
  }
  expect(ackedRows).toBeGreaterThan(ROUNDS * 50);
}, 120_000);
