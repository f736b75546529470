/**
 * Anonymous view counts from the kiosk page, aggregated per local day, item and language in the agent DB.
 * Only finished days are sent, always as the day's full total: the server replaces its row with what it receives, so
 * a resend is harmless. A row is marked sent on PUBACK only if no view arrived meanwhile; a view recorded for a day
 * already sent (a kiosk without a real-time clock jumping back) marks it unsent again and the new total goes out.
 */
import { LIMITS, type LocalViews, type StatsDay } from '../protocol/index.js';
import type { AgentDb } from './agent-db.js';

/** YYYY-MM-DD of the device's local time. */
export function localDay(ms: number): string {
  const d = new Date(ms);
  const pad = (n: number): string => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
}

/** Sent days are kept this long, so that a late view of such a day resends the day's full total. */
const STATS_KEPT_DAYS = 62;

export class ViewStats {
  private sending = false;

  constructor(
    private readonly db: AgentDb,
    private readonly clock: () => number,
  ) {}

  record(views: LocalViews): void {
    const day = localDay(this.clock());
    const upsert = this.db.prepare(`INSERT INTO stats (day, item_id, lang, views, seconds) VALUES (?, ?, ?, 1, ?)
      ON CONFLICT(day, item_id, lang) DO UPDATE SET views = views + 1, seconds = seconds + excluded.seconds, sent = 0`);
    this.db.transaction(() => {
      for (const v of views.views) upsert.run(day, v.itemId, v.lang, v.seconds);
    })();
  }

  /** Sends finished days not sent yet; a row is marked sent only after the broker acknowledged it, unchanged. */
  async flush(publish: (days: StatsDay[]) => Promise<void>): Promise<number> {
    if (this.sending) return 0;
    this.sending = true;
    try {
      const today = localDay(this.clock());
      const rows = this.db
        .prepare('SELECT day, item_id AS itemId, lang, views, seconds FROM stats WHERE sent = 0 AND day < ? ORDER BY day LIMIT ?')
        .all(today, LIMITS.maxStatsDays) as StatsDay[];
      if (rows.length === 0) return 0;
      await publish(rows);
      const markSent = this.db.prepare(
        'UPDATE stats SET sent = 1 WHERE day = ? AND item_id = ? AND lang = ? AND views = ? AND seconds = ?',
      );
      const prune = this.db.prepare('DELETE FROM stats WHERE sent = 1 AND day < ?');
      this.db.transaction(() => {
        for (const r of rows) markSent.run(r.day, r.itemId, r.lang, r.views, r.seconds);
        prune.run(localDay(this.clock() - STATS_KEPT_DAYS * 86_400_000));
      })();
      return rows.length;
    } finally {
      this.sending = false;
    }
  }
}
