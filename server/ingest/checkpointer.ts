/**
 * WAL checkpoints off the event loop (docs/server.md "Group commit", docs/performance.md).
 *
 * SQLite checkpoints a WAL database on the connection that commits, once the WAL reaches `wal_autocheckpoint`
 * pages (1 000 by default): copying those pages into `fleet.db` and fsyncing both files, inside the ingest's
 * COMMIT, on the event loop — at 10 000 samples/s three times a second, each a stall of two fsyncs. Here a worker
 * thread (checkpointer-worker.ts) with its own connection runs a PASSIVE checkpoint every `intervalMs`.
 *
 * PASSIVE copies only the frames there were when it started, and SQLite restarts the WAL (writes from its start
 * again) only at a commit that finds every frame copied — never under a steady ingest, which appends while the
 * checkpoint runs. So once the WAL holds `restartPages`, the thread asks the group commit to hold its batches
 * (`GroupCommitWriter.hold`: the event loop goes on reading devices and sending PUBACKs, only commits wait),
 * checkpoints the few frames appended since, and answers; the held batches then commit and the first one restarts
 * the WAL. Before it asks, the thread runs one more checkpoint unheld, for the frames appended while the first ran,
 * so the held one copies only a few ms of frames: the hold lasts one small checkpoint (5–30 ms), at most
 * `holdLimitMs`; a reader on an older snapshot (a backup) makes it incomplete, and the WAL restarts at a later one.
 * Durability is SQLite's own: the restart is its own decision at BEGIN, made only when the checkpoint (at
 * `synchronous = FULL` here) fsynced the database before recording the frames as copied; each commit's frames are
 * fsynced before its PUBACK (wal-sync.ts) as ever.
 *
 * The server's connection keeps a far higher autocheckpoint, `WAL_BOUND_PAGES`, as the bound on the WAL's size
 * should the thread fall behind (then SQLite checkpoints inline, as before). A checkpoint that fails (a full disk)
 * is logged and tried again at the next interval; if the thread itself stops, the server's connection goes back to
 * SQLite's default and checkpoints as before.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { Logger } from 'pino';
import type { Database } from '../db/open-database.js';

export interface CheckpointerData {
  file: string;
  intervalMs: number;
  /** WAL pages from which the thread asks for a hold to restart the WAL; 0: never. */
  restartPages: number;
}
export type ToCheckpointer = 'close' | 'held';
export type FromCheckpointer =
  | { type: 'ready' }
  | { type: 'closed' }
  /** The WAL holds `pages`: hold the commits and answer 'held'. */
  | { type: 'restart-wanted'; pages: number }
  /** The checkpoint made while the commits were held; `complete`: every frame copied, the next commit restarts. */
  | { type: 'restart-checkpointed'; complete: boolean }
  /** The checkpoints started failing (`code`: the SQLite code); the thread keeps trying every interval. */
  | { type: 'failed'; message: string; code: string }
  | { type: 'recovered' };

/** How often the thread checkpoints. */
export const CHECKPOINT_EVERY_MS = 1000;
/**
 * WAL pages from which the commits are held for a checkpoint that lets the WAL restart (≈ 64 MB at 4 KiB pages).
 * Each hold costs the same (one small checkpoint), so a WAL that restarts rarely holds the commits rarely: at
 * 4 000 pages a 10 000-kiosk ingest restarted it every second (docs/performance.md).
 */
export const RESTART_AT_PAGES = 16_000;
/** The longest a hold lasts: past it the commits go on, and the WAL restarts at a later hold. */
export const HOLD_LIMIT_MS = 250;
/** The server connection's autocheckpoint while the thread runs (pages; ≈ 100 MB of WAL at 4 KiB pages). */
export const WAL_BOUND_PAGES = 25_000;
const SQLITE_DEFAULT_AUTOCHECKPOINT = 1000;

