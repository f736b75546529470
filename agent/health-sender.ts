/**
 * Moves samples from the queue to the broker. The newest sample goes out at once; the backlog goes oldest
 * first, one batch in flight at a time, so a week of buffered samples never holds back the live one.
 * A sample leaves the queue only when its PUBACK arrives.
 *
 * `HealthReporter` is the health loop around it: read, enqueue, send, and the events that explain the numbers
 * (`health_queue_dropped`; `disk_full` when the queue had to fall back to memory).
 */
import type { Logger } from 'pino';
import { type EventMessage, type HealthSample, LIMITS } from '../protocol/index.js';
import { isDiskFull } from './agent-db.js';
import type { HealthQueue } from './health-queue.js';
import type { HealthSource } from './health-source.js';

/** What the sender needs of the MQTT link. */
export interface HealthLink {
  readonly online: boolean;
  publish(kind: 'health', payload: unknown): Promise<void>;
}

export class HealthSender {
  private readonly inFlight = new Set<number>();
  private backlogBusy = false;

  constructor(
    private readonly queue: HealthQueue,
    private readonly link: HealthLink,
    private readonly batchSize: number = LIMITS.maxHealthSamples,
  ) {}

  /** Sends a freshly queued sample right away (if the link is up), then lets the backlog continue. */
  sendLive(sample: HealthSample): void {
    if (!this.link.online || this.inFlight.has(sample.seq)) return;
    this.send([sample]);
    this.pump();
  }

  /** Sends the next backlog batch when none is in flight. */
  pump(): void {
    if (this.backlogBusy || !this.link.online) return;
    const batch = this.queue.oldest(this.batchSize, this.inFlight);
    if (batch.length === 0) return;
    this.backlogBusy = true;
    this.send(batch, () => {
      this.backlogBusy = false;
      this.pump();
    });
  }

  private send(samples: HealthSample[], done?: () => void): void {
    const seqs = samples.map((s) => s.seq);
    for (const seq of seqs) this.inFlight.add(seq);
    this.link.publish('health', { samples }).then(
      () => {
        this.queue.remove(seqs);
        for (const seq of seqs) this.inFlight.delete(seq);
        done?.();
      },
      () => {
        // Not sent (link down): the samples stay queued and go out with the next pump.
        for (const seq of seqs) this.inFlight.delete(seq);
        if (done) this.backlogBusy = false;
      },
    );
  }
}

export type PublishEvent = (type: string, severity: EventMessage['severity'], message: string) => Promise<void>;

export interface HealthReporterOptions {
  queue: HealthQueue;
  source: HealthSource;
  queueLimit: number;
  clock: () => number;
  log: Logger;
  contentSeq: () => number;
}

export class HealthReporter {
  private sender: HealthSender | null = null;
  private link: (HealthLink & { publishEvent: PublishEvent }) | null = null;
  /** The storage problem not reported yet (one event per episode), and whether one is going on. */
  private storageIssue: { type: string; severity: EventMessage['severity']; message: string } | null = null;
  private storageFailing = false;
  private reporting = false;
  /** Drops reported, also when the DB could not record it (or every sample would repeat the event). */
  private dropsReported = 0;
  private dropsInFlight = false;

  constructor(private readonly o: HealthReporterOptions) {}

  /** From enrollment on: samples are sent as well as queued. */
  attach(link: HealthLink & { publishEvent: PublishEvent }): void {
    this.link = link;
    this.sender = new HealthSender(this.o.queue, link);
  }

  /** Takes one sample: read, queue (disk, else memory), send. */
  async collect(): Promise<HealthSample> {
    const reading = await this.o.source.read();
    const { sample, droppedNow, stored, error } = this.o.queue.enqueue(reading, this.o.clock(), this.o.contentSeq());
    if (droppedNow > 0) this.o.log.warn({ droppedNow, total: sample.queueDropped }, 'health queue full; oldest dropped');
    if (stored === 'memory') {
      if (!this.storageFailing) {
        const full = isDiskFull(error);
        this.o.log.error({ err: error?.message }, 'health queue cannot be written; keeping samples in memory');
        this.storageIssue = {
          type: full ? 'disk_full' : 'health_queue_unwritable',
          severity: full ? 'critical' : 'error',
          message: `health samples are kept in memory (at most a bounded number, oldest dropped first): the agent DB cannot be written: ${error?.message ?? 'unknown error'}`,
        };
      }
      this.storageFailing = true;
    } else if (this.storageFailing) {
      this.storageFailing = false;
      this.storageIssue = null;
      this.o.log.info('health queue written to disk again');
    }
    this.sender?.sendLive(sample);
    this.onLinkUp();
    return sample;
  }

  /** Sends the backlog and the events not delivered yet. */
  onLinkUp(): void {
    this.sender?.pump();
    void this.reportStorage();
    this.reportDrops();
  }

  private async reportStorage(): Promise<void> {
    const issue = this.storageIssue;
    if (!issue || !this.link?.online || this.reporting) return;
    this.reporting = true;
    try {
      await this.link.publishEvent(issue.type, issue.severity, issue.message);
      if (this.storageIssue === issue) this.storageIssue = null;
    } catch {
      // link down: reported again with the next sample or reconnect
    } finally {
      this.reporting = false;
    }
  }

  /** Reports drops not yet reported (the count also rides on every sample as `queueDropped`). */
  private reportDrops(): void {
    const q = this.o.queue;
    const dropped = q.dropped();
    const reported = Math.max(this.dropsReported, Number(q.meta('health.droppedReported') ?? '0'));
    if (!this.link?.online || dropped <= reported || this.dropsInFlight) return;
    this.dropsInFlight = true;
    this.link
      .publishEvent(
        'health_queue_dropped',
        'warning',
        `health queue full (${this.o.queueLimit}): ${dropped - reported} oldest samples dropped (${dropped} in total)`,
      )
      .then(() => {
        this.dropsReported = dropped;
        q.setMetaValue('health.droppedReported', String(dropped));
      })
      .catch(() => {})
      .finally(() => {
        this.dropsInFlight = false;
      });
  }
}
