/**
 * WAL checkpoints off the event loop (docs/server.md "Group commit", docs/performance.md).
 *
 * SQLite checkpoints a WAL database on the connection that commits, once the WAL reaches `wal_autocheckpoint`
 * pages (1 000 by default): copying those pages into `fleet.db` and fsyncing both files, inside the ingest's
 * COMMIT, on the event loop — at 10 000 samples/s three times a second, each a stall of two fsyncs. Here a worker
 * thread (checkpointer-worker.ts) with its own connection runs a PASSIVE checkpoint every `intervalMs`, and the
 * server's connection keeps a far higher autocheckpoint as the bound on the WAL's size: it finds the pages already
 * copied (PASSIVE never completes while writers append, so this is also what lets the WAL restart). A checkpoint that
 * fails (a full disk) is logged and tried again at the next interval; if the thread itself stops, the server's
 * connection goes back to SQLite's default and checkpoints as before.
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
}
export type FromCheckpointer =
  | { type: 'ready' }
  | { type: 'closed' }
  /** The checkpoints started failing (`code`: the SQLite code); the thread keeps trying every interval. */
  | { type: 'failed'; message: string; code: string }
  | { type: 'recovered' };

/** How often the thread checkpoints. */
export const CHECKPOINT_EVERY_MS = 1000;
/** The server connection's autocheckpoint while the thread runs (pages; ≈ 40 MB of WAL at 4 KiB pages). */
export const WAL_BOUND_PAGES = 10_000;
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

export interface CheckpointerOptions {
  intervalMs?: number;
  /** The checkpoints started failing (once a run of failures; counted in fleet_db_errors_total by the server). */
  failed?(code: string): void;
}

export async function startCheckpointer(db: Database, log: Logger, options: CheckpointerOptions = {}): Promise<Checkpointer> {
  const worker = spawn({ file: db.name, intervalMs: options.intervalMs ?? CHECKPOINT_EVERY_MS });
  let alive = true;
  const fallBack = (reason: string) => {
    if (!alive) return;
    alive = false;
    if (db.open) db.pragma(`wal_autocheckpoint = ${SQLITE_DEFAULT_AUTOCHECKPOINT}`);
    log.warn({ reason }, 'the checkpointer thread stopped: the server checkpoints on its own connection again');
  };
  const waiters: Array<(message: FromCheckpointer) => void> = [];
  worker.on('message', (message: FromCheckpointer) => {
    if (message.type === 'failed') {
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
      const exited = new Promise((resolve) => worker.once('exit', resolve));
      worker.postMessage('close');
      await exited;
      if (db.open) db.pragma(`wal_autocheckpoint = ${SQLITE_DEFAULT_AUTOCHECKPOINT}`);
    },
  };
}
