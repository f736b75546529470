/**
 * The dashboard's own reads: the district → commune → site table (one page at a time), the map's points and
 * the rows alerts are made of. Prepared once per factory call; every value is a bound parameter. Nothing reads
 * every device's rows per request except one summary pass over the covering index devices_progress (the map, the
 * table's sorts by a device figure and its state filters: a state depends on the instant); alerts read what
 * migration 308 keeps and indexes (tests/dashboard-incremental.test.ts holds both equal to a full recompute).
 */
import { SITE_STATES } from '../../protocol/constants.js';
import { countsNowSql, syncProblemSql } from '../coverage/fleet-rules.js';
import type { Database } from '../db/open-database.js';
import { createSiteRegistry, type NamedSiteRow, type NameSort } from './site-registry.js';

export const SITE_SORTS = ['district', 'commune', 'name', 'kind', 'devices', 'state', 'lastSeen', 'problems'] as const;
export type SiteSort = (typeof SITE_SORTS)[number];
export { SITE_STATES };
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

/** A site's figures that sort and filter the table and colour the map. */
interface SiteSummary {
  devices: number;
  last_seen: number | null;
  /** Operational 3, equipped (counting but all silent) 2, planned (devices not yet counting) 1, none 0. */
  state_rank: number;
  problems: number;
}

/** The table's sorts by a device figure, and the figure. */
const FIGURE_SORTS: Partial<Record<SiteSort, keyof SiteSummary>> = {
  devices: 'devices',
  state: 'state_rank',
  lastSeen: 'last_seen',
  problems: 'problems',
};

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

const DISTRICT_NAME = `CASE WHEN p.kind = 'district' THEN p.name WHEN g.kind = 'district' THEN g.name END`;

export type AlertKind = AlertSourceRow['kind'];

/** The instants and limits alerts are computed at (alerts.ts derives them from now and its ALERT_LIMITS). */
export interface AlertParams {
  onlineSince: number;
  syncBefore: number;
  eventsSince: number;
  diskLimit: number;
}

/** What the map draws of a site (GET /api/v1/dashboard/map). */
export interface MapPoint {
  id: string;
  name: string;
  kind: string;
  districtName: string | null;
  communeName: string | null;
  lat: number | null;
  lon: number | null;
  state: SiteState;
  problems: number;
}

