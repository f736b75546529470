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
