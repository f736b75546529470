/**
 * The running server's scheduled backups (BACKUP_DIR, BACKUP_INTERVAL, BACKUP_RETENTION): one at a time, on an
 * unref'd timer; each result goes to the log, to /metrics (`fleet_backup_*`) and to `status()`, which the
 * dashboard shows (GET /api/v1/backups).
 */
import type { Logger } from 'pino';
import type { Retention } from '../config.js';
import type { Database } from '../db/open-database.js';
import type { ServerMetrics } from '../http/metrics.js';
import { type BackupResult, backupTime, listBackups, readManifest, runBackup } from './backup.js';

export interface BackupScheduleOptions {
  db: Database;
  dataDir: string;
  backupDir: string;
  intervalMs: number;
  retention: Retention;
  metrics: ServerMetrics;
  log: Logger;
}

export interface BackupStatus {
  configured: true;
  backupDir: string;
  intervalMs: number;
  running: boolean;
  lastSuccess: { name: string; finishedAt: string; durationMs: number; bytesWritten: number | null } | null;
  lastFailure: { at: string; error: string } | null;
  nextAt: string | null;
  backups: string[];
}

/** After a failure the next try comes sooner than a whole interval. */
const RETRY_AFTER_MS = 3_600_000;

export function createBackupSchedule(options: BackupScheduleOptions) {
  const { metrics, log } = options;
  let timer: NodeJS.Timeout | null = null;
  let running: Promise<BackupResult> | null = null;
  /** The backup that starts when the running one ends: what callers of runNow() during a backup get. */
  let queued: Promise<BackupResult> | null = null;
  let stopped = false;
  let nextAt: number | null = null;
  let lastSuccess: BackupStatus['lastSuccess'] = null;
  let lastFailure: BackupStatus['lastFailure'] = null;

  function schedule(delayMs: number): void {
    if (stopped) return;
    if (timer) clearTimeout(timer);
    nextAt = Date.now() + delayMs;
    timer = setTimeout(() => {
      timer = null;
      // Due while one is under way (asked for by hand): that one is the schedule's, it reschedules when done.
      if (!running) runNow().catch(() => {});
    }, delayMs);
    timer.unref();
  }

  /**
   * Takes a backup now and resolves with it: it holds everything committed before the call. While one is under
   * way (it may have started before what the caller just wrote), the caller gets the next one, started when that
   * ends; callers meanwhile share it.
   */
  function runNow(): Promise<BackupResult> {
    if (!running) return start();
    queued ??= running
      .then(
        () => {},
        () => {},
      )
      .then(() => {
        queued = null;
        if (stopped) throw new Error('the server is stopping: no backup started');
        return running ?? start();
      });
    return queued;
  }

  function start(): Promise<BackupResult> {
    running = (async () => {
      const started = Date.now();
      try {
        const result = await runBackup({
          db: options.db,
          dataDir: options.dataDir,
          backupDir: options.backupDir,
          retention: options.retention,
        });
        const durationS = (Date.now() - started) / 1000;
        lastSuccess = {
          name: result.name,
          finishedAt: result.manifest.finishedAt,
          durationMs: result.manifest.durationMs,
          bytesWritten: result.bytesWritten,
        };
        metrics.backupLastSuccess.set(Date.parse(result.manifest.finishedAt) / 1000);
        metrics.backupLastDuration.set(durationS);
        metrics.backupLastBytes.set(result.bytesWritten);
        log.info(
          {
            backup: result.path,
            durationMs: result.manifest.durationMs,
            bytesWritten: result.bytesWritten,
            content: result.manifest.content,
            pruned: result.pruned,
          },
          'backup done and checked',
        );
        schedule(options.intervalMs);
        return result;
      } catch (error) {
        metrics.backupFailures.inc();
        metrics.backupLastDuration.set((Date.now() - started) / 1000);
        lastFailure = { at: new Date().toISOString(), error: (error as Error).message };
        log.error({ err: error, backupDir: options.backupDir }, 'backup failed');
        schedule(Math.min(options.intervalMs, RETRY_AFTER_MS));
        throw error;
      } finally {
        running = null;
      }
    })();
    return running;
  }

  return {
    runNow,
    /** Reads the newest backup already there (its time feeds /metrics) and plans the next one. */
    async start(): Promise<void> {
      let newest: string | undefined;
      try {
        newest = (await listBackups(options.backupDir)).at(-1);
      } catch (error) {
        // The server runs without its backups rather than not at all; the first backup will fail and say why.
        log.error({ err: error, backupDir: options.backupDir }, 'backup directory unreadable');
      }
      let lastAt = 0;
      if (newest) {
        try {
          const manifest = await readManifest(`${options.backupDir}/${newest}`);
          lastAt = Date.parse(manifest.finishedAt);
          lastSuccess = { name: newest, finishedAt: manifest.finishedAt, durationMs: manifest.durationMs, bytesWritten: null };
        } catch {
          lastAt = backupTime(newest);
        }
        metrics.backupLastSuccess.set(lastAt / 1000);
      }
      schedule(Math.max(0, lastAt + options.intervalMs - Date.now()));
    },
    async status(): Promise<BackupStatus> {
      return {
        configured: true,
        backupDir: options.backupDir,
        intervalMs: options.intervalMs,
        running: running !== null,
        lastSuccess,
        lastFailure,
        nextAt: nextAt === null ? null : new Date(nextAt).toISOString(),
        backups: await listBackups(options.backupDir).catch(() => []),
      };
    },
    /** Stops the timer and waits for a backup under way. */
    async stop(): Promise<void> {
      stopped = true;
      if (timer) clearTimeout(timer);
      timer = null;
      await running?.catch(() => {});
      await queued?.catch(() => {});
    },
  };
}
export type BackupSchedule = ReturnType<typeof createBackupSchedule>;
