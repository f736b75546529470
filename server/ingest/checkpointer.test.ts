/**
 * The checkpointer thread restarts the WAL under a steady ingest (checkpointer.ts): a real SQLite file in WAL mode
 * at synchronous FULL, the real worker thread, the group commit with its fdatasync on the thread pool, and batches
 * committed on every turn of the event loop. Without the hold, SQLite restarts the WAL only when a checkpoint found
 * every frame copied — never while commits keep appending — and otherwise at the server connection's own
 * autocheckpoint, on the event loop, inside a COMMIT (the stalls docs/performance.md counts).
 */
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { type Database, openDatabase } from '../db/open-database.js';
import { type Checkpointer, startCheckpointer, WAL_BOUND_PAGES } from './checkpointer.js';
import { GroupCommitWriter } from './group-commit.js';

const log = pino({ level: 'silent' });
const RESTART_PAGES = 64;
/**
 * The WAL stays below this with the hold; without it, the same ingest grows it to the bound (the control test).
 * Between two holds it grows by what is committed while the unheld checkpoints run: 2 700–4 900 pages at most
 * here with a build running beside it, 7 000–8 400 with three `dd oflag=sync` writers on the same disk.
 */
const SMALL_WAL_PAGES = WAL_BOUND_PAGES / 2;

let dir: string;
let db: Database;
let frameBytes: number;
let checkpointer: Checkpointer | null = null;
afterEach(async () => {
  await checkpointer?.close();
  checkpointer = null;
  db?.close();
  rmSync(dir, { recursive: true, force: true });
});

async function setup(hold = true) {
  dir = mkdtempSync(join(tmpdir(), 'checkpointer-'));
  db = openDatabase(join(dir, 'fleet.db'));
  /** A WAL frame: a page and its 24-byte header. */
  frameBytes = (db.pragma('page_size', { simple: true }) as number) + 24;
  // Rows spread over an index, as health rows are over devices: each batch dirties many pages.
  db.exec(
    'CREATE TABLE t (k INTEGER PRIMARY KEY, device TEXT NOT NULL, body TEXT NOT NULL); CREATE INDEX t_device ON t (device, k)',
  );
  const writer = new GroupCommitWriter(db, { maxBatch: 50, maxDelayMs: 1, queueLimit: 500 }, log);
  const holds: Array<{ complete: boolean; heldMs: number }> = [];
  checkpointer = await startCheckpointer(db, log, {
    writer: hold ? writer : undefined,
    intervalMs: 20,
    restartPages: RESTART_PAGES,
    // Under test is the restart, not the disk: on a machine busy with other fsyncs a held checkpoint can outlast
    // the server's 250 ms limit every time, and then the WAL restarts only at its bound (as designed).
    holdLimitMs: 60_000,
    held: (hold) => holds.push(hold),
  });
  const insert = db.prepare('INSERT INTO t (k, device, body) VALUES (?, ?, ?)');
  let next = 0;
  /** Submits `batches` batches of 50 rows, one batch per turn of the event loop, each awaited only at the end. */
  const ingest = async (batches: number, walBytes: number[]) => {
    const acknowledged: Array<Promise<void>> = [];
    for (let b = 0; b < batches; b++) {
      // As the broker does: no more reading while the queue is full.
      while (writer.isFull) await new Promise((r) => setImmediate(r));
      for (let i = 0; i < 50; i++) {
        const k = next++;
        acknowledged.push(writer.submit(1, () => insert.run(k, `device-${(k * 7919) % 2000}`, 'x'.repeat(200))));
      }
      await new Promise((r) => setImmediate(r));
      walBytes.push(statSync(join(dir, 'fleet.db-wal')).size);
    }
    await Promise.all(acknowledged);
    return next;
  };
  const rows = () => db.prepare('SELECT count(*) FROM t').pluck().get() as number;
  return { writer, holds, ingest, rows };
}

describe('the checkpointer thread under a steady ingest', () => {
  it('holds the commits for a checkpoint, and the WAL restarts far below the connection’s own bound', async () => {
    const { holds, ingest, rows } = await setup();
    expect(db.pragma('wal_autocheckpoint', { simple: true })).toBe(WAL_BOUND_PAGES);
    const walBytes: number[] = [];
    const written = await ingest(1500, walBytes);
    expect(rows()).toBe(written);
    const complete = holds.filter((h) => h.complete);
    expect(complete.length, `holds: ${JSON.stringify(holds.slice(0, 5))}`).toBeGreaterThanOrEqual(3);
    // No reader, so every hold's checkpoint copied every frame (how long a hold lasts: docs/performance.md).
    expect(holds.every((h) => h.complete)).toBe(true);
    // The WAL file never shrinks (SQLite rewinds it): its largest size is the most frames it ever held.
    expect(Math.max(...walBytes) / frameBytes, 'WAL pages at most').toBeLessThan(SMALL_WAL_PAGES);
  }, 60_000);

  it('(the control: without the hold the same ingest grows the WAL past that, the checkpoints never complete)', async () => {
    const { holds, ingest } = await setup(false);
    const walBytes: number[] = [];
    await ingest(1500, walBytes);
    expect(holds).toEqual([]);
    // It restarted only at the connection's own bound: an autocheckpoint inside a COMMIT, on the event loop.
    expect(Math.max(...walBytes) / frameBytes).toBeGreaterThanOrEqual(WAL_BOUND_PAGES);
  }, 60_000);

  it('lets the commits go on while a reader keeps the WAL from restarting, and restarts once it is gone', async () => {
    const { holds, ingest, rows } = await setup();
    // A reader on an old snapshot (as a backup is): no checkpoint can copy the frames it may still need.
    const reader = new BetterSqlite3(join(dir, 'fleet.db'), { readonly: true });
    reader.exec('BEGIN');
    expect(reader.prepare('SELECT count(*) FROM t').pluck().get()).toBe(0);
    const walBytes: number[] = [];
    await ingest(600, walBytes);
    expect(holds.length).toBeGreaterThan(0);
    expect(holds.every((h) => !h.complete)).toBe(true);
    const grownTo = Math.max(...walBytes);
    expect(reader.prepare('SELECT count(*) FROM t').pluck().get()).toBe(0); // its snapshot intact
    reader.exec('COMMIT');
    reader.close();

    const after: number[] = [];
    const written = await ingest(1500, after);
    expect(rows()).toBe(written);
    expect(holds.some((h) => h.complete)).toBe(true);
    // Without a restart the WAL would grow by as much again and more; it grew by less than one restart's worth.
    expect(Math.max(...after) - grownTo, 'WAL bytes added after the reader left').toBeLessThan(SMALL_WAL_PAGES * frameBytes);
  }, 60_000);
});
