/**
 * The bounded queue of health samples: written to the agent DB before sending, removed only on PUBACK.
 *
 * When the DB cannot be written (a full disk, a read-only remount, a file gone bad) health does not stop: the sample
 * is kept in a bounded ring in memory instead and sent from there, and the ring moves into the DB with the first
 * write that succeeds again. Either way samples leave in seq order.
 *
 * Seq numbers must never be reused, even across a restart in the middle of that (the server would take a reused seq
 * for a new series). The DB counter cannot move while the DB cannot be written, so the highest seq handed out is
 * also kept in `health-seq`, a small file made when there was room and then rewritten in place: overwriting bytes a
 * file already owns needs no free block, so it still works on a disk filled to the last byte. At start the next seq
 * is one above the larger of the two. (A data directory read-only from the very first sample keeps no counter at all;
 * the server then sees `seq_restart`.)
 */
import { closeSync, fdatasyncSync, openSync, readSync, writeSync } from 'node:fs';
import type { HealthSample } from '../protocol/index.js';
import { type AgentDb, getMeta, setMeta } from './agent-db.js';

export type HealthReading = Omit<HealthSample, 'seq' | 'queueDepth' | 'queueDropped' | 'contentSeq' | 'ts'>;

export interface Enqueued {
  sample: HealthSample;
  droppedNow: number;
  /** Where the sample is held until its PUBACK. */
  stored: 'disk' | 'memory';
  /** Why the DB write failed (stored = memory). */
  error?: Error;
}

const SEQ_FILE_BYTES = 32;

/** The highest seq handed out, in a fixed-size file rewritten in place (see the file comment). */
class SeqFile {
  private fd: number | null = null;

  constructor(path: string | null) {
    if (!path) return;
    try {
      this.fd = openSync(path, 'r+');
    } catch {
      try {
        this.fd = openSync(path, 'w+', 0o644);
        this.write(0, true);
      } catch {
        this.fd = null;
      }
    }
  }

  read(): number {
    if (this.fd === null) return 0;
    try {
      const buf = Buffer.alloc(SEQ_FILE_BYTES);
      readSync(this.fd, buf, 0, SEQ_FILE_BYTES, 0);
      const n = Number.parseInt(buf.toString('latin1').trim(), 10);
      return Number.isSafeInteger(n) && n > 0 ? n : 0;
    } catch {
      return 0;
    }
  }

  /** `durable`: fsync (the DB does not hold this seq). Returns false when the write failed. */
  write(seq: number, durable: boolean): boolean {
    if (this.fd === null) return false;
    try {
      writeSync(this.fd, Buffer.from(`${String(seq).padEnd(SEQ_FILE_BYTES - 1, ' ')}\n`, 'latin1'), 0, SEQ_FILE_BYTES, 0);
      if (durable) fdatasyncSync(this.fd);
      return true;
    } catch {
      return false;
    }
  }

  close(): void {
    if (this.fd !== null) closeSync(this.fd);
    this.fd = null;
  }
}

export class HealthQueue {
  /** Samples the DB could not take, oldest first; all have higher seqs than any row in the DB. */
  private ring: HealthSample[] = [];
  /** Sent and acknowledged, but the DELETE failed (full disk): not sent again, deleted with the next removal. */
  private readonly removedPending = new Set<number>();
  private lastSeq: number;
  private droppedTotal: number;
  private dbDepth = 0;
  private readonly seqFile: SeqFile;
  private readonly ringLimit: number;

  constructor(
    private readonly db: AgentDb,
    private readonly limit: number,
    opts: { seqFile?: string | null; ringLimit?: number } = {},
  ) {
    this.seqFile = new SeqFile(opts.seqFile ?? null);
    // A day at the default interval: what matters on a full disk is that live samples keep flowing.
    this.ringLimit = Math.max(1, Math.min(limit, opts.ringLimit ?? 1440));
    let last = 0;
    let dropped = 0;
    try {
      const maxRow = this.db.prepare('SELECT MAX(seq) AS m FROM health_queue').get() as { m: number | null };
      last = Math.max(Number(getMeta(this.db, 'health.lastSeq') ?? '0'), maxRow.m ?? 0);
      dropped = Number(getMeta(this.db, 'health.dropped') ?? '0');
      this.dbDepth = this.countRows();
    } catch {
      // unreadable DB: the seq file still knows where numbering stands
    }
    this.lastSeq = Math.max(last, this.seqFile.read());
    this.droppedTotal = dropped;
  }

