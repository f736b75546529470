/**
 * The checkpointer thread (server/ingest/checkpointer.ts): its own connection to `fleet.db`, a PASSIVE checkpoint
 * every `intervalMs` — pages copied from the WAL into the database and both files fsynced here, not on the event
 * loop. PASSIVE never waits for a lock and never blocks the server's writers or readers.
 */

import { parentPort, workerData } from 'node:worker_threads';
import BetterSqlite3 from 'better-sqlite3';
import type { CheckpointerData, FromCheckpointer } from './checkpointer.js';

const { file, intervalMs } = workerData as CheckpointerData;
const port = parentPort;
if (!port) throw new Error('checkpointer-worker.ts runs as a worker thread (server/ingest/checkpointer.ts)');
const db = new BetterSqlite3(file, { fileMustExist: true });
// FULL: the checkpoint fsyncs the WAL before it copies and the database after, so a power cut mid-way loses nothing.
db.pragma('synchronous = FULL');
const checkpoint = db.prepare('PRAGMA wal_checkpoint(PASSIVE)');

// A checkpoint that fails (a full disk, an I/O error) is tried again at the next tick: SQLite records a checkpoint's
// progress only after the database's fsync returned, so a retry copies again every page the failed one wrote. The
// server hears of the first failure of a run and of the recovery, not of every tick.
let failing = false;
const timer = setInterval(() => {
  try {
    checkpoint.get();
    if (failing) port.postMessage({ type: 'recovered' } satisfies FromCheckpointer);
    failing = false;
  } catch (error) {
    if (!failing) {
      const code = (error as { code?: unknown }).code;
      port.postMessage({
        type: 'failed',
        message: (error as Error).message,
        code: typeof code === 'string' ? code : 'other',
      } satisfies FromCheckpointer);
    }
    failing = true;
  }
}, intervalMs);

port.on('message', (message: 'close') => {
  if (message !== 'close') return;
  clearInterval(timer);
  db.close();
  port.postMessage({ type: 'closed' } satisfies FromCheckpointer);
  port.close();
});
port.postMessage({ type: 'ready' } satisfies FromCheckpointer);
