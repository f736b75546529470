/**
 * Periodic upkeep: hourly health roll-ups, raw-health retention (and, hourly, the retention of roll-ups, events
 * and audit records), the offline sweep (a device silent for
 * OFFLINE_AFTER is offline even without a last will), command expiry, expired sessions, and (hourly) the removal
 * of content files nothing references any more (`content-gc.ts`). Runs on an unref'd
 * timer that close() stops; each step is bounded so the event loop is never held for long.
 */
import { dirname, join } from 'node:path';
import type { Logger } from 'pino';
import { deleteExpiredSessions } from '../auth/users-repo.js';
import { expireCommands } from '../commands/commands-repo.js';
import type { ServerConfig } from '../config.js';
import type { Database } from '../db/open-database.js';
import { type ContentGcResult, createContentGc } from './content-gc.js';

const HOUR = 3_600_000;
const DELETE_CHUNK = 5_000;
const MAX_DELETE_CHUNKS = 200;

export interface MaintenanceOptions {
  intervalMs: number;
  /** Raw health rows (HEALTH_RETENTION). */
  retentionMs: number;
  /** Hourly roll-ups (HEALTH_HOURLY_RETENTION), device and server events (EVENTS_RETENTION), audit records
   * (AUDIT_RETENTION); 0 or absent = kept for ever. Applied once an hour. */
  hourlyRetentionMs?: number;
  eventsRetentionMs?: number;
  auditRetentionMs?: number;
  offlineAfterMs: number;
  /**
   * The content store's root for the clean-up of unreferenced files. Default: `content/` beside the database
   * file (the DATA_DIR layout, docs/server.md); none for an in-memory database.
   */
  contentRoot?: string | null;
  /** How old an unreferenced content file must be before it is removed (default 24 h). */
  contentGraceMs?: number;
}

/** The maintenance settings of the server's configuration: one mapping for the server and bench/db-size.ts. */
export function maintenanceOptionsOf(
  config: Pick<
    ServerConfig,
    | 'MAINTENANCE_INTERVAL'
    | 'HEALTH_RETENTION'
    | 'HEALTH_HOURLY_RETENTION'
    | 'EVENTS_RETENTION'
    | 'AUDIT_RETENTION'
    | 'OFFLINE_AFTER'
  >,
  contentRoot: string | null,
): MaintenanceOptions {
  return {
    intervalMs: config.MAINTENANCE_INTERVAL,
    retentionMs: config.HEALTH_RETENTION,
    hourlyRetentionMs: config.HEALTH_HOURLY_RETENTION,
    eventsRetentionMs: config.EVENTS_RETENTION,
    auditRetentionMs: config.AUDIT_RETENTION,
    offlineAfterMs: config.OFFLINE_AFTER,
    contentRoot,
  };
}

