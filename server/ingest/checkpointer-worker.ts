/**
 * The checkpointer thread (server/ingest/checkpointer.ts): its own connection to `fleet.db`, a PASSIVE checkpoint
 * every `intervalMs` — pages copied from the WAL into the database and both files fsynced here, not on the event
 * loop. PASSIVE never waits for a lock and never blocks the server's writers or readers. Once a checkpoint finds
 * `restartPages` or more in the WAL, the thread checkpoints once more unheld (what was appended meanwhile), then asks
 * the server to hold its commits, checkpoints again (only the few frames appended since), and says whether that one
 * copied every frame: then the server's next commit restarts the WAL.
 */

import { type MessagePort, parentPort, workerData } from 'node:worker_threads';
import BetterSqlite3 from 'better-sqlite3';
import type { CheckpointerData, FromCheckpointer, ToCheckpointer } from './checkpointer.js';

const { file, intervalMs, restartPages } = workerData as CheckpointerData;
if (!parentPort) throw new Error('checkpointer-worker.ts runs as a worker thread (server/ingest/checkpointer.ts)');
const port: MessagePort = parentPort;
const db = new BetterSqlite3(file, { fileMustExist: true });
// FULL: the checkpoint fsyncs the WAL before it copies and the database after, so a power cut mid-way loses nothing.
db.pragma('synchronous = FULL');
const checkpoint = db.prepare('PRAGMA wal_checkpoint(PASSIVE)');

// A checkpoint that fails (a full disk, an I/O error) is tried again at the next tick: SQLite records a checkpoint's
// progress only after the database's fsync returned, so a retry copies again every page the failed one wrote. The
// server hears of the first failure of a run and of the recovery, not of every tick.
let failing = false;
/** A hold was asked for and not yet answered with `restart-checkpointed`. */
let holding = false;

interface CheckpointResult {
  busy: number;
  log: number;
  checkpointed: number;
}
/** One PASSIVE checkpoint; null when it failed. */
function run(): CheckpointResult | null {
  try {
    const result = checkpoint.get() as CheckpointResult;
    if (failing) port.postMessage({ type: 'recovered' } satisfies FromCheckpointer);
    failing = false;
    return result;
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
    return null;
  }
}

const timer = setInterval(() => {
  const result = run();
  if (!holding && restartPages > 0 && result && result.log >= restartPages) {
    // First, without holding anything, the frames appended while that checkpoint ran (its copy and two fsyncs can
    // take 100 ms on a busy disk): the held one then has only this one's few ms of frames left to copy.
    if (run() === null) return;
    holding = true;
    port.postMessage({ type: 'restart-wanted', pages: result.log } satisfies FromCheckpointer);
  }
}, intervalMs);

port.on('message', (message: ToCheckpointer) => {
  if (message === 'held') {
    // The server commits nothing until it hears back: this checkpoint copies the frames appended since the last
    // one, and is complete (every frame in the database, fsynced) unless a reader still uses an older snapshot.
    const result = run();
    holding = false;
    port.postMessage({
      type: 'restart-checkpointed',
      complete: result !== null && result.busy === 0 && result.log === result.checkpointed,
    } satisfies FromCheckpointer);
    return;
  }
  if (message !== 'close') return;
  clearInterval(timer);
  db.close();
  port.postMessage({ type: 'closed' } satisfies FromCheckpointer);
  port.close();
});
port.postMessage({ type: 'ready' } satisfies FromCheckpointer);
