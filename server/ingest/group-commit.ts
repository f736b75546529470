/**
 * Group commit (DESIGN §5, shared/PERFORMANCE.md): writes from many device messages are gathered and
 * committed in one transaction, every `maxDelayMs` or `maxBatch` units of weight (health samples). Each
 * submitter's promise settles only after the transaction holding its write committed, which is when the
 * broker may acknowledge the message. Memory is bounded twice: past `queueLimit` units, submissions wait
 * outside the queue (their publishes stay unacknowledged, and the broker stops reading device sockets while
 * `isFull`) until commits make room; and past `waitingLimit` units waiting, `submit` refuses at once with
 * `IngestQueueFullError` instead of holding ever more unwritten data.
 *
 * On a database file in WAL mode with `synchronous = FULL` the batch commits with `synchronous = NORMAL` and its
 * fsync runs on the thread pool (wal-sync.ts): the event loop goes on reading devices and writing the next batch
 * meanwhile, and the batch's writes settle when the fsync returned. An in-memory database commits inline.
 */
import type { Logger } from 'pino';
import type { Database } from '../db/open-database.js';
import { WalSync, type WalSyncOptions } from './wal-sync.js';

export interface GroupCommitOptions {
  maxBatch: number;
  maxDelayMs: number;
  queueLimit: number;
  /** Units that may wait outside the full queue; beyond, `submit` rejects with IngestQueueFullError. Default: queueLimit. */
  waitingLimit?: number;
}

/** `submit` refused because the queue and its waiting room are full: the write was not made, retry later. */
export class IngestQueueFullError extends Error {
  constructor(readonly depth: number) {
    super(`the ingest queue is full (${depth} units waiting for a commit)`);
    this.name = 'IngestQueueFullError';
  }
}

export interface CommitObserver {
  /** A batch is durable: `durationMs` from the start of its transaction to the end of its fsync. */
  committed(batch: { ops: number; weight: number; durationMs: number }): void;
  /** The WAL's fsync failed: nothing more is acknowledged; the owner should stop the process (wal-sync.ts). */
  failed?(error: Error): void;
}

interface Entry {
  weight: number;
  write: () => void;
  resolve: () => void;
  reject: (error: Error) => void;
}

export class GroupCommitWriter {
  private pending: Entry[] = [];
  private pendingWeight = 0;
  private readonly waiting: Entry[] = [];
  private waitingWeight = 0;
  private timer: NodeJS.Timeout | null = null;
  private immediate: NodeJS.Immediate | null = null;
  private closed = false;
  /** Open holds (`hold`): while any, no batch commits. */
  private holds = 0;
  private syncFailureReported = false;
  private readonly runOne: (write: () => void) => void;
  private readonly runBatch: (entries: Entry[]) => Array<Error | null>;
  /** Set when commits are fsynced off the event loop (a WAL database file at synchronous FULL). */
  private readonly walSync: WalSync | null = null;
  private readonly relaxSync: (() => void) | null = null;
  private readonly restoreSync: (() => void) | null = null;

  constructor(
    db: Database,
    private readonly options: GroupCommitOptions,
    private readonly log: Logger,
    private readonly observer: CommitObserver = { committed: () => {} },
    syncOptions?: WalSyncOptions,
  ) {
    const synchronous = db.pragma('synchronous', { simple: true }) as number;
    const journal = db.pragma('journal_mode', { simple: true }) as string;
    if (!db.memory && journal === 'wal' && synchronous >= 2) {
      this.walSync = WalSync.forDatabase(db.name, syncOptions);
      const relax = db.prepare('PRAGMA synchronous = NORMAL');
      const restore = db.prepare(`PRAGMA synchronous = ${synchronous}`);
      this.relaxSync = () => relax.run();
      this.restoreSync = () => restore.run();
    }
    // Inside the batch, each write runs in its own savepoint: one failing write (say, a row for a device
    // deleted meanwhile) is rolled back alone and reported to its submitter, the rest still commit.
    this.runOne = db.transaction((write: () => void) => write());
    this.runBatch = db.transaction((entries: Entry[]) =>
      entries.map((entry) => {
        try {
          this.runOne(entry.write);
          return null;
        } catch (error) {
          return error as Error;
        }
      }),
    );
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** Units of weight waiting for a commit (inside the bounded queue plus those waiting to enter it). */
  get depth(): number {
    return this.pendingWeight + this.waitingWeight;
  }

  /** The queue is at its limit: new writes would wait outside it. The broker stops reading devices meanwhile. */
  get isFull(): boolean {
    return this.depth >= this.options.queueLimit;
  }

  /**
   * Holds the commits until the returned function is called (once; later calls do nothing). Submissions queue
   * meanwhile, bounded as always; `close` commits regardless. The checkpointer thread asks for this to complete a
   * checkpoint while no batch appends to the WAL, so that the next commit restarts it (checkpointer.ts).
   */
  hold(): () => void {
    this.holds++;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.holds--;
      this.schedule();
    };
  }

