/**
 * Alerts the department acts on (issue 7/8): devices offline longer than OFFLINE_AFTER, disk over 90% in the
 * newest health sample, content not synced for 7 days, clock skew reported in the last 7 days, repeated
 * download failures. Computed from what is stored when asked, so they are never stale: each kind is one indexed
 * query over the devices it can concern (dashboard-repo.ts, migration 308), and a page merges the first rows of
 * each kind, so a request costs what the alerts it shows and counts cost, not a pass over every device.
 */
import { ALERT_TYPES } from '../../protocol/constants.js';
import { SYNC_FAILURE_LIMIT } from '../coverage/fleet-rules.js';
import type { AlertParams, AlertSourceRow, DashboardRepo } from './dashboard-repo.js';

export { ALERT_TYPES };
export type AlertType = (typeof ALERT_TYPES)[number];

const DAY_MS = 86_400_000;
/**
 * `download_failures` is fleet-rules.ts's sync problem (its `SYNC_FAILURE_LIMIT`), not a limit of its own.
 * `diskPercent` is also written in migration 308 (the triggers keeping `dashboard_disk_full`): change both.
 */
export const ALERT_LIMITS = {
  diskPercent: 90,
  notSyncedMs: 7 * DAY_MS,
  skewWindowMs: 7 * DAY_MS,
  downloadFailures: SYNC_FAILURE_LIMIT,
};

const SEVERITY: Record<AlertType, 'critical' | 'warning'> = {
  offline: 'critical',
  disk: 'warning',
  not_synced: 'warning',
  clock_skew: 'warning',
  download_failures: 'critical',
  // The kiosk refused an expired manifest (DESIGN §7 freeze): it keeps old content until the server renews it.
  manifest_expired: 'critical',
};

export interface Alert {
  id: string;
  type: AlertType;
  severity: 'critical' | 'warning';
  deviceId: string;
  siteId: string | null;
  siteName: string | null;
  districtName: string | null;
  /** Since when (ms): last seen, first sample over the limit, last sync report, first skew event. */
  since: number | null;
  value: number | null;
  detail: string | null;
}

function toAlert(row: AlertSourceRow): Alert {
  return {
    id: `${row.kind}:${row.deviceId}`,
    type: row.kind,
    severity: SEVERITY[row.kind],
    deviceId: row.deviceId,
    siteId: row.siteId,
    siteName: row.siteName,
    districtName: row.districtName,
    since: row.since,
    value: row.value,
    detail: row.detail,
  };
}

/**
 * The order of alerts: critical first, then the oldest first (what has been wrong longest), then by kind, then by
 * device id (code-point order, as SQLite's ORDER BY: each kind's rows come from SQL in this order).
 */
function compareAlerts(a: Alert, b: Alert): number {
  return (
    (a.severity === b.severity ? 0 : a.severity === 'critical' ? -1 : 1) ||
    (a.since ?? 0) - (b.since ?? 0) ||
    ALERT_TYPES.indexOf(a.type) - ALERT_TYPES.indexOf(b.type) ||
    (a.deviceId === b.deviceId ? 0 : a.deviceId < b.deviceId ? -1 : 1)
  );
}

function alertParams(now: number, offlineAfterMs: number): AlertParams {
  return {
    onlineSince: now - offlineAfterMs,
    syncBefore: now - ALERT_LIMITS.notSyncedMs,
    eventsSince: now - ALERT_LIMITS.skewWindowMs,
    diskLimit: ALERT_LIMITS.diskPercent,
  };
}

/** The first `n` alerts of the given kinds in order (every one when n < 0). */
function firstAlerts(repo: DashboardRepo, kinds: readonly AlertType[], p: AlertParams, n: number): Alert[] {
  // The first n overall are among the first n of each kind.
  return kinds
    .flatMap((kind) => repo.alertRows(kind, p, n))
    .map(toAlert)
    .sort(compareAlerts)
    .slice(0, n < 0 ? undefined : n);
}

/** Every current alert, in order. */
export function currentAlerts(repo: DashboardRepo, now: number, offlineAfterMs: number): Alert[] {
  return repo.snapshot(() => firstAlerts(repo, ALERT_TYPES, alertParams(now, offlineAfterMs), -1));
}

/**
 * One page of the current alerts (of one kind, or all), how many match, and how many there are of each kind; read
 * on one snapshot, so the counts and the page agree while ingest writes.
 */
export function alertsPage(
  repo: DashboardRepo,
  now: number,
  offlineAfterMs: number,
  page: { type?: AlertType | undefined; limit: number; offset: number },
): { total: number; counts: Record<AlertType, number>; alerts: Alert[] } {
  const p = alertParams(now, offlineAfterMs);
  return repo.snapshot(() => {
    const counts = repo.alertCounts(p);
    const total = page.type ? counts[page.type] : ALERT_TYPES.reduce((sum, type) => sum + counts[type], 0);
    const alerts = firstAlerts(repo, page.type ? [page.type] : ALERT_TYPES, p, page.offset + page.limit).slice(page.offset);
    return { total, counts, alerts };
  });
}
