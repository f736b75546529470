/**
 * Alerts the department acts on (issue 7/8): devices offline longer than OFFLINE_AFTER, disk over 90% in the
 * newest health sample, content not synced for 7 days, clock skew reported in the last 7 days, repeated
 * download failures. Computed from what is stored when asked, so they are never stale.
 */
import { SYNC_FAILURE_LIMIT } from '../coverage/fleet-rules.js';
import type { AlertSourceRow, DashboardRepo } from './dashboard-repo.js';

export const ALERT_TYPES = ['offline', 'disk', 'not_synced', 'clock_skew', 'download_failures', 'manifest_expired'] as const;
export type AlertType = (typeof ALERT_TYPES)[number];

const DAY_MS = 86_400_000;
/** `download_failures` is fleet-rules.ts's sync problem (its `SYNC_FAILURE_LIMIT`), not a limit of its own. */
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

/** Every current alert, critical first, then the oldest first (what has been wrong longest). */
export function currentAlerts(repo: DashboardRepo, now: number, offlineAfterMs: number): Alert[] {
  const alerts = repo
    .alertSources({
      onlineSince: now - offlineAfterMs,
      syncBefore: now - ALERT_LIMITS.notSyncedMs,
      eventsSince: now - ALERT_LIMITS.skewWindowMs,
      diskLimit: ALERT_LIMITS.diskPercent,
      failureLimit: ALERT_LIMITS.downloadFailures,
    })
    .map(toAlert);
  return alerts.sort(
    (a, b) =>
      (a.severity === b.severity ? 0 : a.severity === 'critical' ? -1 : 1) ||
      (a.since ?? 0) - (b.since ?? 0) ||
      ALERT_TYPES.indexOf(a.type) - ALERT_TYPES.indexOf(b.type) ||
      a.deviceId.localeCompare(b.deviceId),
  );
}