export function createMaintenance(db: Database, options: MaintenanceOptions, log: Logger) {
  const getState = db.prepare('SELECT value FROM server_state WHERE key = ?').pluck();
  const setState = db.prepare(
    'INSERT INTO server_state (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value',
  );
  const oldestReceived = db.prepare('SELECT min(received_ts) FROM health').pluck();
  const rollup = db.prepare(
    `INSERT INTO health_hourly (device_id, hour, samples, cpu_avg, cpu_max, mem_avg, mem_max, disk_used_max, disk_free_min, temp_max)
     SELECT device_id, (received_ts / ${HOUR}) * ${HOUR}, count(*), avg(cpu_load), max(cpu_load), avg(mem_used), max(mem_used),
            max(disk_used), min(disk_free), max(temp_c)
     FROM health WHERE received_ts >= ? AND received_ts < ?
     GROUP BY device_id, received_ts / ${HOUR}
     ON CONFLICT(device_id, hour) DO UPDATE SET samples = excluded.samples, cpu_avg = excluded.cpu_avg, cpu_max = excluded.cpu_max,
       mem_avg = excluded.mem_avg, mem_max = excluded.mem_max, disk_used_max = excluded.disk_used_max,
       disk_free_min = excluded.disk_free_min, temp_max = excluded.temp_max`,
  );
  const deleteOld = db.prepare(
    `DELETE FROM health WHERE (device_id, series, seq) IN
       (SELECT device_id, series, seq FROM health WHERE received_ts < ? LIMIT ${DELETE_CHUNK})`,
  );
  const contentRoot =
    options.contentRoot !== undefined ? options.contentRoot : db.memory ? null : join(dirname(db.name), 'content');
  const contentGc = contentRoot
    ? createContentGc(db, { root: contentRoot, ...(options.contentGraceMs ? { graceMs: options.contentGraceMs } : {}) })
    : null;
  let contentGcDue = 0;
  let longRetentionDue = 0;
  const deviceIds = db.prepare('SELECT id FROM devices').pluck();
  // Roll-ups: by device, along the primary key (device_id, hour), so no whole-table scan.
  const deleteHourly = db.prepare('DELETE FROM health_hourly WHERE device_id = ? AND hour < ?');
  // Events: ids grow with receipt, so the oldest chunk by id is where old rows are; at most DELETE_CHUNK looked at.
  const deleteEvents = db.prepare(
    `DELETE FROM device_events WHERE id IN
       (SELECT id FROM (SELECT id, received_ts FROM device_events ORDER BY id LIMIT ${DELETE_CHUNK}) WHERE received_ts < ?)`,
  );
  const deleteAudit = db.prepare(
    `DELETE FROM audit WHERE id IN (SELECT id FROM audit WHERE ts < ? ORDER BY ts LIMIT ${DELETE_CHUNK})`,
  );
  const sweepOffline = db.prepare('UPDATE devices SET online = 0 WHERE online = 1 AND (last_seen IS NULL OR last_seen < ?)');

  /** Rolls up every complete hour since the last run (received_ts only grows, so each hour is rolled up once). */
  function rollUp(now: number): number {
    const until = Math.floor(now / HOUR) * HOUR;
    const stored = getState.get('health_rollup_until') as string | undefined;
    const oldest = oldestReceived.get() as number | null;
    const from = stored !== undefined ? Number(stored) : oldest === null ? until : Math.floor(oldest / HOUR) * HOUR;
    if (from >= until) return 0;
    return db.transaction(() => {
      const rows = rollup.run(from, until).changes;
      setState.run('health_rollup_until', String(until));
      return rows;
    })();
  }

  /** Deletes raw rows past retention, but never rows not rolled up yet. */
  function applyRetention(now: number): number {
    const rolledUntil = Number((getState.get('health_rollup_until') as string | undefined) ?? 0);
    const cutoff = Math.min(now - options.retentionMs, rolledUntil);
    let deleted = 0;
    for (let i = 0; i < MAX_DELETE_CHUNKS; i++) {
      const n = deleteOld.run(cutoff).changes;
      deleted += n;
      if (n < DELETE_CHUNK) break;
    }
    return deleted;
  }

  function chunked(run: () => number): number {
    let deleted = 0;
    for (let i = 0; i < MAX_DELETE_CHUNKS; i++) {
      const n = run();
      deleted += n;
      if (n < DELETE_CHUNK) break;
    }
    return deleted;
  }

  /** Roll-ups, events and audit past their retention; at most once an hour (their retentions are months). */
  function applyLongRetention(now: number, force = false) {
    const result = { hourly: 0, events: 0, audit: 0 };
    if (!force && now < longRetentionDue) return result;
    longRetentionDue = now + HOUR;
    if (options.hourlyRetentionMs) {
      const cutoff = now - options.hourlyRetentionMs;
      result.hourly = db.transaction(() =>
        (deviceIds.all() as string[]).reduce((n, id) => n + deleteHourly.run(id, cutoff).changes, 0),
      )();
    }
    if (options.eventsRetentionMs) {
      const cutoff = now - options.eventsRetentionMs;
      result.events = chunked(() => deleteEvents.run(cutoff).changes);
    }
    if (options.auditRetentionMs) {
      const cutoff = now - options.auditRetentionMs;
      result.audit = chunked(() => deleteAudit.run(cutoff).changes);
    }
    return result;
  }

  /** Walks the store at most once an hour (a directory walk; the grace period is a day anyway). */
  function collectContent(now: number, force = false): ContentGcResult | null {
    if (!contentGc || (!force && now < contentGcDue)) return null;
    contentGcDue = now + HOUR;
    return contentGc.run(now);
  }

  function runOnce(now = Date.now()) {
    const result = {
      rolledUp: rollUp(now),
      deleted: applyRetention(now),
      retention: applyLongRetention(now),
      markedOffline: sweepOffline.run(now - options.offlineAfterMs).changes,
      expiredCommands: expireCommands(db, now),
      expiredSessions: deleteExpiredSessions(db, now),
      content: collectContent(now),
    };
    const { hourly, events, audit } = result.retention;
    if (
      result.deleted ||
      hourly ||
      events ||
      audit ||
      result.markedOffline ||
      result.expiredCommands ||
      result.content?.deletedFiles
    ) {
      log.info(result, 'maintenance');
    }
    return result;
  }

  let timer: NodeJS.Timeout | null = null;
  return {
    runOnce,
    /** Runs the content clean-up now (e.g. right after a retire), whatever the hourly schedule. */
    collectContent: (now = Date.now()) => collectContent(now, true),
    /** Applies the roll-up, event and audit retentions now, whatever the hourly schedule. */
    applyLongRetention: (now = Date.now()) => applyLongRetention(now, true),
    start(): void {
      timer = setInterval(() => {
        try {
          runOnce();
        } catch (error) {
          log.error({ err: error }, 'maintenance failed');
        }
      }, options.intervalMs);
      timer.unref();
    },
    stop(): void {
      if (timer) clearInterval(timer);
      timer = null;
    },
  };
}
