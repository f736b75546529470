/**
 * Moves samples from the on-disk queue to the broker. The newest sample goes out at once; the backlog goes oldest
 * first, one batch in flight at a time, so a week of buffered samples never holds back the live one.
 * A sample leaves the queue only when its PUBACK arrives.
 */
import { type HealthSample, LIMITS } from '../protocol/index.js';
import type { HealthQueue } from './health-queue.js';
import type { MqttLink } from './mqtt-link.js';

export class HealthSender {
  private readonly inFlight = new Set<number>();
  private backlogBusy = false;

  constructor(
    private readonly queue: HealthQueue,
    private readonly link: MqttLink,
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
