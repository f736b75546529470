/**
 * The dashboard's own reads: the district → commune → site table (one page at a time), the map's points and
 * the rows alerts are made of. Prepared once per factory call; every value is a bound parameter and the
 * sort column comes from a fixed list, never from the request text.
 */
import { countsNowSql, syncProblemSql } from '../coverage/fleet-rules.js';
import type { Database } from '../db/open-database.js';
import { createSiteRegistry, type NamedSiteRow, type NameSort, SITES_NAMED } from './site-registry.js';

export const SITE_SORTS = ['district', 'commune', 'name', 'kind', 'devices', 'state', 'lastSeen', 'problems'] as const;
export type SiteSort = (typeof SITE_SORTS)[number];
export const SITE_STATES = ['operational', 'equipped', 'planned', 'none'] as const;
export type SiteState = (typeof SITE_STATES)[number];

export interface SiteQuery {
  q: string | null;
  districtId: string | null;
  communeId: string | null;
  kind: string | null;
  state: SiteState | 'problem' | null;
  sort: SiteSort;
  dir: 'asc' | 'desc';
  limit: number;
  offset: number;
  /** Devices seen at or after this instant are online. */
  onlineSince: number;
  /** The current instant (a device counts at it: fleet-rules.ts); the clock by default. */
  now?: number;
}

export interface SiteRowOut {
  id: string;
  kind: string;
  name: string;
  border: boolean;
  lat: number | null;
  lon: number | null;
  validTo: string | null;
  districtId: string | null;
  districtName: string | null;
  communeId: string | null;
  communeName: string | null;
  devices: number;
  counting: number;
  operational: number;
  planned: number;
  lastSeen: number | null;
  contentSeqMin: number | null;
  contentSeqMax: number | null;
  offline: number;
  syncFailing: number;
  problems: number;
  state: SiteState;
}

// Per-site device figures. Only the devices table is read here (an index on site_id and the aggregated columns
// serves it without touching rows); sync failures are few and counted apart, from device_sync's side (CROSS JOIN
// keeps SQLite from walking every device to look its sync row up).
const deviceFigures = (scope: string) => `
  SELECT dv.site_id,
    count(*) AS devices,
    sum(${countsNowSql('dv')}) AS counting,
    sum(${countsNowSql('dv')} AND dv.last_seen >= @onlineSince) AS operational,
    sum(dv.status IN ('registered', 'provisioned') OR (dv.status = 'active' AND NOT ${countsNowSql('dv')})) AS planned,
    max(dv.last_seen) AS last_seen,
    min(CASE WHEN dv.status = 'active' THEN dv.content_seq END) AS seq_min,
    max(CASE WHEN dv.status = 'active' THEN dv.content_seq END) AS seq_max,
    sum(dv.status = 'active' AND (dv.last_seen IS NULL OR dv.last_seen < @onlineSince)) AS offline
  FROM devices dv
  WHERE dv.site_id IS NOT NULL AND dv.status <> 'decommissioned' ${scope}
  GROUP BY dv.site_id`;
const syncFailing = (scope: string) => `
  SELECT dv.site_id, count(*) AS sync_failing
  FROM device_sync ds CROSS JOIN devices dv ON dv.id = ds.device_id
  WHERE ${syncProblemSql('ds')} AND dv.status = 'active' ${scope}
  GROUP BY dv.site_id`;

const NAME_FILTER = `(@q IS NULL OR name LIKE @q OR commune_name LIKE @q OR district_name LIKE @q OR id LIKE @q)
    AND (@districtId IS NULL OR district_id = @districtId)
    AND (@communeId IS NULL OR commune_id = @communeId)
    AND (@kind IS NULL OR kind = @kind)`;