  /** Queues `write` (synchronous SQL) for the next group commit; resolves once it is committed. */
  submit(weight: number, write: () => void): Promise<void> {
    if (this.closed) return Promise.reject(new Error('the writer is closed'));
    return new Promise<void>((resolve, reject) => {
      const entry: Entry = { weight, write, resolve, reject };
      if (this.waiting.length > 0 || (this.pending.length > 0 && this.pendingWeight + weight > this.options.queueLimit)) {
        if (this.waiting.length > 0 && this.waitingWeight + weight > (this.options.waitingLimit ?? this.options.queueLimit)) {
          reject(new IngestQueueFullError(this.depth));
          return;
        }
        this.waiting.push(entry);
        this.waitingWeight += weight;
      } else {
        this.admit(entry);
      }
      this.schedule();
    });
  }

  private takeWaiting(): Entry {
    const entry = this.waiting.shift() as Entry;
    this.waitingWeight -= entry.weight;
    return entry;
  }

  private admit(entry: Entry): void {
    this.pending.push(entry);
    this.pendingWeight += entry.weight;
  }

  private schedule(): void {
    if (this.holds > 0) return; // the release schedules
    if (this.pendingWeight >= this.options.maxBatch || this.waiting.length > 0) {
      // Full enough: commit on the next turn, after the messages already read in this turn joined.
      this.immediate ??= setImmediate(() => this.flushNow());
    } else if (this.pending.length > 0 && !this.timer) {
      this.timer = setTimeout(() => this.flushNow(), this.options.maxDelayMs);
    }
  }

  /** Commits everything queued now (synchronously). */
  flushNow(): void {
    if (this.timer) clearTimeout(this.timer);
    if (this.immediate) clearImmediate(this.immediate);
    this.timer = null;
    this.immediate = null;
    if (this.holds > 0 && !this.closed) return;
    while (this.pending.length > 0) {
      const batch = this.takeBatch();
      this.commit(batch);
      while (
        this.waiting.length > 0 &&
        (this.pending.length === 0 || this.pendingWeight + (this.waiting[0] as Entry).weight <= this.options.queueLimit)
      ) {
        this.admit(this.takeWaiting());
      }
      // One batch per turn of the event loop, so the PUBACKs of this one go out before the next is written.
      if (this.pending.length > 0 && !this.closed) {
        this.schedule();
        return;
      }
    }
  }

  private takeBatch(): Entry[] {
    let weight = 0;
    let count = 0;
    while (
      count < this.pending.length &&
      (count === 0 || weight + (this.pending[count] as Entry).weight <= this.options.maxBatch)
    ) {
      weight += (this.pending[count] as Entry).weight;
      count++;
    }
    const batch = this.pending.splice(0, count);
    this.pendingWeight -= weight;
    return batch;
  }

  private commit(batch: Entry[]): void {
    const failed = this.walSync?.failed;
    if (failed) {
      for (const entry of batch) entry.reject(failed);
      return;
    }
    const started = performance.now();
    let results: Array<Error | null>;
    try {
      this.relaxSync?.();
      try {
        results = this.runBatch(batch);
      } finally {
        this.restoreSync?.();
      }
    } catch (error) {
      // The commit itself failed (disk full, I/O error): nobody is acknowledged; devices will retransmit.
      this.log.error({ err: error, ops: batch.length }, 'group commit failed');
      for (const entry of batch) entry.reject(error as Error);
      return;
    }
    const settle = (syncError: Error | null) => {
      if (syncError) {
        for (const entry of batch) entry.reject(syncError);
        return;
      }
      const durationMs = performance.now() - started;
      this.observer.committed({ ops: batch.length, weight: batch.reduce((s, e) => s + e.weight, 0), durationMs });
      batch.forEach((entry, i) => {
        const error = results[i];
        if (error) entry.reject(error);
        else entry.resolve();
      });
    };
    if (!this.walSync) {
      settle(null);
      return;
    }
    this.walSync.whenDurable((syncError) => {
      if (syncError && !this.syncFailureReported) {
        this.syncFailureReported = true;
        this.log.fatal({ err: syncError }, 'ingest: fsync of the WAL failed; no device data is acknowledged any more');
        this.observer.failed?.(syncError);
      }
      settle(syncError);
    });
  }

  /** Commits everything still queued (waiting ones included) and fsyncs it, then refuses new writes. */
  close(): void {
    while (this.pending.length > 0 || this.waiting.length > 0) {
      while (this.waiting.length > 0) this.admit(this.takeWaiting());
      this.closed = true;
      this.flushNow();
    }
    this.walSync?.close();
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    if (this.immediate) clearImmediate(this.immediate);
  }
}
