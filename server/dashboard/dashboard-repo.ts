/**
 * The dashboard's own reads: the district → commune → site table (one page at a time), the map's points and
 * the rows alerts are made of. Prepared once per factory call; every value is a bound parameter. The per-site
 * summary (the map, the table's sorts by a device figure and its state filters) is kept between requests and
 * brought forward in time by the devices that went silent since (migration 309 says when it must be recounted);
 * alerts read what migration 308 keeps and indexes. tests/dashboard-incremental.test.ts holds both equal to a
 * full recompute. Only the sort by last seen (every heartbeat moves it) still reads every device per request.
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

/** A site's device counts at an instant, what its state and problems are made of (kept between requests). */
interface SiteCounts {
  /** Its devices, decommissioned ones apart. */
  devices: number;
  /** Those that count now (fleet-rules.ts). */
  counting: number;
  /** Those that count now and were seen at or after the OFFLINE_AFTER cutoff. */
  countingOnline: number;
  /** Active devices never seen or seen before the cutoff. */
  offline: number;
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

/** A site's state by its rank (mapFigures): none 0, planned 1, equipped 2, operational 3. */
export const STATE_BY_RANK: readonly SiteState[] = ['none', 'planned', 'equipped', 'operational'];
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
  // The table sorted by last seen: every site's newest last_seen, which every heartbeat moves, in one pass over the
  // covering index devices_progress (the summary kept below does not follow heartbeats of online devices).
  const siteLastSeen = db
    .prepare(`
    SELECT dv.site_id, count(*) AS devices, max(dv.last_seen) AS last_seen
    FROM devices dv
    WHERE dv.site_id IS NOT NULL AND dv.status <> 'decommissioned'
    GROUP BY dv.site_id`)
    .raw();
  // The per-site counts a site's state and problems are made of, at an instant (the same rules as deviceFigures,
  // which gives a page's rows all their figures), in one pass over devices_progress; with, per site, the first
  // instant after @now at which one of its devices starts or stops counting (fleet-rules.ts): until then only
  // OFFLINE_AFTER moves the counts.
  const countsSql = (scope: string) => `
    SELECT site_id, count(*), sum(c), sum(c AND last_seen >= @onlineSince),
      sum(status = 'active' AND (last_seen IS NULL OR last_seen < @onlineSince)),
      min(CASE WHEN status = 'active' AND max(first_seen, equipped_at) > @now THEN max(first_seen, equipped_at) END),
      min(CASE WHEN status = 'active' AND decommissioned_at > @now THEN decommissioned_at END)
    FROM (SELECT site_id, status, last_seen, first_seen, equipped_at, decommissioned_at, ${countsNowSql()} AS c
          FROM devices WHERE site_id IS NOT NULL AND status <> 'decommissioned' ${scope})
    GROUP BY site_id`;
  const countsPass = db.prepare(countsSql('')).raw();
  // The same for a few sites (seeks in devices_progress by site).
  const countsOf = db.prepare(countsSql('AND site_id IN (SELECT value FROM json_each(@ids))')).raw();
  // The sites writes concerned since a version (migration 309).
  const dirtySince = db.prepare('SELECT site_id FROM dashboard_summary_dirty WHERE version > ?').pluck();
  // The active devices whose last seen lies in [@from, @to): online at the cutoff @from, offline at @to (the
  // dashboard_offline index of migration 308, by last seen), and whether each counts at @now.
  const wentSilent = db
    .prepare(`
    SELECT dv.site_id, ${countsNowSql('dv')} FROM devices dv INDEXED BY dashboard_offline
    WHERE dv.status = 'active' AND dv.last_seen >= @from AND dv.last_seen < @to AND dv.site_id IS NOT NULL`)
    .raw();
  const summaryState = db.prepare('SELECT version, seen_cutoff FROM dashboard_summary_state WHERE id = 1').raw();
  const raiseCutoff = db.prepare('UPDATE dashboard_summary_state SET seen_cutoff = max(seen_cutoff, @cutoff) WHERE id = 1');

  /**
   * The counts of every site at (onlineSince, now), kept between requests (migration 309): for a later instant
   * with the same OFFLINE_AFTER, before any device starts or stops counting, brought forward by the devices that
   * went silent in between and by recounting the sites that writes since `version` concerned.
   */
  let kept: {
    version: number;
    offset: number;
    onlineSince: number;
    now: number;
    /** The first instant after `now` at which a device starts or stops counting. */
    until: number;
    sites: Map<string, SiteCounts>;
  } | null = null;
  /** What this process last read or wrote of seen_cutoff (it only grows). */
  let cutoff = Number.NEGATIVE_INFINITY;

  /** The counts of every site (`ids` null) or of those sites at the instant, and the first instant after it at
   * which one of their devices starts or stops counting. */
  function recount(
    onlineSince: number,
    now: number,
    ids: string[] | null,
    sites = new Map<string, SiteCounts>(),
  ): { until: number; sites: Map<string, SiteCounts> } {
    let until = Number.POSITIVE_INFINITY;
    const rows = (
      ids === null ? countsPass.all({ onlineSince, now }) : countsOf.all({ onlineSince, now, ids: JSON.stringify(ids) })
    ) as [string, number, number, number | null, number, number | null, number | null][];
    for (const id of ids ?? []) sites.delete(id);
    for (const [site, devices, counting, countingOnline, offline, starts, stops] of rows) {
      sites.set(site, { devices, counting, countingOnline: countingOnline ?? 0, offline });
      if (starts !== null && starts < until) until = starts;
      if (stops !== null && stops < until) until = stops;
    }
    return { until, sites };
  }