// State rank: operational 3, equipped (counting but all silent) 2, planned (devices not yet counting) 1, none 0.
const SITE_SELECT = `
  WITH d AS MATERIALIZED (${deviceFigures('')}),
  f AS MATERIALIZED (${syncFailing('')}),
  rows AS (
    SELECT n.*,
      coalesce(d.devices, 0) AS devices, coalesce(d.counting, 0) AS counting,
      coalesce(d.operational, 0) AS operational, coalesce(d.planned, 0) AS planned,
      d.last_seen, d.seq_min, d.seq_max, coalesce(d.offline, 0) AS offline,
      coalesce(f.sync_failing, 0) AS sync_failing,
      coalesce(d.offline, 0) + coalesce(f.sync_failing, 0) AS problems,
      CASE WHEN coalesce(d.operational, 0) > 0 THEN 3 WHEN coalesce(d.counting, 0) > 0 THEN 2
           WHEN coalesce(d.planned, 0) > 0 THEN 1 ELSE 0 END AS state_rank
    FROM (${SITES_NAMED}) n LEFT JOIN d ON d.site_id = n.id LEFT JOIN f ON f.site_id = n.id
  )
  SELECT * FROM rows
  WHERE ${NAME_FILTER}
    AND (@stateRank IS NULL OR state_rank = @stateRank)
    AND (@problem IS NULL OR problems > 0)`;

/** Sorts that need no device figure: the page is chosen from the sites alone, then only its rows are counted. */
const NAME_SORTS: ReadonlySet<SiteSort> = new Set(['district', 'commune', 'name', 'kind']);

// Whole lists (districts, the map) sort in Vietnamese order here; better-sqlite3 cannot give SQLite a collation.
const collator = new Intl.Collator('vi', { sensitivity: 'base', numeric: true });
const NAME_KEYS: Record<'district' | 'commune' | 'name' | 'kind', (keyof NamedSiteRow)[]> = {
  district: ['district_name', 'commune_name', 'name', 'id'],
  commune: ['commune_name', 'name', 'id'],
  name: ['name', 'id'],
  kind: ['kind', 'name', 'id'],
};

function byNames(sort: keyof typeof NAME_KEYS, dir: 'asc' | 'desc') {
  const keys = NAME_KEYS[sort];
  const sign = dir === 'desc' ? -1 : 1;
  return (a: NamedSiteRow, b: NamedSiteRow): number => {
    for (const key of keys) {
      const x = a[key] as string | null;
      const y = b[key] as string | null;
      if (x === y) continue;
      // Sites outside any district or commune come last either way.
      if (x === null) return 1;
      if (y === null) return -1;
      const c = collator.compare(x, y);
      if (c !== 0) return sign * c;
    }
    return 0;
  };
}

/**
 * A name as a sort key: SQLite compares bytes, which puts "Đ" after "Z"; Vietnamese puts đ right after d.
 * (Accented capitals at the start of a name still sort late; the district list and the map use Intl.Collator.)
 */
const vn = (column: string) => `replace(replace(${column}, 'Đ', 'D' || char(127)), 'đ', 'd' || char(127))`;

const ORDER: Record<SiteSort, string> = {
  district: `${vn('district_name')} {dir}, ${vn('commune_name')} {dir}, ${vn('name')} {dir}`,
  commune: `${vn('commune_name')} {dir}, ${vn('name')} {dir}`,
  name: `${vn('name')} {dir}`,
  kind: `kind {dir}, ${vn('name')}`,
  devices: `devices {dir}, ${vn('name')}`,
  state: `state_rank {dir}, ${vn('name')}`,
  lastSeen: `last_seen {dir}, ${vn('name')}`,
  problems: `problems {dir}, ${vn('name')}`,
};

const STATE_BY_RANK: SiteState[] = ['none', 'planned', 'equipped', 'operational'];
const RANK_BY_STATE: Record<SiteState, number> = { none: 0, planned: 1, equipped: 2, operational: 3 };

interface DeviceFigures {
  site_id: string;
  devices: number;
  counting: number;
  operational: number;
  planned: number;
  last_seen: number | null;
  seq_min: number | null;
  seq_max: number | null;
  offline: number;
}

/** A named site (the registry's row) with its device figures. */
interface RawSiteRow extends NamedSiteRow {
  devices: number;
  counting: number;
  operational: number;
  planned: number;
  last_seen: number | null;
  seq_min: number | null;
  seq_max: number | null;
  offline: number;
  sync_failing: number;
  problems: number;
  state_rank: number;
}

