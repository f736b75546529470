/**
 * Anonymous view counts from the kiosk page, aggregated per local day, item and language in the agent DB.
 * Only finished days are sent (each exactly once as a total, removed on PUBACK), so the server never has to merge
 * partial counts of the same day.
 */
import { LIMITS, type LocalViews, type StatsDay } from '../protocol/index.js';
import type { AgentDb } from './agent-db.js';

/** YYYY-MM-DD of the device's local time. */
export function localDay(ms: number): string {
  const d = new Date(ms);
  const pad = (n: number): string => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
}

export class ViewStats {
  private sending = false;

  constructor(
    private readonly db: AgentDb,
    private readonly clock: () => number,
  ) {}

  record(views: LocalViews): void {
    const day = localDay(this.clock());
    const upsert = this.db.prepare(`INSERT INTO stats (day, item_id, lang, views, seconds) VALUES (?, ?, ?, 1, ?)
      ON CONFLICT(day, item_id, lang) DO UPDATE SET views = views + 1, seconds = seconds + excluded.seconds`);
    this.db.transaction(() => {
      for (const v of views.views) upsert.run(day, v.itemId, v.lang, v.seconds);
    })();
  }

  /** Sends finished days; rows are deleted only after the broker acknowledged them. */
  async flush(publish: (days: StatsDay[]) => Promise<void>): Promise<number> {
    if (this.sending) return 0;
    this.sending = true;
    try {
      const rows = this.db
        .prepare('SELECT day, item_id AS itemId, lang, views, seconds FROM stats WHERE day < ? ORDER BY day LIMIT ?')
        .all(localDay(this.clock()), LIMITS.maxStatsDays) as StatsDay[];
      if (rows.length === 0) return 0;
      await publish(rows);
      const del = this.db.prepare('DELETE FROM stats WHERE day = ? AND item_id = ? AND lang = ?');
      this.db.transaction(() => {
        for (const r of rows) del.run(r.day, r.itemId, r.lang);
      })();
      return rows.length;
    } finally {
      this.sending = false;
    }
  }
}
