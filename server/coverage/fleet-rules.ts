/**
 * Two rules the coverage, the dashboard's site table and the alerts all apply, defined here once (each in its
 * JavaScript form and its SQL form, which tests/report-yearly.test.ts and tests/coverage-repo.test.ts hold equal):
 * - a device COUNTS for its site from max(first connected, first manifest applied) until it is decommissioned
 *   (`countingWindow` in engine.ts is the JavaScript form; `countsNowSql` the SQL one at an instant);
 * - a device has a SYNC PROBLEM when its last sync report failed, or when its downloads failed
 *   SYNC_FAILURE_LIMIT times in a row (the agent retries and reports `downloading` with a growing `failures`).
 */

import { LIMITS } from '../../protocol/index.js';

/**
 * The floor of the OFFLINE rule (a device silent longer than OFFLINE_AFTER is offline; server/config.ts refuses a
 * shorter one): twice the longest a healthy kiosk holds its health samples before sending them
 * (LIMITS.maxHealthSendIntervalS, the bound of AGENT_HEALTH_SEND_INTERVAL_S), so a batch late by a whole interval
 * still does not show a healthy kiosk offline.
 */
export const MIN_OFFLINE_AFTER_MS = 2 * LIMITS.maxHealthSendIntervalS * 1000;

/** Failed downloads in a row that make a sync problem even while the agent is still retrying. */
export const SYNC_FAILURE_LIMIT = 3;

/** The sync-problem rule over a device's last sync report (null: it never reported). */
export function isSyncProblem(report: { state: string; failures: number } | null | undefined): boolean {
  if (!report) return false;
  return report.state === 'failed' || report.failures >= SYNC_FAILURE_LIMIT;
}

/**
 * The same rule in SQL over a `device_sync` row. Written exactly as the partial index of migration 307
 * (`device_sync_problem`) so SQLite can use it.
 */
export const syncProblemSql = (alias: string) => `(${alias}.state = 'failed' OR ${alias}.failures >= 3)`;

/**
 * Counts at @now (1, else 0): active, connected and equipped at or before @now, not decommissioned by then. A CASE,
 * not a product of the three tests: it stops at the first false one (a third of the per-row cost of the communes'
 * whole-list pass over 45 000 devices).
 */
export const countsNowSql = (alias = '') => {
  const p = alias ? `${alias}.` : '';
  return `(CASE WHEN ${p}status = 'active' AND ifnull(max(${p}first_seen, ${p}equipped_at), 9e15) <= @now AND ifnull(${p}decommissioned_at, 9e15) > @now THEN 1 ELSE 0 END)`;
};
