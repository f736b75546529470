import { fdatasync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { type Database, openDatabase } from '../db/open-database.js';
import { type GroupCommitOptions, GroupCommitWriter, IngestQueueFullError } from './group-commit.js';

const log = pino({ level: 'silent' });
let db: Database;
afterEach(() => db?.close());

function setup(options: GroupCommitOptions = { maxBatch: 100, maxDelayMs: 5, queueLimit: 1000 }) {
  db = openDatabase(':memory:');
  db.exec('CREATE TABLE t (k INTEGER PRIMARY KEY)');
  const batches: number[] = [];
  const writer = new GroupCommitWriter(db, options, log, { committed: (b) => batches.push(b.ops) });
  const insert = db.prepare('INSERT INTO t (k) VALUES (?)');
  const rows = () => db.prepare('SELECT count(*) FROM t').pluck().get() as number;
  return { writer, insert, rows, batches };
}

describe('GroupCommitWriter', () => {
  it('commits many submissions in one transaction and settles each only after the commit', async () => {
    const { writer, insert, rows, batches } = setup();
    let seenRowsAtResolve = -1;
    const first = writer
      .submit(1, () => insert.run(1))
      .then(() => {
        seenRowsAtResolve = rows();
      });
    const rest = Array.from({ length: 49 }, (_, i) => writer.submit(1, () => insert.run(i + 2)));
    expect(rows()).toBe(0); // nothing written before the flush
    await Promise.all([first, ...rest]);
    expect(seenRowsAtResolve).toBe(50);
    expect(batches).toEqual([50]);
  });

  it('rejects only the write that failed; the others in its batch commit', async () => {
    const { writer, insert, rows } = setup();
    const results = await Promise.allSettled([
      writer.submit(1, () => insert.run(1)),
      writer.submit(1, () => insert.run(1)), // primary key violation
      writer.submit(1, () => insert.run(2)),
    ]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect(rows()).toBe(2);
  });

  it('splits batches at maxBatch and holds submissions beyond queueLimit outside the queue until there is room', async () => {
    const { writer, insert, rows, batches } = setup({ maxBatch: 10, maxDelayMs: 1000, queueLimit: 20, waitingLimit: 30 });
    const all = Array.from({ length: 50 }, (_, i) => writer.submit(1, () => insert.run(i)));
    expect(writer.isFull).toBe(true);
    expect(writer.depth).toBe(50);
    await Promise.all(all);
    expect(rows()).toBe(50);
    expect(batches.every((n) => n <= 10)).toBe(true);
    expect(batches.reduce((a, b) => a + b, 0)).toBe(50);
    expect(writer.depth).toBe(0);
  });

  it('flushes what is queued on close and refuses writes afterwards', async () => {
    const { writer, insert, rows } = setup({ maxBatch: 100, maxDelayMs: 60_000, queueLimit: 1000 });
    const pending = writer.submit(3, () => insert.run(7));
    writer.close();
    await pending;
    expect(rows()).toBe(1);
    await expect(writer.submit(1, () => insert.run(8))).rejects.toThrow(/closed/);
  });

  it('holds every commit while a hold is open, the queue still bounded, and commits them at its release', async () => {
    const { writer, insert, rows, batches } = setup({ maxBatch: 10, maxDelayMs: 1, queueLimit: 20 });
    const release = writer.hold();
    const second = writer.hold();
    const all = Array.from({ length: 40 }, (_, i) => writer.submit(1, () => insert.run(i)));
    writer.flushNow(); // a flush asked for by hand waits too
    await new Promise((r) => setTimeout(r, 30));
    expect(rows()).toBe(0);
    expect(writer.isFull).toBe(true); // the broker stops reading devices meanwhile
    await expect(writer.submit(1, () => insert.run(99))).rejects.toBeInstanceOf(IngestQueueFullError);
    release();
    release(); // a second call does nothing: the other hold still stands
    await new Promise((r) => setTimeout(r, 30));
    expect(rows()).toBe(0);
    second();
    await Promise.all(all);
    expect(rows()).toBe(40);
    expect(batches.every((n) => n <= 10)).toBe(true);
  });

  it('commits on close what a hold still holds', async () => {
    const { writer, insert, rows } = setup();
    writer.hold();
    const pending = writer.submit(1, () => insert.run(1));
    writer.close();
    await pending;
    expect(rows()).toBe(1);
  });

  it('refuses at once what would wait beyond waitingLimit, so memory stays bounded whatever is submitted', async () => {
    const { writer, insert, rows } = setup({ maxBatch: 10, maxDelayMs: 1000, queueLimit: 20 });
    const results = await Promise.allSettled(Array.from({ length: 100 }, (_, i) => writer.submit(1, () => insert.run(i))));
    const refused = results.filter((r) => r.status === 'rejected');
    // 20 in the queue, 20 waiting (waitingLimit defaults to queueLimit), the other 60 refused without being held.
    expect(refused).toHaveLength(60);
    expect(refused.every((r) => (r as PromiseRejectedResult).reason instanceof IngestQueueFullError)).toBe(true);
    expect(rows()).toBe(40);
    expect(writer.depth).toBe(0);
    expect(writer.isFull).toBe(false);
  });
});

describe('GroupCommitWriter on a WAL database file: the fsync off the event loop', () => {
  let dir: string;
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  /** A file database, and an fdatasync the test releases by hand (the real one underneath). */
  function fileSetup(fail = false) {
    dir = mkdtempSync(join(tmpdir(), 'group-commit-'));
    db = openDatabase(join(dir, 'fleet.db'));
    db.exec('CREATE TABLE t (k INTEGER PRIMARY KEY)');
    const syncs: Array<() => void> = [];
    const failures: Error[] = [];
    const durable: number[] = [];
    const writer = new GroupCommitWriter(
      db,
      { maxBatch: 100, maxDelayMs: 1, queueLimit: 1000 },
      log,
      { committed: (b) => durable.push(b.ops), failed: (e) => failures.push(e) },
      {
        fdatasync: (fd, done) =>
          syncs.push(() =>
            fail ? done(Object.assign(new Error('EIO: i/o error, fdatasync'), { code: 'EIO' })) : fdatasync(fd, done),
          ),
      },
    );
    const insert = db.prepare('INSERT INTO t (k) VALUES (?)');
    const rows = () => db.prepare('SELECT count(*) FROM t').pluck().get() as number;
    return { writer, insert, rows, syncs, failures, durable };
  }
  const settled = (p: Promise<unknown>) =>
    Promise.race([
      p.then(
        () => 'resolved',
        () => 'rejected',
      ),
      new Promise((r) => setTimeout(() => r('pending'), 20)),
    ]);

  it('settles a batch only after its fsync returned, and commits the next batches meanwhile under one fsync', async () => {
    const { writer, insert, rows, syncs, durable } = fileSetup();
    const first = writer.submit(1, () => insert.run(1));
    writer.flushNow();
    expect(rows()).toBe(1); // committed (in the WAL) …
    expect(syncs).toHaveLength(1);
    expect(await settled(first)).toBe('pending'); // … but not acknowledged before its fsync
    // While that fsync is in flight the event loop goes on: two more batches commit and wait for the next fsync.
    const second = writer.submit(1, () => insert.run(2));
    writer.flushNow();
    const third = writer.submit(1, () => insert.run(3));
    writer.flushNow();
    expect(rows()).toBe(3);
    expect(syncs).toHaveLength(1);
    syncs.shift()?.();
    await first;
    expect(await settled(second)).toBe('pending');
    expect(syncs).toHaveLength(1); // one fsync for both batches committed meanwhile
    syncs.shift()?.();
    await Promise.all([second, third]);
    expect(durable).toEqual([1, 1, 1]);
    // The connection is back at FULL for every other writer (registry, commands: their commits fsync inline).
    expect(db.pragma('synchronous', { simple: true })).toBe(2);
  });

  it('refuses the batch of a failed fsync and every later write, and reports the failure once', async () => {
    const { writer, insert, syncs, failures } = fileSetup(true);
    const first = writer.submit(1, () => insert.run(1));
    writer.flushNow();
    const second = writer.submit(1, () => insert.run(2));
    writer.flushNow();
    syncs.shift()?.();
    await expect(first).rejects.toThrow(/fsync of the database's write-ahead log failed \(EIO/);
    await expect(second).rejects.toThrow(/fsync/);
    await expect(writer.submit(1, () => insert.run(3))).rejects.toThrow(/fsync/);
    expect(failures).toHaveLength(1);
    expect(syncs).toHaveLength(0); // never retried: a later fsync's success would prove nothing
  });

  it('fsyncs on close what is still waiting for its fsync, so shutdown acknowledges it', async () => {
    const { writer, insert, rows, syncs } = fileSetup();
    const first = writer.submit(1, () => insert.run(1));
    writer.flushNow();
    const second = writer.submit(1, () => insert.run(2)); // still queued
    expect(syncs).toHaveLength(1); // the first fsync never returns
    writer.close();
    await Promise.all([first, second]);
    expect(rows()).toBe(2);
  });
});