  /**
   * Raises seen_cutoff to at least `onlineSince` when it is behind (migration 309: before a summary at that cutoff
   * is read, in its own transaction), a quarter of OFFLINE_AFTER ahead so that it is written about four times per
   * OFFLINE_AFTER and stays far behind the heartbeats of healthy kiosks (they never bump the version). False when
   * the summary must not be kept: read inside a caller's transaction (it may still roll back), or the database
   * refused the write (read-only, busy); the answer is exact either way.
   */
  function mayKeep(onlineSince: number, now: number): boolean {
    if (db.inTransaction) return false;
    if (onlineSince <= cutoff) return true;
    try {
      raiseCutoff.run({ cutoff: onlineSince + Math.max(0, Math.floor((now - onlineSince) / 4)) });
      cutoff = (summaryState.get() as [number, number])[1];
      return true;
    } catch {
      return false;
    }
  }

  /**
   * Every site's counts at (onlineSince, now), exact, on the caller's snapshot: the kept summary brought forward
   * when it may be (same OFFLINE_AFTER, a later instant before any device starts or stops counting, seen_cutoff at
   * or past the new cutoff; the sites writes concerned since recounted), else a full pass, kept for the next
   * request when `keep`.
   */
  function siteCounts(onlineSince: number, now: number, keep: boolean): Map<string, SiteCounts> {
    const offset = now - onlineSince;
    const [version, stored] = summaryState.get() as [number, number];
    cutoff = Math.max(cutoff, stored);
    const k = kept;
    const covered = onlineSince <= stored;
    if (keep && covered && k !== null && k.offset === offset && now >= k.now && now < k.until) {
      // Forward in time: the devices that went silent since (their sites' other figures unchanged)…
      for (const [site, counts] of wentSilent.all({ from: k.onlineSince, to: onlineSince, now }) as [string, number][]) {
        const c = k.sites.get(site);
        if (!c) continue;
        c.offline += 1;
        if (counts) c.countingOnline -= 1;
      }
      // …then the sites that writes concerned since, recounted (what the loop above did to them is replaced).
      if (k.version !== version) {
        const dirty = dirtySince.all(k.version) as string[];
        const { until } = recount(onlineSince, now, dirty, k.sites);
        k.until = Math.min(k.until, until);
        k.version = version;
      }
      k.onlineSince = onlineSince;
      k.now = now;
      return k.sites;
    }
    const { until, sites } = recount(onlineSince, now, null);
    kept = keep && covered ? { version, offset, onlineSince, now, until, sites } : null;
    return sites;
  }

  function snapshotRead<T>(read: () => T): T {
    return db.inTransaction ? read() : db.transaction(read)();
  }

  /** Every site's summary (sites without devices are absent): rank, problems, devices, on one snapshot. */
  function summaries(onlineSince: number, now: number, withLastSeen = false): Map<string, SiteSummary> {
    const keep = mayKeep(onlineSince, now);
    return snapshotRead(() => {
      const counts = siteCounts(onlineSince, now, keep);
      const failing = new Map(
        (failingAll.all({ onlineSince, now }) as { site_id: string; sync_failing: number }[]).map((r) => [
          r.site_id,
          r.sync_failing,
        ]),
      );
      const out = new Map<string, SiteSummary>();
      for (const [site, c] of counts)
        out.set(site, {
          devices: c.devices,
          last_seen: null,
          state_rank: c.countingOnline > 0 ? 3 : c.counting > 0 ? 2 : 1,
          problems: c.offline + (failing.get(site) ?? 0),
        });
      if (withLastSeen)
        for (const [site, , lastSeen] of siteLastSeen.all() as [string, number, number | null][]) {
          const f = out.get(site);
          if (f) f.last_seen = lastSeen;
        }
      return out;
    });
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
      // Sorted by a device figure or filtered by state: every matching site's summary (kept between requests; by
      // last seen, one pass over the devices), sorted here, then the page's rows counted in full.
      const sums = summaries(query.onlineSince, params.now, query.sort === 'lastSeen');
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

    /**
     * The map's sites (every non-district site) in district order, sorted again only when the registry changes:
     * the same array object until then, so a caller may keep what it derives from it.
     */
    mapSites(): readonly NamedSiteRow[] {
      const version = sitesVersion.get() as number;
      if (mapOrder?.version !== version) mapOrder = { version, rows: registry.all().sort(byNames('district', 'asc')) };
      return mapOrder.rows;
    },

    /** The state rank (STATE_BY_RANK) and problems of each of `sites` (mapSites()) at the instant, in its order. */
    mapFigures(
      sites: readonly NamedSiteRow[],
      onlineSince: number,
      now: number = Date.now(),
    ): { ranks: Uint8Array; problems: Uint32Array } {
      const figures = summaries(onlineSince, now);
      const ranks = new Uint8Array(sites.length);
      const problems = new Uint32Array(sites.length);
      sites.forEach((n, i) => {
        const f = figures.get(n.id);
        if (!f) return;
        ranks[i] = f.state_rank;
        problems[i] = f.problems;
      });
      return { ranks, problems };
    },

    /** Every non-district site with its state and problems, in district order: the map draws them all. */
    mapPoints(onlineSince: number, now: number = Date.now()): MapPoint[] {
      const sites = this.mapSites();
      const { ranks, problems } = this.mapFigures(sites, onlineSince, now);
      return sites.map((n, i) => ({
        id: n.id,
        name: n.name,
        kind: n.kind,
        districtName: n.district_name,
        communeName: n.commune_name,
        lat: n.lat,
        lon: n.lon,
        state: STATE_BY_RANK[ranks[i] ?? 0] ?? 'none',
        problems: problems[i] ?? 0,
      }));
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
