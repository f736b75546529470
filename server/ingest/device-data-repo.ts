/**
 * Writes of what devices report over MQTT (DESIGN §5). Statements are prepared once; every function is
 * synchronous so the group-commit writer can run many of them in one transaction.
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

export function createDeviceDataRepo(db: Database) {
  const insertHealth = db.prepare(
    `INSERT OR IGNORE INTO health (device_id, seq, device_ts, received_ts, cpu_load, mem_used, disk_used, disk_free,
       temp_c, uptime_s, content_seq, queue_depth, queue_dropped)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
  );
  const touch = db.prepare('UPDATE devices SET last_seen = max(coalesce(last_seen, 0), ?) WHERE id = ?');
  const connected = db.prepare(
    `UPDATE devices SET online = 1, last_seen = ?, first_seen = coalesce(first_seen, ?),
       status = CASE WHEN status IN ('registered', 'provisioned') THEN 'active' ELSE status END
     WHERE id = ? AND status <> 'decommissioned'`,
  );
  const status = db.prepare(
    `UPDATE devices SET online = @online, last_seen = max(coalesce(last_seen, 0), @now),
       agent_version = @agentVersion, boot_id = @bootId WHERE id = @id`,
  );
  const offline = db.prepare('UPDATE devices SET online = 0 WHERE id = ?');
  const insertEvent = db.prepare(
    'INSERT INTO device_events (device_id, ts, received_ts, source, type, severity, message) VALUES (?, ?, ?, ?, ?, ?, ?)',
  );
  const upsertSync = db.prepare(
    `INSERT INTO device_sync (device_id, manifest_seq, state, bytes, missing, error, failures, updated_at)
     VALUES (@id, @manifestSeq, @state, @bytes, @missing, @error, @failed, @now)
     ON CONFLICT(device_id) DO UPDATE SET manifest_seq = excluded.manifest_seq, state = excluded.state,
       bytes = excluded.bytes, missing = excluded.missing, error = excluded.error, updated_at = excluded.updated_at,
       failures = CASE WHEN excluded.state = 'failed' THEN device_sync.failures + 1
                       WHEN excluded.state = 'applied' THEN 0 ELSE device_sync.failures END`,
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

  return {
    insertHealth(deviceId: string, samples: HealthSample[], receivedTs: number): number {
      let inserted = 0;
      for (const s of samples) {
        inserted += insertHealth.run(
          deviceId,
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
      });
    },
    offline(deviceId: string): void {
      offline.run(deviceId);
    },
    event(
      deviceId: string,
      source: 'device' | 'server',
      event: EventMessage | (Omit<EventMessage, 'ts'> & { ts: number | null }),
      now: number,
    ): void {
      insertEvent.run(deviceId, event.ts, now, source, event.type, event.severity, event.message);
    },
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