function toSiteRow(r: RawSiteRow): SiteRowOut {
  return {
    id: r.id,
    kind: r.kind,
    name: r.name,
    border: r.border === 1,
    lat: r.lat,
    lon: r.lon,
    validTo: r.valid_to,
    districtId: r.district_id,
    districtName: r.district_name,
    communeId: r.commune_id,
    communeName: r.commune_name,
    devices: r.devices,
    counting: r.counting,
    operational: r.operational,
    planned: r.planned,
    lastSeen: r.last_seen,
    contentSeqMin: r.seq_min,
    contentSeqMax: r.seq_max,
    offline: r.offline,
    syncFailing: r.sync_failing,
    problems: r.problems,
    state: STATE_BY_RANK[r.state_rank] ?? 'none',
  };
}

/** Raw material of alerts: one row per device with something wrong, with its site's names. */
export interface AlertSourceRow {
  kind: 'offline' | 'disk' | 'not_synced' | 'clock_skew' | 'download_failures' | 'manifest_expired';
  deviceId: string;
  siteId: string | null;
  siteName: string | null;
  districtName: string | null;
  since: number | null;
  value: number | null;
  detail: string | null;
}

const SITE_NAMES = `LEFT JOIN sites s ON s.id = dv.site_id LEFT JOIN sites p ON p.id = s.parent_id
  LEFT JOIN sites g ON g.id = p.parent_id`;
const DISTRICT_NAME = `CASE WHEN p.kind = 'district' THEN p.name WHEN g.kind = 'district' THEN g.name END`;

export interface DeviceEventOut {
  id: number;
  deviceId: string;
  ts: number | null;
  receivedTs: number;
  source: string;
  type: string;
  severity: string;
  message: string;
}

