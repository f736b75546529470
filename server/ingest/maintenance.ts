/**
 * Periodic upkeep: hourly health roll-ups, raw-health retention (and, hourly, the retention of roll-ups, events
 * and audit records), the offline sweep (a device silent for
 * OFFLINE_AFTER is offline even without a last will), command expiry, expired sessions, and (hourly) the removal
 * of content files nothing references any more (`content-gc.ts`). Runs on an unref'd
 * timer that close() stops. The sweeps come first (each a single statement); the large steps — an hour's roll-up,
 * the raw rows past retention: at 10 000 kiosks a million rows or more — go in slices of `stepRows` rows, each its
 * own transaction, and the timer's run lets the event loop in between slices, so devices are acknowledged and the
 * dashboard answers meanwhile (in one go, an hour of 1 000 000 rows held the event loop for 1.6 s, 14 s with their
 * deletion: docs/performance.md, "Issue 18, ninth session").
 */
import { dirname, join } from 'node:path';
import type { Logger } from 'pino';
import { deleteExpiredSessions } from '../auth/users-repo.js';
import { expireCommands } from '../commands/commands-repo.js';
import type { ServerConfig } from '../config.js';
import type { Database } from '../db/open-database.js';
import { type ContentGcResult, createContentGc } from './content-gc.js';

const HOUR = 3_600_000;
/**
 * An hour is rolled up once it ended this long ago: a sample is stamped with `received_ts` when it arrives and
 * written when its batch commits, later under a WAL restart or a backlog, and a done hour is never read again.
 */
export const ROLLUP_GRACE_MS = 5 * 60_000;
/**
 * Rows of one roll-up slice or one delete chunk. `npm run bench:maintenance` held the event loop 24–32 ms at most a
 * step, with read slices of 10 000 rows (its rows share a millisecond per minute) and delete chunks of 2 000.
 */
export const MAINTENANCE_STEP_ROWS = 2_000;
/** Hours one run rolls up at most: a backlog (a restored database, a long outage) catches up over several runs. */
export const ROLLUP_HOURS_PER_RUN = 24;
/** Rows one run deletes from one table at most (16 666 a second at the default interval); the rest waits a run. */
const MAX_DELETE_ROWS = 1_000_000;

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
  /** Rows per roll-up slice and per delete chunk (default MAINTENANCE_STEP_ROWS). */
  stepRows?: number;
}

export interface MaintenanceResult {
  /** Roll-up rows written: one per device and hour rolled up. */
  rolledUp: number;
  deleted: number;
  retention: { hourly: number; events: number; audit: number };
  markedOffline: number;
  expiredCommands: number;
  expiredSessions: number;
  content: ContentGcResult | null;
}

/** One health row as the roll-up reads it: device_id, cpu_load, mem_used, disk_used, disk_free, temp_c. */
type SampleRow = [string, number, number, number, number, number | null];

/** A device's hour so far. */
interface HourFigures {
  samples: number;
  cpuSum: number;
  cpuMax: number;
  memSum: number;
  memMax: number;
  diskMax: number;
  freeMin: number;
  tempMax: number | null;
}

function add(figures: Map<string, HourFigures>, [deviceId, cpu, mem, disk, free, temp]: SampleRow): void {
  const f = figures.get(deviceId);
  if (!f) {
    figures.set(deviceId, {
      samples: 1,
      cpuSum: cpu,
      cpuMax: cpu,
      memSum: mem,
      memMax: mem,
      diskMax: disk,
      freeMin: free,
      tempMax: temp,
    });
    return;
  }
  f.samples++;
  f.cpuSum += cpu;
  f.cpuMax = Math.max(f.cpuMax, cpu);
  f.memSum += mem;
  f.memMax = Math.max(f.memMax, mem);
  f.diskMax = Math.max(f.diskMax, disk);
  f.freeMin = Math.min(f.freeMin, free);
  if (temp !== null) f.tempMax = f.tempMax === null ? temp : Math.max(f.tempMax, temp);
}

