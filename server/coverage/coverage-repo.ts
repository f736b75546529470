/** Plans and the rows the coverage engine reads. The coverage module's SQL lives here and nowhere else. */
import type { SiteKind } from '../../protocol/index.js';
import type { Database } from '../db/open-database.js';
import type { SiteFleet, SiteProgress } from './communes.js';
import type { CoverageOptions, CoverageSite, SiteSpans, SiteWindows } from './engine.js';
import { countsNowSql, syncProblemSql } from './fleet-rules.js';
import { checkPlanSites, type Plan, type PlanSummary, parsePlan, type SiteRef, summarizePlan } from './plan.js';

interface SiteRow {
  id: string;
  kind: SiteKind;
  name: string;
  parent_id: string | null;
  border: number;
  admin_code: string | null;
  valid_from: string | null;
  valid_to: string | null;
}

export function readCoverageSites(db: Database): CoverageSite[] {
  const rows = db
    .prepare('SELECT id, kind, name, parent_id, border, admin_code, valid_from, valid_to FROM sites')
    .all() as SiteRow[];
  return rows.map((r) => ({
    id: r.id,
    kind: r.kind,
    name: r.name,
    parentId: r.parent_id,
    border: r.border === 1,
    adminCode: r.admin_code,
    validFrom: r.valid_from,
    validTo: r.valid_to,
  }));
}

/**
 * The site registry, re-read whenever it changed (migration 302 bumps a version on every insert, update and
 * delete of a site) and otherwise kept: one tiny query per request instead of 10 000 rows. Sites only; device
 * facts are read fresh on every request.
 */
export function createSitesReader(db: Database): () => readonly CoverageSite[] {
  const versionStmt = db.prepare('SELECT version FROM coverage_sites_version WHERE id = 1').pluck();
  let version: number | null = null;
  let sites: readonly CoverageSite[] = [];
  return () => {
    const current = versionStmt.get() as number;
    if (current !== version) {
      sites = readCoverageSites(db);
      version = current;
    }
    return sites;
  };
}

/**
 * The SQL side of the engine's definitions, so that 50 000 devices do not cross into JavaScript. Each mirrors a
 * function of the engine, and tests/coverage-repo.test.ts checks they agree on varied fleets:
 * - OPEN windows (a device in service, counting since max(first_seen, equipped_at), `countingWindow` with status
 *   active) collapse per site into one, from the earliest start, seen at the latest `last_seen`: migration 303's
 *   `coverage_open_sites` keeps that row (all instants are in the past, so it is exact for "equipped on a day" and
 *   "operational now").
 * - COUNTS_NOW: counts at @now (`countingWindow` contains now), for a device not decommissioned.
 */
const COUNTS_NOW = countsNowSql();
/** Closed windows: decommissioned on a date after they started (`countingWindow` with an end). */
const CLOSED_WINDOWS = (scope = '') => `SELECT site_id, max(first_seen, equipped_at), decommissioned_at, last_seen
  FROM devices INDEXED BY devices_closed
  WHERE decommissioned_at IS NOT NULL AND site_id IS NOT NULL AND first_seen IS NOT NULL AND equipped_at IS NOT NULL
    AND status IN ('active', 'decommissioned') AND decommissioned_at > max(first_seen, equipped_at) ${scope}`;
/** Restricts a read to the sites of one page (a JSON array of ids): index lookups instead of a whole scan. */
const PAGE_SITES = (column: string) => `AND ${column} IN (SELECT value FROM json_each(@ids))`;

type WindowRow = [string, number, number | null, number | null];

function addWindows(windows: SiteWindows, rows: WindowRow[]): SiteWindows {
  for (const [siteId, start, end, lastSeen] of rows) {
    const window = { start, end: end ?? Number.POSITIVE_INFINITY, lastSeen };
    const list = windows.get(siteId);
    if (list) list.push(window);
    else windows.set(siteId, [window]);
  }
  return windows;
}

