/** Reads of what devices report over MQTT (the core stores them): sync state per device, play statistics. */
import type { Database } from '../db/open-database.js';

export interface DeviceSyncView {
  deviceId: string;
  /** The seq of the manifest the server last issued to the device (null: never asked). */
  issuedSeq: number | null;
  /** What the device last reported; null when it never did. */
  report: {
    manifestSeq: number;
    state: string;
    bytes: number;
    missing: number;
    error: string | null;
    failures: number;
    updatedAt: string;
  } | null;
  /** The seq the device says it applied (devices.content_seq). */
  appliedSeq: number | null;
}

export function deviceSync(db: Database, deviceId: string): DeviceSyncView | null {
  const device = db.prepare('SELECT id, content_seq FROM devices WHERE id = ?').get(deviceId) as
    | { id: string; content_seq: number | null }
    | undefined;
  if (!device) return null;
  const issued = db.prepare('SELECT seq FROM device_manifests WHERE device_id = ?').get(deviceId) as { seq: number } | undefined;
  const row = db.prepare('SELECT * FROM device_sync WHERE device_id = ?').get(deviceId) as
    | {
        manifest_seq: number;
        state: string;
        bytes: number;
        missing: number;
        error: string | null;
        failures: number;
        updated_at: number;
      }
    | undefined;
  return {
    deviceId,
    issuedSeq: issued?.seq ?? null,
    appliedSeq: device.content_seq,
    report: row
      ? {
          manifestSeq: row.manifest_seq,
          state: row.state,
          bytes: row.bytes,
          missing: row.missing,
          error: row.error,
          failures: row.failures,
          updatedAt: new Date(row.updated_at).toISOString(),
        }
      : null,
  };
}

export interface ItemStatsRow {
  day: string;
  lang: string;
  views: number;
  seconds: number;
  devices: number;
}

/** Views and seconds of an item per day and language, summed over devices. */
export function itemStats(db: Database, itemId: string, range: { from?: string; to?: string }): ItemStatsRow[] {
  return db
    .prepare(
      `SELECT day, lang, sum(views) AS views, sum(seconds) AS seconds, count(DISTINCT device_id) AS devices
       FROM play_stats WHERE item_id = @itemId AND (@from IS NULL OR day >= @from) AND (@to IS NULL OR day <= @to)
       GROUP BY day, lang ORDER BY day, lang`,
    )
    .all({ itemId, from: range.from ?? null, to: range.to ?? null }) as ItemStatsRow[];
}
