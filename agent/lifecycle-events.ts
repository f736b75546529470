/**
 * Events about the agent itself that must reach the server even when they happen while the link is down (a DB
 * rebuilt at start, files quarantined): kept in memory until their PUBACK, sent when the link is up. Bounded: a
 * kiosk alone for a month keeps the newest few, which say the most.
 */
import type { EventMessage } from '../protocol/index.js';

const KEEP = 50;

export class EventOutbox {
  private readonly pending: EventMessage[] = [];
  private flushing = false;

  constructor(private readonly clock: () => number) {}

  add(type: string, severity: EventMessage['severity'], message: string): void {
    this.pending.push({ type, severity, message: message.slice(0, 4000), ts: this.clock() });
    if (this.pending.length > KEEP) this.pending.splice(0, this.pending.length - KEEP);
  }

  get size(): number {
    return this.pending.length;
  }

  /** Sends what is pending, oldest first, one at a time; stops at the first failure (link down). */
  async flush(publish: (event: EventMessage) => Promise<void>): Promise<void> {
    if (this.flushing) return;
    this.flushing = true;
    try {
      for (;;) {
        const next = this.pending[0];
        if (!next) return;
        await publish(next);
        if (this.pending[0] === next) this.pending.shift();
      }
    } catch {
      // link down: the rest goes with the next flush
    } finally {
      this.flushing = false;
    }
  }
}
