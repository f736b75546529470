/**
 * A child for tests/ingest-wal-restart-kill.test.ts: the group commit and the checkpointer thread on `argv[2]`
 * (a SQLite file), the WAL restarted every few dozen pages, batches of 50 rows committed on every turn of the event
 * loop until the parent kills it. Prints `ack <first> <last>` once a batch is durable (its PUBACK, for a device) and
 * `restart` after each hold whose checkpoint completed.
 */
import { pino } from 'pino';
import { openDatabase } from '../../server/db/open-database.js';
import { startCheckpointer } from '../../server/ingest/checkpointer.js';
import { GroupCommitWriter } from '../../server/ingest/group-commit.js';

const file = process.argv[2] as string;
const db = openDatabase(file);
db.exec('CREATE TABLE IF NOT EXISTS t (k INTEGER PRIMARY KEY, device TEXT NOT NULL, body TEXT NOT NULL)');
db.exec('CREATE INDEX IF NOT EXISTS t_device ON t (device, k)');
const log = pino({ level: 'warn' }, pino.destination(2));
const writer = new GroupCommitWriter(db, { maxBatch: 50, maxDelayMs: 1, queueLimit: 500 }, log);
await startCheckpointer(db, log, {
  writer,
  intervalMs: 10,
  restartPages: 64,
  held: ({ complete }) => complete && process.stdout.write('restart\n'),
});
const insert = db.prepare('INSERT INTO t (k, device, body) VALUES (?, ?, ?)');
let next = ((db.prepare('SELECT max(k) FROM t').pluck().get() as number | null) ?? 0) + 1;
for (;;) {
  while (writer.isFull) await new Promise((r) => setImmediate(r));
  const first = next;
  const batch: Array<Promise<void>> = [];
  for (let i = 0; i < 50; i++) {
    const k = next++;
    batch.push(writer.submit(1, () => insert.run(k, `device-${(k * 7919) % 2000}`, 'x'.repeat(200))));
  }
  const last = next - 1;
  void Promise.all(batch).then(() => process.stdout.write(`ack ${first} ${last}\n`));
  await new Promise((r) => setImmediate(r));
}