  /**
   * Numbers the sample and stores it, dropping the oldest beyond the bound. In the DB this is one transaction (the
   * seq counter and the row never disagree, whatever moment the process dies) which also moves the memory ring in.
   */
  enqueue(reading: HealthReading, ts: number, contentSeq: number): Enqueued {
    const seq = this.lastSeq + 1;
    try {
      const { sample, droppedNow } = this.db.transaction(() => {
        const insert = this.db.prepare('INSERT OR IGNORE INTO health_queue (seq, sample) VALUES (?, ?)');
        for (const s of this.ring) insert.run(s.seq, JSON.stringify(s));
        const depthBefore = this.countRows();
        let droppedNow = 0;
        if (depthBefore >= this.limit) {
          droppedNow = depthBefore - this.limit + 1;
          this.db
            .prepare('DELETE FROM health_queue WHERE seq IN (SELECT seq FROM health_queue ORDER BY seq LIMIT ?)')
            .run(droppedNow);
        }
        const sample: HealthSample = {
          ...reading,
          seq,
          ts,
          contentSeq,
          queueDepth: depthBefore - droppedNow + 1,
          queueDropped: this.droppedTotal + droppedNow,
        };
        insert.run(seq, JSON.stringify(sample));
        setMeta(this.db, 'health.lastSeq', String(seq));
        setMeta(this.db, 'health.dropped', String(sample.queueDropped));
        return { sample, droppedNow };
      })();
      this.ring = [];
      this.lastSeq = seq;
      this.droppedTotal = sample.queueDropped ?? this.droppedTotal;
      this.dbDepth = sample.queueDepth ?? this.dbDepth;
      // After the commit: a crash before this write leaves the DB ahead, which the start takes into account.
      this.seqFile.write(seq, false);
      return { sample, droppedNow, stored: 'disk' };
    } catch (err) {
      // Before the sample can leave: after a restart the next seq is above this one.
      this.seqFile.write(seq, true);
      this.lastSeq = seq;
      let droppedNow = 0;
      if (this.ring.length >= this.ringLimit) {
        droppedNow = this.ring.length - this.ringLimit + 1;
        this.ring.splice(0, droppedNow);
      }
      this.droppedTotal += droppedNow;
      const sample: HealthSample = {
        ...reading,
        seq,
        ts,
        contentSeq,
        queueDepth: this.dbDepth + this.ring.length + 1,
        queueDropped: this.droppedTotal,
      };
      this.ring.push(sample);
      return { sample, droppedNow, stored: 'memory', error: err as Error };
    }
  }

  /** Samples waiting for their PUBACK, on disk and in memory. */
  depth(): number {
    try {
      this.dbDepth = this.countRows();
    } catch {
      // keep the last count
    }
    return Math.max(0, this.dbDepth - this.removedPending.size) + this.ring.length;
  }

  /** Samples held in memory because the DB could not take them. */
  inMemory(): number {
    return this.ring.length;
  }

  dropped(): number {
    return this.droppedTotal;
  }

  /** The oldest samples not in `exclude`, oldest first: the DB's rows, then the memory ring (all newer). */
  oldest(max: number, exclude: ReadonlySet<number>): HealthSample[] {
    const out: HealthSample[] = [];
    try {
      const rows = this.db.prepare('SELECT seq, sample FROM health_queue ORDER BY seq').iterate() as Iterable<{
        seq: number;
        sample: string;
      }>;
      for (const row of rows) {
        if (out.length >= max) break;
        if (exclude.has(row.seq) || this.removedPending.has(row.seq)) continue;
        out.push(JSON.parse(row.sample) as HealthSample);
      }
    } catch {
      // unreadable DB: what memory holds still goes out
    }
    for (const s of this.ring) {
      if (out.length >= max) break;
      if (!exclude.has(s.seq)) out.push(s);
    }
    return out;
  }

  /** Forgets acknowledged samples. */
  remove(seqs: readonly number[]): void {
    const gone = new Set(seqs);
    this.ring = this.ring.filter((s) => !gone.has(s.seq));
    const all = [...this.removedPending, ...seqs];
    try {
      const del = this.db.prepare('DELETE FROM health_queue WHERE seq = ?');
      this.db.transaction(() => {
        for (const seq of all) del.run(seq);
      })();
      this.removedPending.clear();
    } catch {
      for (const seq of seqs) this.removedPending.add(seq);
    }
  }

  /** The DB's `health.*` meta values other parts keep (drop reports); null when the DB cannot be read. */
  meta(key: string): string | null {
    try {
      return getMeta(this.db, key);
    } catch {
      return null;
    }
  }

  setMetaValue(key: string, value: string): boolean {
    try {
      setMeta(this.db, key, value);
      return true;
    } catch {
      return false;
    }
  }

  close(): void {
    this.seqFile.close();
  }

  private countRows(): number {
    return (this.db.prepare('SELECT COUNT(*) AS n FROM health_queue').get() as { n: number }).n;
  }
}