/**
 * Counting windows per site, as the engine's `windowsBySite` builds them from the devices: the open windows from
 * `coverage_open_sites` (migration 303: kept per site by triggers in the device change's own transaction, so
 * exact and fresh), the closed ones from the decommissioned devices. With `closedSince`, windows closed before
 * that instant are left out: the caller asks nothing earlier (`earliestInstantAsked`), and a window that ended
 * before a day's end cannot make a site equipped on that day nor operational now.
 */
export function readSiteWindows(db: Database, closedSince?: number): SiteWindows {
  const open = db.prepare('SELECT site_id, start, NULL, last_seen FROM coverage_open_sites').raw().all() as WindowRow[];
  const closed =
    closedSince === undefined
      ? db.prepare(CLOSED_WINDOWS()).raw().all()
      : db.prepare(CLOSED_WINDOWS('AND decommissioned_at >= @since')).raw().all({ since: closedSince });
  return addWindows(addWindows(new Map(), open), closed as WindowRow[]);
}

/**
 * The spans of the counting windows per site (`readSiteWindows` without last_seen), re-read whenever one changed
 * (migration 310 bumps a version on every insert and delete of a device and every change of its site, status,
 * first_seen, equipped_at or decommissioned_at) and otherwise kept. The version is read before the rows, so kept
 * rows are never older than the version they are kept under.
 */
export function createSpansReader(db: Database): () => SiteSpans {
  const versionStmt = db.prepare('SELECT version FROM coverage_windows_version WHERE id = 1').pluck();
  const openStmt = db.prepare('SELECT site_id, start, NULL, NULL FROM coverage_open_sites').raw();
  const closedStmt = db.prepare(CLOSED_WINDOWS()).raw();
  let version: number | null = null;
  let spans: SiteSpans = new Map();
  return () => {
    const current = versionStmt.get() as number;
    if (current !== version) {
      spans = addWindows(addWindows(new Map(), openStmt.all() as WindowRow[]), closedStmt.all() as WindowRow[]);
      version = current;
    }
    return spans;
  };
}

type ProgressRow = [string, number, number | null, number | null, number, number, number, number | null, number | null];

/**
 * Per-site progress as `progressFromDevices` defines it (communes.ts) and the counting windows: one pass over the
 * devices in service (each aggregate a FILTER on the counting rule; 45 000 devices × 6 aggregates is most of the
 * whole list's cost) with each site's open window joined from `coverage_open_sites` (as `readSiteWindows` reads
 * it), then the closed windows.
 * With `siteIds`, only those sites' devices are read (one page of the communes table: a few hundred index lookups
 * instead of every device).
 */
