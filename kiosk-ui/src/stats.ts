/** Anonymous view counting: item, language, seconds viewed; batched, kept and retried when a post fails. */
import type { LocalViews } from '../../protocol/local.js';

type View = LocalViews['views'][number];

/** The schema's batch limit. */
const BATCH = 100;

export interface ViewCounterOptions {
  post: (views: View[]) => Promise<void>;
  /** Views kept while posts fail; the oldest are dropped beyond it so memory stays bounded. */
  maxPending?: number;
  now?: () => number;
}

export class ViewCounter {
  private pending: View[] = [];
  private current: { itemId: string; lang: string; since: number } | null = null;
  private flushing = false;
  dropped = 0;

  constructor(private readonly options: ViewCounterOptions) {}

  private now(): number {
    return (this.options.now ?? Date.now)();
  }

  /** Starts timing a view (ending the previous one). */
  start(itemId: string, lang: string): void {
    this.end();
    this.current = { itemId, lang, since: this.now() };
  }

  /** Ends the current view, if any, and queues it. */
  end(): void {
    if (!this.current) return;
    const seconds = Math.min(86_400, Math.max(0, Math.round((this.now() - this.current.since) / 1000)));
    this.pending.push({ itemId: this.current.itemId, lang: this.current.lang, seconds });
    this.current = null;
    const max = this.options.maxPending ?? 1000;
    if (this.pending.length > max) {
      this.dropped += this.pending.length - max;
      this.pending.splice(0, this.pending.length - max);
    }
  }

  get pendingCount(): number {
    return this.pending.length;
  }

  /** Hands over everything queued (for a last-chance beacon when the page goes away). */
  takeAll(): View[] {
    return this.pending.splice(0, this.pending.length);
  }

  /** Posts what is queued, a batch at a time; on failure the batch stays queued for the next flush. */
  async flush(): Promise<void> {
    if (this.flushing) return;
    this.flushing = true;
    try {
      while (this.pending.length > 0) {
        const batch = this.pending.slice(0, BATCH);
        try {
          await this.options.post(batch);
        } catch {
          return;
        }
        this.pending.splice(0, batch.length);
      }
    } finally {
      this.flushing = false;
    }
  }
}
