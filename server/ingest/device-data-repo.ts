/**
 * Writes of what devices report over MQTT (DESIGN §5). Statements are prepared once; every function is
 * synchronous so the group-commit writer can run many of them in one transaction.
 *
 * Every write is idempotent, because a QoS 1 message whose PUBACK was lost comes again byte for byte (the
 * agent keeps it until acknowledged): a health sample by (device, series, seq) and its content, an event by
 * (device, source, ts, type, message), a sync report by equality with the stored one, stats by replacing
 * the day's totals, a command result by its state machine.
 */
import type {
  CommandResultMessage,
  EventMessage,
  HealthSample,
  StatsMessage,
  StatusMessage,
  SyncMessage,
} from '../../protocol/index.js';
import type { Database } from '../db/open-database.js';

const RESTART_EVENT_EVERY_MS = 3_600_000;

/** What tells a re-imaged kiosk's sample `seq` apart from a resend of the stored sample with that seq. */
type StoredSample = { seq: number; deviceTs: number; uptimeS: number };

export function createDeviceDataRepo(db: Database) {
  const insertHealth = db.prepare(
    `INSERT INTO health (device_id, series, seq, device_ts, received_ts, cpu_load, mem_used, disk_used, disk_free,
       temp_c, uptime_s, content_seq, queue_depth, queue_dropped)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
  );
  // Both walk the (device_id, series, seq) key: the last entry of a device, one seek into a series.
  const currentSeries = db.prepare('SELECT max(series) FROM health WHERE device_id = ?').pluck();
  const seriesEnd = db.prepare('SELECT max(seq) FROM health WHERE device_id = ? AND series = ?').pluck();
  const atOrAbove = db.prepare(
    `SELECT seq, device_ts AS deviceTs, uptime_s AS uptimeS FROM health
     WHERE device_id = ? AND series = ? AND seq >= ? ORDER BY seq LIMIT 1`,
  );
  // Newest first through (device_id, id); only read when a restart is seen, which is rare.
  const lastRestartEvent = db
    .prepare(`SELECT received_ts FROM device_events WHERE device_id = ? AND type = 'seq_restart' ORDER BY id DESC LIMIT 1`)
    .pluck();
  const touch = db.prepare('UPDATE devices SET last_seen = max(coalesce(last_seen, 0), ?) WHERE id = ?');
  const connected = db.prepare(
    `UPDATE devices SET online = 1, last_seen = ?, first_seen = coalesce(first_seen, ?),
       status = CASE WHEN status IN ('registered', 'provisioned') THEN 'active' ELSE status END
     WHERE id = ? AND status <> 'decommissioned'`,
  );
  const status = db.prepare(
    `UPDATE devices SET online = @online, last_seen = max(coalesce(last_seen, 0), @now),
       agent_version = @agentVersion, boot_id = @bootId, keys_version = coalesce(@keysVersion, keys_version) WHERE id = @id`,
  );
  const offline = db.prepare('UPDATE devices SET online = 0 WHERE id = ?');
  // The unique index device_events_once (migration 004) makes a resent event a no-op.
  const insertEvent = db.prepare(
    `INSERT INTO device_events (device_id, ts, received_ts, source, type, severity, message) VALUES (?, ?, ?, ?, ?, ?, ?)
     ON CONFLICT DO NOTHING`,
  );
  // A report equal to the stored one in every field it carries is a resend: nothing changes, a failure is
  // not counted twice. The agent's optional `ts` keeps two real, otherwise identical failures apart; from an
  // agent without it, identical consecutive failures count once.
  const upsertSync = db.prepare(
    `INSERT INTO device_sync (device_id, manifest_seq, state, bytes, missing, error, failures, updated_at, report_ts)
     VALUES (@id, @manifestSeq, @state, @bytes, @missing, @error, @failed, @now, @reportTs)
     ON CONFLICT(device_id) DO UPDATE SET manifest_seq = excluded.manifest_seq, state = excluded.state,
       bytes = excluded.bytes, missing = excluded.missing, error = excluded.error, updated_at = excluded.updated_at,
       report_ts = excluded.report_ts,
       failures = CASE WHEN excluded.state = 'failed' THEN device_sync.failures + 1
                       WHEN excluded.state = 'applied' THEN 0 ELSE device_sync.failures END
     WHERE NOT (device_sync.manifest_seq = excluded.manifest_seq AND device_sync.state = excluded.state
       AND device_sync.bytes = excluded.bytes AND device_sync.missing = excluded.missing
       AND device_sync.error IS excluded.error AND device_sync.report_ts IS excluded.report_ts)`,
  );
  const applied = db.prepare(
    `UPDATE devices SET content_seq = max(coalesce(content_seq, 0), ?), equipped_at = coalesce(equipped_at, ?) WHERE id = ?`,
  );
  // The agent sends each finished (day, item, lang) as its full total (agent/view-stats.ts), so the write
  // replaces: a QoS 1 retransmission after a lost PUBACK then counts once, not twice.
  const putStats = db.prepare(
    `INSERT INTO play_stats (device_id, day, item_id, lang, views, seconds) VALUES (?, ?, ?, ?, ?, ?)
     ON CONFLICT(device_id, day, item_id, lang) DO UPDATE SET views = excluded.views, seconds = excluded.seconds`,
  );
  const commandResult = db.prepare(
    `UPDATE commands SET status = @state,
       acked_at = coalesce(acked_at, @now),
       finished_at = CASE WHEN @state = 'acked' THEN finished_at ELSE @now END,
       detail = coalesce(@detail, detail)
     WHERE id = @id AND device_id = @deviceId
       AND (status IN ('queued', 'sent') OR (status = 'acked' AND @state <> 'acked'))`,
  );

  const event = (
    deviceId: string,
    source: 'device' | 'server',
    e: EventMessage | (Omit<EventMessage, 'ts'> & { ts: number | null }),
    now: number,
  ): void => {
    insertEvent.run(deviceId, e.ts, now, source, e.type, e.severity, e.message);
  };

  /**
   * Which series sample `s` belongs to, or null when it is a resend of a stored sample. The seq is strictly
   * increasing per agent database (DESIGN §5), and a backlog legitimately arrives after newer live samples,
   * so a seq below the series' end is normal. It starts a new series only when it cannot be this series':
   * the stored sample with that seq is a different one (other device clock or uptime), or the next stored
   * one above it was taken earlier than it (a fresh seq 1 on a kiosk whose old low seqs are past retention).
   */
  function seriesOf(deviceId: string, series: number, s: HealthSample, receivedTs: number): number | null {
    const next = atOrAbove.get(deviceId, series, s.seq) as StoredSample | undefined;
    if (!next) return series;
    if (next.seq === s.seq) {
      if (next.deviceTs === s.ts && next.uptimeS === s.uptimeS) return null;
    } else if (next.deviceTs >= s.ts) {
      return series;
    }
    // One event per device per hour: a broken agent whose seq jumps around on every sample still has each
    // sample kept (a series each), but cannot flood the events, which are not pruned.
    const last = lastRestartEvent.get(deviceId) as number | undefined;
    if (last !== undefined && last > receivedTs - RESTART_EVENT_EVERY_MS) return series + 1;
    const end = seriesEnd.get(deviceId, series) as number;
    event(
      deviceId,
      'server',
      {
        type: 'seq_restart',
        severity: 'warning',
        message:
          `health seq started again at ${s.seq} (the previous run reached ${end}; re-imaged or reset agent?): ` +
          `kept as series ${series + 1}`,
        ts: s.ts,
      },
      receivedTs,
    );
    return series + 1;
  }

  return {
    /** Stores the samples not stored yet (a new series when the seq restarted); returns how many. */
    insertHealth(deviceId: string, samples: HealthSample[], receivedTs: number): number {
      let series = (currentSeries.get(deviceId) as number | null) ?? 0;
      let inserted = 0;
      for (const s of samples) {
        const into = seriesOf(deviceId, series, s, receivedTs);
        if (into === null) continue;
        series = into;
        inserted += insertHealth.run(
          deviceId,
          series,
          s.seq,
          s.ts,
          receivedTs,
          s.cpuLoad,
          s.memUsed,
          s.diskUsed,
          s.diskFree,
          s.tempC,
          s.uptimeS,
          s.contentSeq,
          s.queueDepth,
          s.queueDropped ?? null,
        ).changes;
      }
      return inserted;
    },
    touch(deviceId: string, now: number): void {
      touch.run(now, deviceId);
    },
    connected(deviceId: string, now: number): void {
      connected.run(now, now, deviceId);
    },
    status(deviceId: string, message: StatusMessage, now: number): void {
      status.run({
        id: deviceId,
        online: message.online ? 1 : 0,
        now,
        agentVersion: message.agentVersion,
        bootId: message.bootId,
        keysVersion: message.keysVersion ?? null,
      });
    },
    offline(deviceId: string): void {
      offline.run(deviceId);
    },
    event,
    sync(deviceId: string, message: SyncMessage, now: number): void {
      upsertSync.run({
        id: deviceId,
        manifestSeq: message.manifestSeq,
        state: message.state,
        bytes: message.bytes,
        missing: message.missing,
        error: message.error ?? null,
        failed: message.state === 'failed' ? 1 : 0,
        now,
        reportTs: message.ts ?? null,
      });
      if (message.state === 'applied') applied.run(message.manifestSeq, now, deviceId);
    },
    stats(deviceId: string, message: StatsMessage): void {
      for (const d of message.days) putStats.run(deviceId, d.day, d.itemId, d.lang, d.views, d.seconds);
    },
    commandResult(deviceId: string, message: CommandResultMessage, now: number): boolean {
      return (
        commandResult.run({ id: message.id, deviceId, state: message.state, detail: message.detail ?? null, now }).changes === 1
      );
    },
  };
}
export type DeviceDataRepo = ReturnType<typeof createDeviceDataRepo>;