export function readSiteFleet(
  db: Database,
  options: Pick<CoverageOptions, 'now' | 'offlineAfterMs'>,
  siteIds?: readonly string[],
  /** As in `readSiteWindows`: closed windows that ended before this instant are left out (the caller asks nothing earlier). */
  closedSince?: number,
): SiteFleet {
  const scope = siteIds ? PAGE_SITES('site_id') : '';
  const ids = siteIds ? { ids: JSON.stringify(siteIds) } : {};
  const rows = db
    .prepare(
      // A device without equipped_at never counts (COUNTS_NOW is 0 for it): tested first, it spares the rule there.
      // Every site with an open window has a device in this pass: its coverage_open_sites row is joined on.
      `SELECT g.*, o.start, o.last_seen FROM (
         SELECT site_id, count(*), max(last_seen), min(content_seq) FILTER (WHERE c),
           count(*) FILTER (WHERE c AND (last_seen IS NULL OR last_seen < @seenAfter)),
           count(*) FILTER (WHERE equipped_at IS NULL AND first_seen IS NOT NULL AND NOT c),
           count(*) FILTER (WHERE c)
         FROM (SELECT site_id, last_seen, content_seq, first_seen, equipped_at, ${COUNTS_NOW} AS c
               FROM devices INDEXED BY devices_progress
               WHERE site_id IS NOT NULL AND status <> 'decommissioned' ${scope})
         GROUP BY site_id) g
       LEFT JOIN coverage_open_sites o ON o.site_id = g.site_id`,
    )
    .raw()
    .all({ now: options.now, seenAfter: options.now - options.offlineAfterMs, ...ids }) as ProgressRow[];
  const failed = new Map(
    db
      .prepare(
        `SELECT d.site_id, count(*) FROM device_sync s INDEXED BY device_sync_problem JOIN devices d ON d.id = s.device_id
         WHERE ${syncProblemSql('s')} AND d.site_id IS NOT NULL AND d.status <> 'decommissioned' ${siteIds ? PAGE_SITES('d.site_id') : ''}
         GROUP BY d.site_id`,
      )
      .raw()
      .all(ids) as [string, number][],
  );
  const progress = new Map<string, SiteProgress>();
  const windows: SiteWindows = new Map();
  for (const [siteId, devices, lastSeen, contentSeq, offline, neverApplied, counting, openStart, openSeen] of rows) {
    progress.set(siteId, {
      devices,
      lastSeen,
      contentSeq,
      problems: { offline, neverApplied, syncFailed: failed.get(siteId) ?? 0 },
      waiting: counting < devices,
    });
    if (openStart !== null) windows.set(siteId, [{ start: openStart, end: Number.POSITIVE_INFINITY, lastSeen: openSeen }]);
  }
  const closed = (
    closedSince === undefined
      ? db.prepare(CLOSED_WINDOWS(scope)).raw().all(ids)
      : db
          .prepare(CLOSED_WINDOWS(`AND decommissioned_at >= @since ${scope}`))
          .raw()
          .all({ ...ids, since: closedSince })
  ) as WindowRow[];
  return { windows: addWindows(windows, closed), progress };
}

/** A stored plan; a definition that no longer passes the schema is reported, not served half-valid. */
export function getPlan(db: Database, id: string): Plan | null {
  const row = db.prepare('SELECT definition FROM plans WHERE id = ?').get(id) as { definition: string } | undefined;
  if (!row) return null;
  return parsePlan(JSON.parse(row.definition));
}

export function listPlans(db: Database): (PlanSummary & { targets: number; loadedAt: number })[] {
  const rows = db.prepare('SELECT definition, loaded_at FROM plans ORDER BY id').all() as {
    definition: string;
    loaded_at: number;
  }[];
  return rows.map((row) => {
    const plan = parsePlan(JSON.parse(row.definition));
    return { ...summarizePlan(plan), targets: plan.targets.length, loadedAt: row.loaded_at };
  });
}

/**
 * Validates a plan (shape, and every site it names against the registry) and stores it, replacing one
 * with the same id. Returns the plan and whether it replaced an earlier version.
 */
export function savePlan(db: Database, input: unknown, now: number): { plan: Plan; replaced: boolean } {
  const plan = parsePlan(input);
  const lookupStmt = db.prepare('SELECT id, parent_id, valid_from, valid_to FROM sites WHERE id = ?');
  const lookup = (id: string): SiteRef | undefined => {
    const row = lookupStmt.get(id) as
      | { id: string; parent_id: string | null; valid_from: string | null; valid_to: string | null }
      | undefined;
    return row && { id: row.id, parentId: row.parent_id, validFrom: row.valid_from, validTo: row.valid_to };
  };
  return db.transaction(() => {
    checkPlanSites(plan, lookup);
    const replaced = db.prepare('SELECT 1 FROM plans WHERE id = ?').get(plan.id) !== undefined;
    db.prepare(
      `INSERT INTO plans (id, definition, loaded_at) VALUES (?, ?, ?)
       ON CONFLICT(id) DO UPDATE SET definition = excluded.definition, loaded_at = excluded.loaded_at`,
    ).run(plan.id, JSON.stringify(plan), now);
    return { plan, replaced };
  })();
}