/** Starts the worker from the built `.mjs` next to this module in a release, else the TypeScript source through tsx. */
function spawn(workerData: CheckpointerData): Worker {
  const built = new URL('./checkpointer-worker.mjs', import.meta.url);
  if (existsSync(fileURLToPath(built))) return new Worker(built, { workerData });
  const source = new URL('./checkpointer-worker.ts', import.meta.url);
  const tsxDir = dirname(createRequire(import.meta.url).resolve('tsx/package.json'));
  const tsx = pathToFileURL(join(tsxDir, 'dist', 'esm', 'api', 'index.mjs')).href;
  const code = `import(${JSON.stringify(tsx)}).then((m) => { m.register(); return import(${JSON.stringify(source.href)}); });`;
  return new Worker(code, { eval: true, workerData });
}

export interface Checkpointer {
  close(): Promise<void>;
}

/** What the thread holds to restart the WAL: the group commit (group-commit.ts). */
export interface CommitHold {
  hold(): () => void;
}

export interface CheckpointerOptions {
  intervalMs?: number;
  /** Holds the commits for the checkpoint that lets the WAL restart; without it, the WAL restarts only when idle. */
  writer?: CommitHold;
  restartPages?: number;
  holdLimitMs?: number;
  /** A hold ended: `complete` when the next commit restarts the WAL, `heldMs` how long the commits waited. */
  held?(hold: { complete: boolean; heldMs: number }): void;
  /** The checkpoints started failing (once a run of failures; counted in fleet_db_errors_total by the server). */
  failed?(code: string): void;
}

export async function startCheckpointer(db: Database, log: Logger, options: CheckpointerOptions = {}): Promise<Checkpointer> {
  const worker = spawn({
    file: db.name,
    intervalMs: options.intervalMs ?? CHECKPOINT_EVERY_MS,
    restartPages: options.writer ? (options.restartPages ?? RESTART_AT_PAGES) : 0,
  });
  let alive = true;
  const fallBack = (reason: string) => {
    if (!alive) return;
    alive = false;
    endHold(false);
    if (db.open) db.pragma(`wal_autocheckpoint = ${SQLITE_DEFAULT_AUTOCHECKPOINT}`);
    log.warn({ reason }, 'the checkpointer thread stopped: the server checkpoints on its own connection again');
  };
  const waiters: Array<(message: FromCheckpointer) => void> = [];
  let hold: { release: () => void; since: number; limit: NodeJS.Timeout } | null = null;
  const endHold = (complete: boolean) => {
    if (!hold) return;
    clearTimeout(hold.limit);
    hold.release();
    options.held?.({ complete, heldMs: performance.now() - hold.since });
    hold = null;
  };
  worker.on('message', (message: FromCheckpointer) => {
    if (message.type === 'restart-wanted') {
      if (!hold && options.writer) {
        const limitMs = options.holdLimitMs ?? HOLD_LIMIT_MS;
        hold = { release: options.writer.hold(), since: performance.now(), limit: setTimeout(() => endHold(false), limitMs) };
      }
      // Commits run synchronously on this thread: none is under way while this handler runs.
      worker.postMessage('held' satisfies ToCheckpointer);
    } else if (message.type === 'restart-checkpointed') {
      endHold(message.complete);
    } else if (message.type === 'failed') {
      // The WAL grows meanwhile (the server's own autocheckpoint fails the same way); nothing acknowledged is at risk.
      log.error({ code: message.code, err: message.message }, 'checkpoint failed; tried again every interval');
      options.failed?.(message.code);
    } else if (message.type === 'recovered') {
      log.info('checkpoints succeed again');
    } else {
      for (const waiter of waiters.splice(0)) waiter(message);
    }
  });
  worker.on('error', (error) => fallBack(error.message));
  worker.on('exit', (code) => fallBack(`exited with ${code}`));
  const next = () => new Promise<FromCheckpointer>((resolve) => waiters.push(resolve));

  const ready = await Promise.race([next(), new Promise<null>((resolve) => worker.once('exit', () => resolve(null)))]);
  if (ready?.type === 'ready') db.pragma(`wal_autocheckpoint = ${WAL_BOUND_PAGES}`);

  return {
    async close() {
      if (!alive) return;
      alive = false;
      endHold(false);
      const exited = new Promise((resolve) => worker.once('exit', resolve));
      worker.postMessage('close' satisfies ToCheckpointer);
      await exited;
      if (db.open) db.pragma(`wal_autocheckpoint = ${SQLITE_DEFAULT_AUTOCHECKPOINT}`);
    },
  };
}
