/**
 * Moves samples from the queue to the broker. Samples taken while online are held (in the queue, on disk) and go out
 * together in one publish every `samplesPerSend` samples (AGENT_HEALTH_SEND_INTERVAL_S ÷ the sampling interval): on an
 * idle cellular link each publish costs ≈ 400 B of MQTT, TLS, TCP/IP headers and acknowledgements besides its
 * samples (docs/performance.md, issue 14). A flush sends them at once: a new storage problem (disk full), a
 * reconnect, shutdown. The backlog goes oldest first, one batch in flight at a time, so a week of buffered samples
 * never holds back the live ones. A sample leaves the queue only when its PUBACK arrives.
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

/**
 * Samples per publish: the send interval over the sampling interval, at least 1 (a send interval of 0, or one
 * shorter than the sampling interval, sends each sample at once). The one definition of the batching rule.
 */
export function samplesPerSend(sendIntervalMs: number, sampleIntervalMs: number): number {
  if (!(sendIntervalMs > 0) || !(sampleIntervalMs > 0)) return 1;
  return Math.min(LIMITS.maxHealthSamples, Math.max(1, Math.round(sendIntervalMs / sampleIntervalMs)));
}

export class HealthSender {
  private readonly inFlight = new Set<number>();
  private backlogBusy = false;
  /** Samples taken while online and not sent yet, oldest first: the next live publish (all are in the queue too). */
  private window: HealthSample[] = [];

  constructor(
    private readonly queue: HealthQueue,
    private readonly link: HealthLink,
    private readonly batchSize: number = LIMITS.maxHealthSamples,
  ) {}

  /** Samples held for the next live publish. */
  get held(): number {
    return this.window.length;
  }

  /** Holds a freshly queued sample for the next live publish; one taken while offline is backlog already. */
  hold(sample: HealthSample): void {
    if (!this.link.online) return;
    this.window.push(sample);
    // More than one publish holds: the oldest become backlog (still queued, sent by the pump).
    if (this.window.length > this.batchSize) this.window.splice(0, this.window.length - this.batchSize);
  }

  /** Sends the held samples in one publish, then lets the backlog continue; resolves when that publish settled. */
  flush(): Promise<void> {
    const live = this.window.filter((s) => !this.inFlight.has(s.seq));
    this.window = [];
    // Offline: they are queued, so the flush after the reconnect sends them with the backlog.
    if (!this.link.online) return Promise.resolve();
    const sent = live.length > 0 ? this.send(live) : Promise.resolve();
    this.pump();
    return sent;
  }

  /** Sends the next backlog batch when none is in flight (never the held samples: they wait for their publish). */
  pump(): void {
    if (this.backlogBusy || !this.link.online) return;
    const exclude = this.window.length === 0 ? this.inFlight : new Set([...this.inFlight, ...this.window.map((s) => s.seq)]);
    const batch = this.queue.oldest(this.batchSize, exclude);
    if (batch.length === 0) return;
    this.backlogBusy = true;
    void this.send(batch, () => {
      this.backlogBusy = false;
      this.pump();
    });
  }

  private send(samples: HealthSample[], done?: () => void): Promise<void> {
    const seqs = samples.map((s) => s.seq);
    for (const seq of seqs) this.inFlight.add(seq);
    return this.link.publish('health', { samples }).then(
      () => {
        this.queue.remove(seqs);
        for (const seq of seqs) this.inFlight.delete(seq);
        done?.();
      },
      () => {
        // Not sent (link down): the samples stay queued and go out with the flush after the reconnect.
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
  /** Samples per live publish now (`samplesPerSend` of the send and sampling intervals); default 1. */
  samplesPerSend?: () => number;
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

  /**
   * Takes one sample: read, queue (disk, else memory), hold it for the next publish, and send what is held when it
   * is due (`samplesPerSend` held), when `sendNow`, or when the queue has just started failing (disk full).
   */
  async collect(o: { sendNow?: boolean } = {}): Promise<HealthSample> {
    const failingBefore = this.storageFailing;
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
    const sender = this.sender;
    if (!sender) return sample;
    sender.hold(sample);
    const due = sender.held >= Math.max(1, this.o.samplesPerSend?.() ?? 1);
    if (o.sendNow || due || (this.storageFailing && !failingBefore)) void this.flush();
    else {
      void this.reportStorage();
      this.reportDrops();
    }
    return sample;
  }

  /** Sends the held samples, the backlog and the events not delivered yet; resolves when the held ones settled. */
  flush(): Promise<void> {
    const sent = this.sender?.flush() ?? Promise.resolve();
    void this.reportStorage();
    this.reportDrops();
    return sent;
  }

  /** After a (re)connect: everything held or queued goes out now. */
  onLinkUp(): void {
    void this.flush();
  }

  /** Before shutdown: sends what is held, waiting at most `timeoutMs` for its PUBACK (what is not acked stays queued). */
  async drain(timeoutMs: number): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([this.flush(), new Promise<void>((r) => (timer = setTimeout(r, timeoutMs)))]);
    clearTimeout(timer);
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