/** A run as steps: each `yield` is a point between two transactions where the timer lets the event loop run. */
type Steps<T> = Generator<void, T, void>;

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
  const stepRows = options.stepRows ?? MAINTENANCE_STEP_ROWS;
  const maxDeleteChunks = Math.ceil(MAX_DELETE_ROWS / stepRows);
  const getState = db.prepare('SELECT value FROM server_state WHERE key = ?').pluck();
  const setState = db.prepare(
    'INSERT INTO server_state (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value',
  );
  // The first row at or after an instant, and where a slice of `stepRows` rows from one ends (the received_ts of
  // the row after it): both walk the health_received index.
  const firstReceived = db.prepare('SELECT min(received_ts) FROM health WHERE received_ts >= ?').pluck();
  const sliceEnd = db
    .prepare('SELECT received_ts FROM health WHERE received_ts >= ? AND received_ts < ? ORDER BY received_ts LIMIT 1 OFFSET ?')
    .pluck();
  const readSlice = db
    .prepare(
      'SELECT device_id, cpu_load, mem_used, disk_used, disk_free, temp_c FROM health WHERE received_ts >= ? AND received_ts < ?',
    )
    .raw();
  // An hour's row is written whole (a redone hour replaces it: the roll-up of an hour is idempotent).
  const putHour = db.prepare(
    `INSERT INTO health_hourly (device_id, hour, samples, cpu_avg, cpu_max, mem_avg, mem_max, disk_used_max, disk_free_min, temp_max)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
     ON CONFLICT(device_id, hour) DO UPDATE SET samples = excluded.samples, cpu_avg = excluded.cpu_avg, cpu_max = excluded.cpu_max,
       mem_avg = excluded.mem_avg, mem_max = excluded.mem_max, disk_used_max = excluded.disk_used_max,
       disk_free_min = excluded.disk_free_min, temp_max = excluded.temp_max`,
  );
  const deleteOld = db.prepare(
    `DELETE FROM health WHERE (device_id, series, seq) IN
       (SELECT device_id, series, seq FROM health WHERE received_ts < ? LIMIT ${stepRows})`,
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
  // Events: ids grow with receipt, so the oldest chunk by id is where old rows are; at most `stepRows` looked at.
  const deleteEvents = db.prepare(
    `DELETE FROM device_events WHERE id IN
       (SELECT id FROM (SELECT id, received_ts FROM device_events ORDER BY id LIMIT ${stepRows}) WHERE received_ts < ?)`,
  );
  const deleteAudit = db.prepare(
    `DELETE FROM audit WHERE id IN (SELECT id FROM audit WHERE ts < ? ORDER BY ts LIMIT ${stepRows})`,
  );
  const sweepOffline = db.prepare('UPDATE devices SET online = 0 WHERE online = 1 AND (last_seen IS NULL OR last_seen < ?)');

  /**
   * Rolls up every complete hour since the last run, one hour at a time: its rows read `stepRows` at a time along
   * received_ts (a slice ends at a millisecond boundary, so it may hold more when many share one) and summed here,
   * then its rows of health_hourly written `stepRows` devices a transaction, the last one also recording the hour
   * as done. A run stopped anywhere in an hour leaves it not done, and the next run does it again from the start:
   * its rows are replaced, not added to. received_ts only grows and an hour is read ROLLUP_GRACE_MS after its end,
   * so a done hour gets no new rows.
   */
  function* rollUp(now: number): Steps<number> {
    const until = Math.floor((now - ROLLUP_GRACE_MS) / HOUR) * HOUR;
    let written = 0;
    for (let hours = 0; hours < ROLLUP_HOURS_PER_RUN; hours++) {
      const stored = getState.get('health_rollup_until') as string | undefined;
      const first = firstReceived.get(stored === undefined ? 0 : Number(stored)) as number | null;
      if (first === null || first >= until) return written;
      const hour = Math.floor(first / HOUR) * HOUR;
      const figures = new Map<string, HourFigures>();
      for (let from = hour; from < hour + HOUR; ) {
        const next = sliceEnd.get(from, hour + HOUR, stepRows) as number | undefined;
        const end = next === undefined ? hour + HOUR : Math.max(next, from + 1);
        for (const row of readSlice.all(from, end) as SampleRow[]) add(figures, row);
        from = end;
        yield;
      }
      const devices = [...figures];
      for (let i = 0; i < devices.length; i += stepRows) {
        const done = i + stepRows >= devices.length;
        db.transaction(() => {
          for (const [deviceId, f] of devices.slice(i, i + stepRows)) {
            putHour.run(
              deviceId,
              hour,
              f.samples,
              f.cpuSum / f.samples,
              f.cpuMax,
              f.memSum / f.samples,
              f.memMax,
              f.diskMax,
              f.freeMin,
              f.tempMax,
            );
          }
          if (done) setState.run('health_rollup_until', String(hour + HOUR));
        })();
        yield;
      }
      written += devices.length;
    }
    return written;
  }

  /** Runs a delete of at most `stepRows` rows until one deletes fewer (at most MAX_DELETE_ROWS a run). */
  function* chunked(run: () => number): Steps<number> {
    let deleted = 0;
    for (let i = 0; i < maxDeleteChunks; i++) {
      const n = run();
      deleted += n;
      if (n < stepRows) break;
      yield;
    }
    return deleted;
  }

  /** Deletes raw rows past retention, but never rows not rolled up yet. */
  function applyRetention(now: number): Steps<number> {
    const rolledUntil = Number((getState.get('health_rollup_until') as string | undefined) ?? 0);
    const cutoff = Math.min(now - options.retentionMs, rolledUntil);
    return chunked(() => deleteOld.run(cutoff).changes);
  }

  /** Roll-ups, events and audit past their retention; at most once an hour (their retentions are months). */
  function* applyLongRetention(now: number, force = false): Steps<MaintenanceResult['retention']> {
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
      result.events = yield* chunked(() => deleteEvents.run(cutoff).changes);
    }
    if (options.auditRetentionMs) {
      const cutoff = now - options.auditRetentionMs;
      result.audit = yield* chunked(() => deleteAudit.run(cutoff).changes);
    }
    return result;
  }

  /** Walks the store at most once an hour (a directory walk; the grace period is a day anyway). */
  function collectContent(now: number, force = false): ContentGcResult | null {
    if (!contentGc || (!force && now < contentGcDue)) return null;
    contentGcDue = now + HOUR;
    return contentGc.run(now);
  }

  function* run(now: number): Steps<MaintenanceResult> {
    // The sweeps first: a long roll-up or a failing step does not keep them from running.
    const markedOffline = sweepOffline.run(now - options.offlineAfterMs).changes;
    const expiredCommands = expireCommands(db, now);
    const expiredSessions = deleteExpiredSessions(db, now);
    const rolledUp = yield* rollUp(now);
    const deleted = yield* applyRetention(now);
    const retention = yield* applyLongRetention(now);
    const result: MaintenanceResult = {
      rolledUp,
      deleted,
      retention,
      markedOffline,
      expiredCommands,
      expiredSessions,
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

  /** Runs `steps` to the end at once. */
  function drain<T>(steps: Steps<T>): T {
    for (;;) {
      const step = steps.next();
      if (step.done) return step.value;
    }
  }

  let timer: NodeJS.Timeout | null = null;
  /** Counts the `stop` calls: a run started before one ends at its next step, even if `start` came since. */
  let stops = 0;
  /** A timer's run is under way (the timer's runs never overlap: a tick that finds one skips). */
  let running = false;

  /** A run that lets the event loop in between its slices; null when `stop` ended it between two of them. */
  async function runYielding(now = Date.now()): Promise<MaintenanceResult | null> {
    const startedAfter = stops;
    const steps = run(now);
    for (;;) {
      const step = steps.next();
      if (step.done) return step.value;
      await new Promise<void>((resolve) => setImmediate(resolve));
      if (stops !== startedAfter) return null;
    }
  }

  return {
    /** One whole run now, in one go (tests, tools). */
    runOnce: (now = Date.now()) => drain(run(now)),
    /** One run as the timer makes it: the event loop runs between its slices. */
    runYielding,
    /** Runs the content clean-up now (e.g. right after a retire), whatever the hourly schedule. */
    collectContent: (now = Date.now()) => collectContent(now, true),
    /** Applies the roll-up, event and audit retentions now, whatever the hourly schedule. */
    applyLongRetention: (now = Date.now()) => drain(applyLongRetention(now, true)),
    start(): void {
      timer = setInterval(() => {
        if (running) return;
        running = true;
        runYielding()
          .catch((error) => log.error({ err: error }, 'maintenance failed'))
          .finally(() => {
            running = false;
          });
      }, options.intervalMs);
      timer.unref();
    },
    /** Stops the timer; a run under way ends at its next slice boundary (before the caller closes the database). */
    stop(): void {
      stops++;
      if (timer) clearInterval(timer);
      timer = null;
    },
  };
}
