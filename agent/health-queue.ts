/** The bounded on-disk queue of health samples: written before sending, removed only on PUBACK. */
import type { HealthSample } from '../protocol/index.js';
import { type AgentDb, getMeta, setMeta } from './agent-db.js';

export type HealthReading = Omit<HealthSample, 'seq' | 'queueDepth' | 'queueDropped' | 'contentSeq' | 'ts'>;

export class HealthQueue {
  constructor(
    private readonly db: AgentDb,
    private readonly limit: number,
  ) {}

  /**
   * Numbers the sample, stores it and drops the oldest beyond the bound, in one transaction: the seq counter
   * and the row can never disagree, whatever moment the process dies.
   */
  enqueue(reading: HealthReading, ts: number, contentSeq: number): { sample: HealthSample; droppedNow: number } {
    return this.db.transaction(() => {
      const last = Number(getMeta(this.db, 'health.lastSeq') ?? '0');
      const maxRow = this.db.prepare('SELECT MAX(seq) AS m FROM health_queue').get() as { m: number | null };
      const seq = Math.max(last, maxRow.m ?? 0) + 1;
      const depthBefore = this.depth();
      let droppedNow = 0;
      if (depthBefore >= this.limit) {
        droppedNow = depthBefore - this.limit + 1;
        this.db
          .prepare('DELETE FROM health_queue WHERE seq IN (SELECT seq FROM health_queue ORDER BY seq LIMIT ?)')
          .run(droppedNow);
      }
      const dropped = this.dropped() + droppedNow;
      const sample: HealthSample = {
        ...reading,
        seq,
        ts,
        contentSeq,
        queueDepth: depthBefore - droppedNow + 1,
        queueDropped: dropped,
      };
      this.db.prepare('INSERT INTO health_queue (seq, sample) VALUES (?, ?)').run(seq, JSON.stringify(sample));
      setMeta(this.db, 'health.lastSeq', String(seq));
      setMeta(this.db, 'health.dropped', String(dropped));
      return { sample, droppedNow };
    })();
  }

  depth(): number {
    return (this.db.prepare('SELECT COUNT(*) AS n FROM health_queue').get() as { n: number }).n;
  }

  dropped(): number {
    return Number(getMeta(this.db, 'health.dropped') ?? '0');
  }

  /** The oldest samples not in `exclude`, oldest first. */
  oldest(max: number, exclude: ReadonlySet<number>): HealthSample[] {
    const out: HealthSample[] = [];
    const rows = this.db.prepare('SELECT seq, sample FROM health_queue ORDER BY seq').iterate() as Iterable<{
      seq: number;
      sample: string;
    }>;
    for (const row of rows) {
      if (exclude.has(row.seq)) continue;
      out.push(JSON.parse(row.sample) as HealthSample);
      if (out.length >= max) break;
    }
    return out;
  }

  remove(seqs: readonly number[]): void {
    const del = this.db.prepare('DELETE FROM health_queue WHERE seq = ?');
    this.db.transaction(() => {
      for (const seq of seqs) del.run(seq);
    })();
  }
}