export function createDashboardRepo(db: Database) {
  const sitePageStmts = new Map<string, ReturnType<Database['prepare']>>();
  const countSites = db.prepare(`SELECT count(*) AS n FROM (${SITE_SELECT})`);
  const registry = createSiteRegistry(db);
  const IDS = `AND dv.site_id IN (SELECT value FROM json_each(@ids))`;
  const figuresFor = db.prepare(deviceFigures(IDS));
  const failingFor = db.prepare(syncFailing(IDS));
  const districts = db.prepare(`SELECT id, name, valid_to AS validTo FROM sites WHERE kind = 'district'`);
  const figuresAll = db.prepare(deviceFigures(''));
  const failingAll = db.prepare(syncFailing(''));
  // Walks the (device_id, id) index backwards: newest first, a page at a time.
  const deviceEvents = db.prepare(`
    SELECT id, device_id AS deviceId, ts, received_ts AS receivedTs, source, type, severity, message
    FROM device_events WHERE device_id = @deviceId AND (@before IS NULL OR id < @before)
    ORDER BY id DESC LIMIT @limit`);
  const deviceExists = db.prepare('SELECT 1 FROM devices WHERE id = ?');

  const offline = db.prepare(`
    SELECT 'offline' AS kind, dv.id AS deviceId, dv.site_id AS siteId, s.name AS siteName,
      ${DISTRICT_NAME} AS districtName, dv.last_seen AS since, NULL AS value, NULL AS detail
    FROM devices dv ${SITE_NAMES}
    WHERE dv.status = 'active' AND dv.last_seen IS NOT NULL AND dv.last_seen < @onlineSince`);
  // The newest sample per device through the (device_id, series, seq) key (a kiosk whose seq restarted has a
  // newer series); then when the current streak over the threshold began: the first sample above it after
  // the last one at or below it, or the first of all when none was at or below it.
  const disk = db.prepare(`
    SELECT 'disk' AS kind, dv.id AS deviceId, dv.site_id AS siteId, s.name AS siteName,
      ${DISTRICT_NAME} AS districtName, h.disk_used AS value, NULL AS detail,
      coalesce(
        (SELECT min(h2.received_ts) FROM health h2 WHERE h2.device_id = dv.id AND (h2.series, h2.seq) >
          (SELECT h3.series, h3.seq FROM health h3 WHERE h3.device_id = dv.id AND h3.disk_used <= @diskLimit
           ORDER BY h3.series DESC, h3.seq DESC LIMIT 1)),
        (SELECT min(h4.received_ts) FROM health h4 WHERE h4.device_id = dv.id)) AS since
    FROM devices dv
      JOIN health h ON h.device_id = dv.id AND (h.series, h.seq) =
        (SELECT series, seq FROM health WHERE device_id = dv.id ORDER BY series DESC, seq DESC LIMIT 1)
      ${SITE_NAMES}
    WHERE dv.status = 'active' AND h.disk_used > @diskLimit`);
  const notSynced = db.prepare(`
    SELECT 'not_synced' AS kind, dv.id AS deviceId, dv.site_id AS siteId, s.name AS siteName,
      ${DISTRICT_NAME} AS districtName,
      CASE WHEN ds.device_id IS NULL THEN dv.first_seen ELSE ds.updated_at END AS since,
      ds.manifest_seq AS value, ds.state AS detail
    FROM devices dv LEFT JOIN device_sync ds ON ds.device_id = dv.id ${SITE_NAMES}
    WHERE dv.status = 'active' AND (
      (ds.device_id IS NULL AND dv.first_seen IS NOT NULL AND dv.first_seen < @syncBefore)
      OR (ds.state <> 'applied' AND ds.updated_at < @syncBefore))`);
  const clockSkew = db.prepare(`
    SELECT 'clock_skew' AS kind, dv.id AS deviceId, dv.site_id AS siteId, s.name AS siteName,
      ${DISTRICT_NAME} AS districtName, min(e.received_ts) AS since, count(*) AS value,
      (SELECT e2.message FROM device_events e2 WHERE e2.device_id = dv.id AND e2.type = 'clock_skew'
        ORDER BY e2.id DESC LIMIT 1) AS detail
    FROM device_events e JOIN devices dv ON dv.id = e.device_id ${SITE_NAMES}
    WHERE e.type = 'clock_skew' AND e.received_ts >= @eventsSince AND dv.status = 'active'
    GROUP BY dv.id`);
  const downloadFailures = db.prepare(`
    SELECT 'download_failures' AS kind, dv.id AS deviceId, dv.site_id AS siteId, s.name AS siteName,
      ${DISTRICT_NAME} AS districtName, ds.updated_at AS since, ds.failures AS value, ds.error AS detail
    FROM device_sync ds CROSS JOIN devices dv ON dv.id = ds.device_id ${SITE_NAMES}
    WHERE dv.status = 'active' AND ${syncProblemSql('ds')}
      AND NOT (ds.state = 'failed' AND substr(ifnull(ds.error, ''), 1, 27) = 'rejected: manifest_expired:')`);
  // The device's last sync report says it refused an expired manifest (DESIGN §7); clears with the next applied one.
  const manifestExpired = db.prepare(`
    SELECT 'manifest_expired' AS kind, dv.id AS deviceId, dv.site_id AS siteId, s.name AS siteName,
      ${DISTRICT_NAME} AS districtName, ds.updated_at AS since, ds.manifest_seq AS value, ds.error AS detail
    FROM device_sync ds CROSS JOIN devices dv ON dv.id = ds.device_id ${SITE_NAMES}
    WHERE dv.status = 'active' AND ds.state = 'failed' AND substr(ds.error, 1, 27) = 'rejected: manifest_expired:'`);

  /** Counts the devices of one page of sites (a few index lookups) and derives each site's state. */
  function withFigures(
    named: NamedSiteRow[],
    onlineSince: number,
    scope: 'these' | 'all' = 'these',
    now: number = Date.now(),
  ): SiteRowOut[] {
    const params = scope === 'all' ? { onlineSince, now } : { ids: JSON.stringify(named.map((r) => r.id)), onlineSince, now };
    const [figureStmt, failingStmt] = scope === 'all' ? [figuresAll, failingAll] : [figuresFor, failingFor];
    const figures = new Map((figureStmt.all(params) as DeviceFigures[]).map((r) => [r.site_id, r]));
    const failing = new Map(
      (failingStmt.all(params) as { site_id: string; sync_failing: number }[]).map((r) => [r.site_id, r.sync_failing]),
    );
    return named.map((n) => {
      const f = figures.get(n.id);
      const counting = f?.counting ?? 0;
      const operational = f?.operational ?? 0;
      const planned = f?.planned ?? 0;
      const offline = f?.offline ?? 0;
      const syncFailing = failing.get(n.id) ?? 0;
      return toSiteRow({
        ...n,
        devices: f?.devices ?? 0,
        counting,
        operational,
        planned,
        last_seen: f?.last_seen ?? null,
        seq_min: f?.seq_min ?? null,
        seq_max: f?.seq_max ?? null,
        offline,
        sync_failing: syncFailing,
        problems: offline + syncFailing,
        state_rank: operational > 0 ? 3 : counting > 0 ? 2 : planned > 0 ? 1 : 0,
      });
    });
  }

  function siteParams(query: SiteQuery) {
    const isRank = query.state !== null && query.state !== 'problem';
    return {
      onlineSince: query.onlineSince,
      now: query.now ?? Date.now(),
      q: query.q ? `%${query.q.replace(/[%_]/g, '')}%` : null,
      districtId: query.districtId,
      communeId: query.communeId,
      kind: query.kind,
      stateRank: isRank ? RANK_BY_STATE[query.state as SiteState] : null,
      problem: query.state === 'problem' ? 1 : null,
    };
  }

  return {
    /** One page of the site table and the number of rows that match the filter. */
    sitePage(query: SiteQuery): { total: number; rows: SiteRowOut[] } {
      const order = ORDER[query.sort].replaceAll('{dir}', query.dir === 'desc' ? 'DESC' : 'ASC');
      const params = siteParams(query);
      if (NAME_SORTS.has(query.sort) && query.state === null) {
        // Chosen from the in-memory registry (re-read on any site change), then only its rows' devices are counted.
        const { total, rows } = registry.page(
          {
            q: params.q === null ? null : params.q.slice(1, -1),
            districtId: query.districtId,
            communeId: query.communeId,
            kind: query.kind,
          },
          query.sort as NameSort,
          query.dir,
          query.limit,
          query.offset,
        );
        return { total, rows: withFigures(rows, query.onlineSince, 'these', query.now) };
      }
      let stmt = sitePageStmts.get(order);
      if (!stmt) {
        // The total comes with the page (a window over the filtered rows): the figures are computed once.
        stmt = db.prepare(
          `SELECT *, count(*) OVER () AS total_rows FROM (${SITE_SELECT}) ORDER BY ${order}, id LIMIT @limit OFFSET @offset`,
        );
        sitePageStmts.set(order, stmt);
      }
      const raw = stmt.all({ ...params, limit: query.limit, offset: query.offset }) as (RawSiteRow & { total_rows: number })[];
      const total = raw[0]?.total_rows ?? (countSites.get(params) as { n: number }).n;
      return { total, rows: raw.map(toSiteRow) };
    },

    /** A device's events, newest first; null when there is no such device. */
    deviceEvents(deviceId: string, before: number | null, limit: number): DeviceEventOut[] | null {
      if (!deviceExists.get(deviceId)) return null;
      return deviceEvents.all({ deviceId, before, limit }) as DeviceEventOut[];
    },

    districts(): { id: string; name: string; validTo: string | null }[] {
      return (districts.all() as { id: string; name: string; validTo: string | null }[]).sort((a, b) =>
        collator.compare(a.name, b.name),
      );
    },

    /** Every non-district site with its state: the map draws them all. */
    mapPoints(onlineSince: number, now: number = Date.now()): SiteRowOut[] {
      // One pass over the devices grouped by site, merged here: cheaper than joining 10 000 sites to it in SQL.
      return withFigures(registry.all().sort(byNames('district', 'asc')), onlineSince, 'all', now);
    },

    alertSources(p: {
      onlineSince: number;
      syncBefore: number;
      eventsSince: number;
      diskLimit: number;
      failureLimit: number;
    }): AlertSourceRow[] {
      return [
        ...(offline.all({ onlineSince: p.onlineSince }) as AlertSourceRow[]),
        ...(disk.all({ diskLimit: p.diskLimit }) as AlertSourceRow[]),
        ...(notSynced.all({ syncBefore: p.syncBefore }) as AlertSourceRow[]),
        ...(clockSkew.all({ eventsSince: p.eventsSince }) as AlertSourceRow[]),
        ...(downloadFailures.all() as AlertSourceRow[]),
        ...(manifestExpired.all() as AlertSourceRow[]),
      ];
    },
  };
}

export type DashboardRepo = ReturnType<typeof createDashboardRepo>;