// Each alert kind: the devices it concerns, as (deviceId, siteId, since, value, detail). Only active devices alert.
const MANIFEST_EXPIRED = `ds.state = 'failed' AND substr(ifnull(ds.error, ''), 1, 27) = 'rejected: manifest_expired:'`;
const ALERT_CORES: Record<AlertKind, string> = {
  offline: `
    SELECT dv.id AS deviceId, dv.site_id AS siteId, dv.last_seen AS since, NULL AS value, NULL AS detail
    FROM devices dv
    WHERE dv.status = 'active' AND dv.last_seen IS NOT NULL AND dv.last_seen < @onlineSince`,
  // The newest sample (dashboard_disk_full holds its key), then when the current streak over the threshold began:
  // the first sample above it after the last one at or below it, or the first of all when none was at or below it.
  // dashboard_disk_full's triggers hold the same limit (90) as @diskLimit (ALERT_LIMITS.diskPercent).
  disk: `
    SELECT dv.id AS deviceId, dv.site_id AS siteId, h.disk_used AS value, NULL AS detail,
      coalesce(
        (SELECT min(h2.received_ts) FROM health h2 WHERE h2.device_id = dv.id AND (h2.series, h2.seq) >
          (SELECT h3.series, h3.seq FROM health h3 WHERE h3.device_id = dv.id AND h3.disk_used <= @diskLimit
           ORDER BY h3.series DESC, h3.seq DESC LIMIT 1)),
        (SELECT min(h4.received_ts) FROM health h4 WHERE h4.device_id = dv.id)) AS since
    FROM dashboard_disk_full f CROSS JOIN devices dv ON dv.id = f.device_id
      JOIN health h ON h.device_id = f.device_id AND h.series = f.series AND h.seq = f.seq
    WHERE dv.status = 'active' AND h.disk_used > @diskLimit`,
  // Never reported since first connecting (dashboard_never_synced), or a last report other than applied, too old.
  not_synced: `
    SELECT dv.id AS deviceId, dv.site_id AS siteId, dv.first_seen AS since, NULL AS value, NULL AS detail
    FROM dashboard_never_synced n CROSS JOIN devices dv ON dv.id = n.device_id
    WHERE dv.status = 'active' AND dv.first_seen < @syncBefore
    UNION ALL
    SELECT dv.id, dv.site_id, ds.updated_at, ds.manifest_seq, ds.state
    FROM device_sync ds CROSS JOIN devices dv ON dv.id = ds.device_id
    WHERE ds.state <> 'applied' AND ds.updated_at < @syncBefore AND dv.status = 'active'`,
  clock_skew: `
    SELECT dv.id AS deviceId, dv.site_id AS siteId, min(e.received_ts) AS since, count(*) AS value,
      (SELECT e2.message FROM device_events e2 WHERE e2.device_id = dv.id AND e2.type = 'clock_skew'
        ORDER BY e2.id DESC LIMIT 1) AS detail
    FROM device_events e CROSS JOIN devices dv ON dv.id = e.device_id
    WHERE e.type = 'clock_skew' AND e.received_ts >= @eventsSince AND dv.status = 'active'
    GROUP BY dv.id`,
  download_failures: `
    SELECT dv.id AS deviceId, dv.site_id AS siteId, ds.updated_at AS since, ds.failures AS value, ds.error AS detail
    FROM device_sync ds CROSS JOIN devices dv ON dv.id = ds.device_id
    WHERE dv.status = 'active' AND ${syncProblemSql('ds')} AND NOT (${MANIFEST_EXPIRED})`,
  // The device's last sync report says it refused an expired manifest (DESIGN §7); clears with the next applied one.
  manifest_expired: `
    SELECT dv.id AS deviceId, dv.site_id AS siteId, ds.updated_at AS since, ds.manifest_seq AS value, ds.error AS detail
    FROM device_sync ds CROSS JOIN devices dv ON dv.id = ds.device_id
    WHERE dv.status = 'active' AND ${MANIFEST_EXPIRED}`,
};

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
  const registry = createSiteRegistry(db);
  const IDS = `AND dv.site_id IN (SELECT value FROM json_each(@ids))`;
  const figuresFor = db.prepare(deviceFigures(IDS));
  const failingFor = db.prepare(syncFailing(IDS));
  const districts = db.prepare(`SELECT id, name, valid_to AS validTo FROM sites WHERE kind = 'district'`);
  const failingAll = db.prepare(syncFailing(''));
  // Walks the (device_id, id) index backwards: newest first, a page at a time.
  const deviceEvents = db.prepare(`
    SELECT id, device_id AS deviceId, ts, received_ts AS receivedTs, source, type, severity, message
    FROM device_events WHERE device_id = @deviceId AND (@before IS NULL OR id < @before)
    ORDER BY id DESC LIMIT @limit`);
  const deviceExists = db.prepare('SELECT 1 FROM devices WHERE id = ?');

  // Each alert kind as one query: its rows (ordered by since, then device id: the order alerts.ts merges) and its
  // count. Each reads only what the kind can concern (migration 308: the devices whose newest sample is over the
  // disk limit, those that never reported a sync, the pending sync reports and the clock-skew events by age;
  // migration 307: sync problems); the site's names are joined to the rows of the page only.
  const kinds: Record<AlertKind, { rows: ReturnType<Database['prepare']>; count: ReturnType<Database['prepare']> }> =
    Object.fromEntries(
      (Object.entries(ALERT_CORES) as [AlertKind, string][]).map(([kind, core]) => [
        kind,
        {
          rows: db.prepare(`
            SELECT '${kind}' AS kind, x.deviceId, x.siteId, s.name AS siteName, ${DISTRICT_NAME} AS districtName,
              x.since, x.value, x.detail
            FROM (SELECT * FROM (${core}) ORDER BY since, deviceId LIMIT @n) x
              LEFT JOIN sites s ON s.id = x.siteId LEFT JOIN sites p ON p.id = s.parent_id
              LEFT JOIN sites g ON g.id = p.parent_id
            ORDER BY x.since, x.deviceId`),
          count: db.prepare(`SELECT count(*) FROM (${core})`).pluck(),
        },
      ]),
    ) as never;
  // What the map and the table's sorts and state filters need of every site, in one pass over the covering index
  // devices_progress: the site's state rank (the best of its devices: 3 counting and seen within OFFLINE_AFTER,
  // 2 counting, 1 registered or not counting), its offline devices, devices and last seen — the same rules as
  // deviceFigures above, which gives a page's rows all their figures.
  const siteSummary = db
    .prepare(`
    SELECT dv.site_id, count(*) AS devices, max(dv.last_seen) AS last_seen,
      max(CASE WHEN dv.status <> 'active' THEN 1 WHEN ${countsNowSql('dv')} THEN 2 + ifnull(dv.last_seen >= @onlineSince, 0)
               ELSE 1 END) AS state_rank,
      sum(dv.status = 'active' AND (dv.last_seen IS NULL OR dv.last_seen < @onlineSince)) AS offline
    FROM devices dv
    WHERE dv.site_id IS NOT NULL AND dv.status <> 'decommissioned'
    GROUP BY dv.site_id`)
    .raw();

  /** Every site's summary (sites without devices are absent): rank, problems, devices, last seen. */
  function summaries(onlineSince: number, now: number): Map<string, SiteSummary> {
    const params = { onlineSince, now };
    const failing = new Map(
      (failingAll.all(params) as { site_id: string; sync_failing: number }[]).map((r) => [r.site_id, r.sync_failing]),
    );
    const out = new Map<string, SiteSummary>();
    // Rows as arrays (raw): 10 000 of them, read once.
    for (const [site, devices, lastSeen, rank, offline] of siteSummary.all(params) as [
      string,
      number,
      number | null,
      number,
      number,
    ][])
      out.set(site, { devices, last_seen: lastSeen, state_rank: rank, problems: offline + (failing.get(site) ?? 0) });
    return out;
  }

  const sitesVersion = db.prepare('SELECT version FROM coverage_sites_version WHERE id = 1').pluck();
  // The map's order (Intl.Collator over 10 000 sites costs more than the figures) sorted once per registry version.
  let mapOrder: { version: number; rows: NamedSiteRow[] } | null = null;

  /** Counts the devices of one page of sites (a few index lookups) and derives each site's state. */
  function withFigures(named: NamedSiteRow[], onlineSince: number, now: number = Date.now()): SiteRowOut[] {
    const params = { ids: JSON.stringify(named.map((r) => r.id)), onlineSince, now };
    const figures = new Map((figuresFor.all(params) as DeviceFigures[]).map((r) => [r.site_id, r]));
    const failing = new Map(
      (failingFor.all(params) as { site_id: string; sync_failing: number }[]).map((r) => [r.site_id, r.sync_failing]),
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
        return { total, rows: withFigures(rows, query.onlineSince, query.now) };
      }
      // Sorted by a device figure or filtered by state: every matching site's summary (one pass over the devices),
      // sorted here, then the page's rows counted in full.
      const sums = summaries(query.onlineSince, params.now);
      const nameOrder: NameSort = NAME_SORTS.has(query.sort) ? (query.sort as NameSort) : 'name';
      const named = registry.page(
        {
          q: params.q === null ? null : params.q.slice(1, -1),
          districtId: query.districtId,
          communeId: query.communeId,
          kind: query.kind,
        },
        nameOrder,
        NAME_SORTS.has(query.sort) ? query.dir : 'asc',
        Number.MAX_SAFE_INTEGER,
        0,
      ).rows;
      const empty: SiteSummary = { devices: 0, last_seen: null, state_rank: 0, problems: 0 };
      let keyed = named.map((n, i) => ({ n, i, f: sums.get(n.id) ?? empty }));
      if (params.stateRank !== null) keyed = keyed.filter((k) => k.f.state_rank === params.stateRank);
      if (params.problem !== null) keyed = keyed.filter((k) => k.f.problems > 0);
      const figure = FIGURE_SORTS[query.sort];
      if (figure) {
        const sign = query.dir === 'desc' ? -1 : 1;
        // SQLite's order: NULL smallest, then the name (Đ after D, code points) and the id ascending — the
        // registry's name order, which `i` keeps.
        keyed.sort((a, b) => {
          const x = a.f[figure];
          const y = b.f[figure];
          if (x !== y) return x === null ? -sign : y === null ? sign : sign * (x < y ? -1 : 1);
          return a.i - b.i;
        });
      }
      const rows = keyed.slice(query.offset, query.offset + query.limit).map((k) => k.n);
      return { total: keyed.length, rows: withFigures(rows, query.onlineSince, query.now) };
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

    /** Every non-district site with its state and problems, in district order: the map draws them all. */
    mapPoints(onlineSince: number, now: number = Date.now()): MapPoint[] {
      const version = sitesVersion.get() as number;
      if (mapOrder?.version !== version) mapOrder = { version, rows: registry.all().sort(byNames('district', 'asc')) };
      const figures = summaries(onlineSince, now);
      return mapOrder.rows.map((n) => {
        const f = figures.get(n.id);
        return {
          id: n.id,
          name: n.name,
          kind: n.kind,
          districtName: n.district_name,
          communeName: n.commune_name,
          lat: n.lat,
          lon: n.lon,
          state: STATE_BY_RANK[f?.state_rank ?? 0] ?? 'none',
          problems: f?.problems ?? 0,
        };
      });
    },

    /** How many alerts of each kind there are now. */
    alertCounts(p: AlertParams): Record<AlertKind, number> {
      return Object.fromEntries(
        (Object.keys(kinds) as AlertKind[]).map((kind) => [kind, kinds[kind].count.get(p) as number]),
      ) as Record<AlertKind, number>;
    },

    /** The first `n` alerts of one kind (all when n < 0), the oldest first, then by device id. */
    alertRows(kind: AlertKind, p: AlertParams, n: number): AlertSourceRow[] {
      return kinds[kind].rows.all({ ...p, n }) as AlertSourceRow[];
    },

    /** Runs `read` on one snapshot of the database (several statements that must agree with each other). */
    snapshot<T>(read: () => T): T {
      return db.inTransaction ? read() : db.transaction(read)();
    },
  };
}

export type DashboardRepo = ReturnType<typeof createDashboardRepo>;
