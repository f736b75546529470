/**
 * The group commit's fsync, off the event loop (DESIGN §5, docs/performance.md "Durable commits").
 *
 * In WAL mode a commit is durable once its frames in `<db>-wal` are on disk. With `synchronous = FULL` SQLite
 * fsyncs the WAL inside COMMIT, on the calling thread — for better-sqlite3 the event loop, which then reads and
 * acknowledges nothing for the 3–7 ms of each fsync. The ingest writer therefore commits its batches with
 * `synchronous = NORMAL` (the frames reach the page cache; checkpoints still fsync the WAL before copying and the
 * database after, so the file stays consistent) and makes them durable itself: `fdatasync` of the WAL file on
 * libuv's thread pool, and only when it returned are the batch's writes settled (and their PUBACKs sent).
 * fsync works on the inode, whichever descriptor names it, so ours covers the frames SQLite wrote through its own.
 *
 * Syncs are grouped too: while one is in flight, batches that commit meanwhile wait for the next, which starts
 * when the first returns and covers all of them. The WAL file is never replaced while the server's connection is
 * open (SQLite truncates or rewinds it, same inode), so one descriptor serves the server's life.
 *
 * A failed fsync is not retried: after an I/O error the kernel may have dropped the dirty pages while marking them
 * clean, so a later fsync's success would prove nothing ("fsyncgate"). The writers of that sync are refused and so
 * is every later request; the owner stops the process, and on restart SQLite reads back what is really on disk.
 */
import { closeSync, fdatasync, fdatasyncSync, fsyncSync, openSync } from 'node:fs';
import { dirname } from 'node:path';

export type SyncDone = (error: Error | null) => void;

export interface WalSyncOptions {
  /** The fsync to use; tests pass one that fails. Default: node:fs `fdatasync`. */
  fdatasync?: (fd: number, done: (error: NodeJS.ErrnoException | null) => void) => void;
}

export class WalSyncError extends Error {
  constructor(cause: Error) {
    super(`fsync of the database's write-ahead log failed (${cause.message}): nothing more is acknowledged`, { cause });
    this.name = 'WalSyncError';
  }
}

export class WalSync {
  private fd: number | null = null;
  private inFlight: SyncDone[] | null = null;
  private next: SyncDone[] = [];
  private failure: WalSyncError | null = null;
  private closed = false;
  private readonly sync: NonNullable<WalSyncOptions['fdatasync']>;

  constructor(
    private readonly walPath: string,
    options: WalSyncOptions = {},
  ) {
    this.sync = options.fdatasync ?? fdatasync;
  }

  /** The WAL of the database file `file` (as `db.name` gives it). */
  static forDatabase(file: string, options?: WalSyncOptions): WalSync {
    return new WalSync(`${file}-wal`, options);
  }

  /** Set once an fsync failed: every later request is refused with it. */
  get failed(): WalSyncError | null {
    return this.failure;
  }

  /** Calls `done` once everything written to the WAL before this call is on disk (or with the error). */
  whenDurable(done: SyncDone): void {
    if (this.failure || this.closed) {
      done(this.failure ?? new Error('the WAL sync is closed'));
      return;
    }
    this.next.push(done);
    if (!this.inFlight) this.start();
  }

  private descriptor(): number {
    if (this.fd === null) {
      this.fd = openSync(this.walPath, 'r');
      // The WAL's directory entry must be durable too: SQLite syncs the directory at the first sync of a WAL it
      // created, which with NORMAL commits could be a checkpoint minutes later. Once per server start.
      const dir = openSync(dirname(this.walPath), 'r');
      try {
        fsyncSync(dir);
      } finally {
        closeSync(dir);
      }
    }
    return this.fd;
  }

  private start(): void {
    const waiting = this.next;
    this.next = [];
    this.inFlight = waiting;
    let fd: number;
    try {
      fd = this.descriptor();
    } catch (error) {
      this.finish(waiting, error as Error);
      return;
    }
    this.sync(fd, (error) => this.finish(waiting, error));
  }

  private finish(waiting: SyncDone[], error: Error | null): void {
    if (this.inFlight !== waiting) return; // settled already by syncNow (close)
    this.inFlight = null;
    if (error && !this.failure) this.failure = new WalSyncError(error);
    for (const done of waiting) done(this.failure);
    if (this.next.length > 0) {
      if (this.failure) this.settleAll(this.failure);
      else if (!this.closed) this.start();
    }
  }

  private settleAll(error: Error | null): void {
    const waiting = [...(this.inFlight ?? []), ...this.next];
    this.inFlight = null;
    this.next = [];
    for (const done of waiting) done(error);
  }

  /** Syncs now, on this thread, and settles everything waiting (shutdown: the last PUBACKs before the sockets go). */
  syncNow(): void {
    if (this.failure || (!this.inFlight && this.next.length === 0)) return;
    try {
      fdatasyncSync(this.descriptor());
    } catch (error) {
      this.failure = new WalSyncError(error as Error);
    }
    this.settleAll(this.failure);
  }

  /** Syncs what is waiting, then refuses further requests and releases the descriptor. */
  close(): void {
    this.syncNow();
    this.closed = true;
    if (this.fd !== null) {
      closeSync(this.fd);
      this.fd = null;
    }
  }
}
