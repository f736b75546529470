/**
 * The dashboard's alerts and map are read from state kept by triggers and from indexes (migration 308,
 * server/dashboard/dashboard-repo.ts). Here a randomized fleet history — devices connecting, going silent, sync
 * problems appearing and clearing, disk samples over and under the limit arriving in and out of order, clock-skew
 * events, retention deleting samples, devices moving between sites, retired and deleted — is written through the
 * server's own functions (registry, ingest) on a real SQLite file, and after every few steps every answer is
 * checked EQUAL to a full recompute over every device: the queries the dashboard ran before migration 308, kept
 * here as the reference. The per-site summary (map, figure sorts, state filters) is kept between requests
 * (migration 309): a second kind of run checks it after every step, read by one repository at the history's clock
 * (instants that only grow, as the server asks), so that it is brought forward across writes and silences.
 * A second test drops each trigger of migrations 308 and 309 in turn and checks that the same history then gives
 * a different answer: every trigger is needed, and this test sees a missed update.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { HealthSample, SyncMessage } from '../protocol/index.js';
import { countsNowSql } from '../server/coverage/fleet-rules.js';
import { ALERT_LIMITS, ALERT_TYPES, type Alert, alertsPage, currentAlerts } from '../server/dashboard/alerts.js';
import { createDashboardRepo, type DashboardRepo, type SiteQuery } from '../server/dashboard/dashboard-repo.js';
import { SITES_NAMED } from '../server/dashboard/site-registry.js';
import { type Database, openDatabase } from '../server/db/open-database.js';
import { createDeviceDataRepo } from '../server/ingest/device-data-repo.js';
import { decommissionDevice, registerDevice } from '../server/registry/devices-repo.js';
import { type SiteInput, upsertSites } from '../server/registry/sites-repo.js';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const OFFLINE_AFTER = 24 * HOUR;
const START = Date.UTC(2026, 5, 1);

let dir: string;
let db: Database;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'dashboard-incremental-'));
  db = openDatabase(join(dir, 'fleet.db'));
});
afterEach(() => {
  db?.close();
  rmSync(dir, { recursive: true, force: true });
});

// ---- The reference: every alert recomputed over every device (the queries before migration 308) -------------

const SITE_NAMES = `LEFT JOIN sites s ON s.id = dv.site_id LEFT JOIN sites p ON p.id = s.parent_id
  LEFT JOIN sites g ON g.id = p.parent_id`;
const DISTRICT_NAME = `CASE WHEN p.kind = 'district' THEN p.name WHEN g.kind = 'district' THEN g.name END`;
const REFERENCE = [
  `SELECT 'offline' AS kind, dv.id AS deviceId, dv.site_id AS siteId, s.name AS siteName,
     ${DISTRICT_NAME} AS districtName, dv.last_seen AS since, NULL AS value, NULL AS detail
   FROM devices dv ${SITE_NAMES}
   WHERE dv.status = 'active' AND dv.last_seen IS NOT NULL AND dv.last_seen < @onlineSince`,
  `SELECT 'disk' AS kind, dv.id AS deviceId, dv.site_id AS siteId, s.name AS siteName,
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
   WHERE dv.status = 'active' AND h.disk_used > @diskLimit`,
  `SELECT 'not_synced' AS kind, dv.id AS deviceId, dv.site_id AS siteId, s.name AS siteName,
     ${DISTRICT_NAME} AS districtName,
     CASE WHEN ds.device_id IS NULL THEN dv.first_seen ELSE ds.updated_at END AS since,
     ds.manifest_seq AS value, ds.state AS detail
   FROM devices dv LEFT JOIN device_sync ds ON ds.device_id = dv.id ${SITE_NAMES}
   WHERE dv.status = 'active' AND (
     (ds.device_id IS NULL AND dv.first_seen IS NOT NULL AND dv.first_seen < @syncBefore)
     OR (ds.state <> 'applied' AND ds.updated_at < @syncBefore))`,
  `SELECT 'clock_skew' AS kind, dv.id AS deviceId, dv.site_id AS siteId, s.name AS siteName,
     ${DISTRICT_NAME} AS districtName, min(e.received_ts) AS since, count(*) AS value,
     (SELECT e2.message FROM device_events e2 WHERE e2.device_id = dv.id AND e2.type = 'clock_skew'
       ORDER BY e2.id DESC LIMIT 1) AS detail
   FROM device_events e JOIN devices dv ON dv.id = e.device_id ${SITE_NAMES}
   WHERE e.type = 'clock_skew' AND e.received_ts >= @eventsSince AND dv.status = 'active'
   GROUP BY dv.id`,
  `SELECT 'download_failures' AS kind, dv.id AS deviceId, dv.site_id AS siteId, s.name AS siteName,
     ${DISTRICT_NAME} AS districtName, ds.updated_at AS since, ds.failures AS value, ds.error AS detail
   FROM device_sync ds JOIN devices dv ON dv.id = ds.device_id ${SITE_NAMES}
   WHERE dv.status = 'active' AND (ds.state = 'failed' OR ds.failures >= 3)
     AND NOT (ds.state = 'failed' AND substr(ifnull(ds.error, ''), 1, 27) = 'rejected: manifest_expired:')`,
  `SELECT 'manifest_expired' AS kind, dv.id AS deviceId, dv.site_id AS siteId, s.name AS siteName,
     ${DISTRICT_NAME} AS districtName, ds.updated_at AS since, ds.manifest_seq AS value, ds.error AS detail
   FROM device_sync ds JOIN devices dv ON dv.id = ds.device_id ${SITE_NAMES}
   WHERE dv.status = 'active' AND ds.state = 'failed' AND substr(ds.error, 1, 27) = 'rejected: manifest_expired:'`,
];

const SEVERITY: Record<string, string> = {
  offline: 'critical',
  download_failures: 'critical',
  manifest_expired: 'critical',
  disk: 'warning',
  not_synced: 'warning',
  clock_skew: 'warning',
};

function referenceAlerts(now: number): Alert[] {
  const params = {
    onlineSince: now - OFFLINE_AFTER,
    syncBefore: now - ALERT_LIMITS.notSyncedMs,
    eventsSince: now - ALERT_LIMITS.skewWindowMs,
    diskLimit: ALERT_LIMITS.diskPercent,
  };
  const rows = REFERENCE.flatMap((sql) => prepared(sql).all(params) as Omit<Alert, 'id' | 'severity' | 'type'>[]);
  return (rows as (Omit<Alert, 'id' | 'severity' | 'type'> & { kind: Alert['type'] })[])
    .map(({ kind, ...r }) => ({
      id: `${kind}:${r.deviceId}`,
      type: kind,
      severity: SEVERITY[kind] as Alert['severity'],
      deviceId: r.deviceId,
      siteId: r.siteId,
      siteName: r.siteName,
      districtName: r.districtName,
      since: r.since,
      value: r.value,
      detail: r.detail,
    }))
    .sort(
      (a, b) =>
        (a.severity === b.severity ? 0 : a.severity === 'critical' ? -1 : 1) ||
        (a.since ?? 0) - (b.since ?? 0) ||
        ALERT_TYPES.indexOf(a.type) - ALERT_TYPES.indexOf(b.type) ||
        (a.deviceId < b.deviceId ? -1 : a.deviceId > b.deviceId ? 1 : 0),
    );
}

/** Every site's state and problems recomputed over all its devices: the site table's figures (deviceFigures). */
function referenceMap(repo: DashboardRepo, now: number): Map<string, { state: string; problems: number }> {
  const page = repo.sitePage({
    q: null,
    districtId: null,
    communeId: null,
    kind: null,
    state: null,
    sort: 'name',
    dir: 'asc',
    limit: 100_000,
    offset: 0,
    onlineSince: now - OFFLINE_AFTER,
    now,
  });
  return new Map(page.rows.map((r) => [r.id, { state: r.state, problems: r.problems }]));
}

/** The site table sorted by a device figure or filtered by state, as one SQL over every device (before 308). */
const SITE_REFERENCE = `
  WITH d AS MATERIALIZED (
    SELECT dv.site_id, count(*) AS devices, sum(${countsNowSql('dv')}) AS counting,
      sum(${countsNowSql('dv')} AND dv.last_seen >= @onlineSince) AS operational,
      sum(dv.status IN ('registered', 'provisioned') OR (dv.status = 'active' AND NOT ${countsNowSql('dv')})) AS planned,
      max(dv.last_seen) AS last_seen,
      sum(dv.status = 'active' AND (dv.last_seen IS NULL OR dv.last_seen < @onlineSince)) AS offline
    FROM devices dv WHERE dv.site_id IS NOT NULL AND dv.status <> 'decommissioned' GROUP BY dv.site_id),
  f AS MATERIALIZED (
    SELECT dv.site_id, count(*) AS sync_failing FROM device_sync ds JOIN devices dv ON dv.id = ds.device_id
    WHERE (ds.state = 'failed' OR ds.failures >= 3) AND dv.status = 'active' GROUP BY dv.site_id),
  rows AS (
    SELECT n.*, coalesce(d.devices, 0) AS devices, d.last_seen,
      coalesce(d.offline, 0) + coalesce(f.sync_failing, 0) AS problems,
      CASE WHEN coalesce(d.operational, 0) > 0 THEN 3 WHEN coalesce(d.counting, 0) > 0 THEN 2
           WHEN coalesce(d.planned, 0) > 0 THEN 1 ELSE 0 END AS state_rank
    FROM (${SITES_NAMED}) n LEFT JOIN d ON d.site_id = n.id LEFT JOIN f ON f.site_id = n.id)
  SELECT id FROM rows
  WHERE (@kind IS NULL OR kind = @kind) AND (@stateRank IS NULL OR state_rank = @stateRank)
    AND (@problem IS NULL OR problems > 0)`;
const vn = (column: string) => `replace(replace(${column}, 'Đ', 'D' || char(127)), 'đ', 'd' || char(127))`;
const SITE_ORDERS: Record<string, string> = {
  devices: `devices {dir}, ${vn('name')}`,
  state: `state_rank {dir}, ${vn('name')}`,
  lastSeen: `last_seen {dir}, ${vn('name')}`,
  problems: `problems {dir}, ${vn('name')}`,
  district: `${vn('district_name')} {dir}, ${vn('commune_name')} {dir}, ${vn('name')} {dir}`,
  kind: `kind {dir}, ${vn('name')}`,
};
const SITE_CASES: Pick<SiteQuery, 'sort' | 'dir' | 'state' | 'kind'>[] = [
  ...(['devices', 'state', 'lastSeen', 'problems'] as const).flatMap((sort) =>
    (['asc', 'desc'] as const).map((dir) => ({ sort, dir, state: null, kind: null })),
  ),
  { sort: 'problems', dir: 'desc', state: 'problem', kind: null },
  { sort: 'lastSeen', dir: 'asc', state: 'operational', kind: 'station' },
  { sort: 'district', dir: 'desc', state: 'equipped', kind: null },
  { sort: 'kind', dir: 'asc', state: 'planned', kind: null },
  { sort: 'devices', dir: 'desc', state: 'none', kind: null },
];
const RANKS: Record<string, number> = { none: 0, planned: 1, equipped: 2, operational: 3 };

/** What differs between the dashboard's answers and the full recompute at `now`; empty when equal. */
/** The reference statements, prepared once per database (preparing them at every check cost most of the time). */
const statements = new WeakMap<Database, Map<string, ReturnType<Database['prepare']>>>();
function prepared(sql: string): ReturnType<Database['prepare']> {
  const forDb = statements.get(db) ?? new Map<string, ReturnType<Database['prepare']>>();
  statements.set(db, forDb);
  const found = forDb.get(sql) ?? db.prepare(sql);
  forDb.set(sql, found);
  return found;
}

/** One repository per database (its statements prepared once, as the server does). */
const repos = new WeakMap<Database, DashboardRepo>();

function differences(now: number, seen: Set<string>): string[] {
  const repo = repos.get(db) ?? createDashboardRepo(db);
  repos.set(db, repo);
  return [...alertDifferences(repo, now, seen), ...summaryDifferences(repo, now, seen)];
}

/** The alerts (every kind, pages, counts) and migration 308's two tables against their definitions. */
function alertDifferences(repo: DashboardRepo, now: number, seen: Set<string>): string[] {
  const out: string[] = [];
  const expected = referenceAlerts(now);
  for (const a of expected) seen.add(a.type);
  const actual = currentAlerts(repo, now, OFFLINE_AFTER);
  if (JSON.stringify(actual) !== JSON.stringify(expected))
    out.push(`alerts: ${JSON.stringify(actual.map((a) => a.id))} != ${JSON.stringify(expected.map((a) => a.id))}`);
  // Pages, all kinds and each kind, with the counts.
  const counts = Object.fromEntries(ALERT_TYPES.map((t) => [t, expected.filter((a) => a.type === t).length]));
  for (const type of [undefined, ...ALERT_TYPES]) {
    const matching = type ? expected.filter((a) => a.type === type) : expected;
    for (const [offset, limit] of [
      [0, 3],
      [2, 5],
      [0, 500],
    ] as const) {
      const page = alertsPage(repo, now, OFFLINE_AFTER, { type, limit, offset });
      const want = { total: matching.length, counts, alerts: matching.slice(offset, offset + limit) };
      if (JSON.stringify(page) !== JSON.stringify(want)) out.push(`alerts page ${type ?? 'all'} ${offset}+${limit}`);
    }
  }
  // The two tables equal their definitions (a stale row the reads happen to filter out is still a missed update).
  const state = (sql: string) => JSON.stringify(db.prepare(sql).all());
  const diskFull = state('SELECT device_id, series, seq FROM dashboard_disk_full ORDER BY device_id');
  const diskFullDefined = state(`
    SELECT h.device_id, h.series, h.seq FROM health h
    WHERE h.disk_used > ${ALERT_LIMITS.diskPercent} AND (h.series, h.seq) =
      (SELECT series, seq FROM health WHERE device_id = h.device_id ORDER BY series DESC, seq DESC LIMIT 1)
    ORDER BY h.device_id`);
  if (diskFull !== diskFullDefined) out.push(`dashboard_disk_full ${diskFull} != ${diskFullDefined}`);
  const neverSynced = state('SELECT device_id FROM dashboard_never_synced ORDER BY device_id');
  const neverSyncedDefined = state(`
    SELECT id AS device_id FROM devices dv
    WHERE first_seen IS NOT NULL AND NOT EXISTS (SELECT 1 FROM device_sync ds WHERE ds.device_id = dv.id) ORDER BY id`);
  if (neverSynced !== neverSyncedDefined) out.push(`dashboard_never_synced ${neverSynced} != ${neverSyncedDefined}`);
  return out;
}

/**
 * What the per-site summary gives (kept between requests: migration 309): the table sorted by each device figure
 * and filtered by each state, and the map's states and problems, against the full recompute at `now`.
 */
function summaryDifferences(repo: DashboardRepo, now: number, seen: Set<string>): string[] {
  const out: string[] = [];
  for (const c of SITE_CASES) {
    const order = (SITE_ORDERS[c.sort] as string).replaceAll('{dir}', c.dir.toUpperCase());
    const want = (
      prepared(`${SITE_REFERENCE} ORDER BY ${order}, id`)
        .pluck()
        .all({
          onlineSince: now - OFFLINE_AFTER,
          now,
          kind: c.kind,
          stateRank: c.state === null || c.state === 'problem' ? null : RANKS[c.state],
          problem: c.state === 'problem' ? 1 : null,
        }) as string[]
    ).slice(1, 4);
    const page = repo.sitePage({
      q: null,
      districtId: null,
      communeId: null,
      ...c,
      limit: 3,
      offset: 1,
      onlineSince: now - OFFLINE_AFTER,
      now,
    });
    if (JSON.stringify(page.rows.map((r) => r.id)) !== JSON.stringify(want))
      out.push(`sites ${JSON.stringify(c)}: ${page.rows.map((r) => r.id)} != ${want}`);
  }
  const map = referenceMap(repo, now);
  const points = repo.mapPoints(now - OFFLINE_AFTER, now);
  if (points.length !== map.size) out.push(`map: ${points.length} sites, expected ${map.size}`);
  for (const p of points) {
    seen.add(`state ${p.state}`);
    const want = map.get(p.id);
    if (!want || want.state !== p.state || want.problems !== p.problems)
      out.push(`map ${p.id}: ${p.state}/${p.problems}, expected ${want?.state}/${want?.problems}`);
  }
  return out;
}

// ---- A randomized fleet history through the server's own functions ------------------------------------------

function randomFrom(seed: number) {
  let state = seed >>> 0;
  return (n: number) => {
    state = (Math.imul(state, 1_664_525) + 1_013_904_223) >>> 0;
    return Math.floor((state / 4_294_967_296) * n);
  };
}

const LEAVES = ['c1', 'c2', 'c3', 's1', 's2', 's3', 's4', 's5', 'o1'];

function seedSites() {
  const site = (id: string, kind: SiteInput['kind'], parentId: string | null): SiteInput => ({
    id,
    kind,
    name: `Site ${id}`,
    parentId,
    border: true,
    adminCode: null,
    lat: null,
    lon: null,
    validFrom: null,
    validTo: null,
    note: null,
  });
  upsertSites(
    db,
    [
      site('d1', 'district', null),
      site('d2', 'district', null),
      site('c1', 'commune', 'd1'),
      site('c2', 'commune', 'd1'),
      site('c3', 'commune', 'd2'),
      site('s1', 'station', 'c1'),
      site('s2', 'gate', 'c1'),
      site('s3', 'station', 'c2'),
      site('s4', 'office', 'c3'),
      site('s5', 'station', 'c3'),
      site('o1', 'office', null),
    ],
    { overwrite: false },
  );
}

/**
 * Runs `steps` random operations from `seed`, checking the answers every `checkEvery` steps (at the history's
 * clock, and at instants around it: a device's window and OFFLINE_AFTER both move with time); returns every
 * difference found.
 */
function runHistory(
  seed: number,
  steps: number,
  checkEvery: number,
  o: { stopAtFirst?: boolean; seen?: Set<string>; lane?: boolean } = {},
): string[] {
  const seen = o.seen ?? new Set<string>();
  // Lane mode: the summary checked after EVERY step at the history's clock, by one repository whose instants only
  // grow — as the server asks — so that what it keeps is brought forward across writes and silences (the checks
  // at later instants below would make it recount at each one).
  const lane = o.lane ? createDashboardRepo(db) : null;
  const random = randomFrom(seed);
  const data = createDeviceDataRepo(db);
  seedSites();
  const devices: string[] = [];
  const seqs = new Map<string, number>();
  let now = START;
  let nextId = 0;
  const found: string[] = [];
  const pick = () => devices[random(devices.length)] as string;
  const sample = (seq: number, diskUsed: number): HealthSample => ({
    seq,
    ts: now - random(1000),
    cpuLoad: 10,
    memUsed: 20,
    diskUsed,
    diskFree: 1000,
    tempC: null,
    uptimeS: seq * 30,
    contentSeq: 1,
    queueDepth: 0,
  });
  const DISKS = [40, 89.9, 90, 90.5, 97];
  for (let step = 0; step < steps; step++) {
    now += random(6 * HOUR);
    const op = devices.length < 4 ? 0 : random(18);
    const id = devices.length ? pick() : '';
    switch (op) {
      case 0: {
        const newId = `dev-${String(nextId++).padStart(3, '0')}`;
        registerDevice(db, { id: newId, secret: `secret-${newId}`, siteId: LEAVES[random(LEAVES.length)] as string, now });
        devices.push(newId);
        break;
      }
      case 1:
      case 2:
        data.connected(id, now - random(3) * DAY);
        break;
      case 3:
      case 4:
        data.touch(id, now - random(3) * DAY);
        break;
      case 5:
        data.offline(id);
        break;
      case 6:
      case 7: {
        const state = (['applied', 'failed', 'downloading', 'waiting_window'] as const)[random(4)] as SyncMessage['state'];
        const error =
          state === 'failed' ? (random(3) === 0 ? 'rejected: manifest_expired: 2026-01-01' : `error ${random(3)}`) : undefined;
        data.sync(
          id,
          { manifestSeq: 1 + random(5), state, bytes: random(1000), missing: random(3), error, ts: now - random(100) },
          now - random(10) * DAY,
        );
        break;
      }
      case 8:
      case 9:
      case 10: {
        // A sample batch, now and then a backlog arriving after newer samples (a lower seq).
        const last = seqs.get(id) ?? 0;
        const backlog = last > 3 && random(3) === 0;
        const seq = backlog ? 1 + random(last - 1) : last + 1 + random(3);
        if (!backlog) seqs.set(id, seq);
        data.insertHealth(id, [sample(seq, DISKS[random(DISKS.length)] as number)], now - random(2) * HOUR);
        break;
      }
      case 11:
        data.event(
          id,
          'device',
          { type: 'clock_skew', severity: 'warning', message: `skew ${random(99)} s`, ts: now },
          now - random(10) * DAY,
        );
        break;
      case 12:
        if (random(3) === 0) decommissionDevice(db, id, now);
        break;
      case 13:
        // A device moved to another site (an edit of the registry).
        db.prepare('UPDATE devices SET site_id = ? WHERE id = ?').run(LEAVES[random(LEAVES.length)], id);
        break;
      case 14:
        // Retention: raw samples older than a cutoff deleted (as server/ingest/maintenance.ts does, oldest first).
        db.prepare('DELETE FROM health WHERE received_ts < ?').run(now - (2 + random(10)) * DAY);
        break;
      case 15:
        // A device's newest samples removed by hand (the newest is no longer what it was).
        db.prepare(
          `DELETE FROM health WHERE device_id = ? AND (series, seq) IN
             (SELECT series, seq FROM health WHERE device_id = ? ORDER BY series DESC, seq DESC LIMIT ?)`,
        ).run(id, id, 1 + random(2));
        break;
      case 16:
        // A sync row removed (the device's sync state reset) or a sample corrected: rare admin writes.
        if (random(3) === 0) db.prepare('DELETE FROM device_sync WHERE device_id = ?').run(id);
        else if (random(2) === 0) {
          const to = pick();
          // A sync row moved to another device that has none (a kiosk's identity corrected).
          db.prepare(
            'UPDATE device_sync SET device_id = ? WHERE device_id = ? AND NOT EXISTS (SELECT 1 FROM device_sync WHERE device_id = ?)',
          ).run(to, id, to);
        } else
          db.prepare('UPDATE health SET disk_used = ? WHERE device_id = ? AND seq = ?').run(
            DISKS[random(5)],
            id,
            seqs.get(id) ?? 0,
          );
        break;
      case 17:
        if (random(4) === 0) {
          // A device deleted outright (registered by mistake), with what it reported.
          for (const table of ['health', 'device_events', 'device_sync'])
            db.prepare(`DELETE FROM ${table} WHERE device_id = ?`).run(id);
          db.prepare('DELETE FROM devices WHERE id = ?').run(id);
          devices.splice(devices.indexOf(id), 1);
        } else if (random(2) === 0) {
          // A device inserted already connected (an import of a fleet that ran elsewhere).
          const newId = `imp-${String(nextId++).padStart(3, '0')}`;
          db.prepare(
            `INSERT INTO devices (id, site_id, status, first_seen, last_seen, created_at) VALUES (?, ?, 'active', ?, ?, ?)`,
          ).run(newId, LEAVES[random(LEAVES.length)], now - 9 * DAY, now - random(3) * DAY, now);
          devices.push(newId);
        } else {
          // A device's first connection forgotten, then set again (a registry correction).
          db.prepare('UPDATE devices SET first_seen = NULL WHERE id = ?').run(id);
          if (random(2) === 0) db.prepare('UPDATE devices SET first_seen = ? WHERE id = ?').run(now - 8 * DAY, id);
          // In lane mode, now and then the device's equipment is dated a few hours ahead (and its site's other
          // devices retired): it starts counting then, with no write at that instant.
          if (lane && random(2) === 0) {
            db.prepare('UPDATE devices SET equipped_at = ?, first_seen = ? WHERE id = ?').run(
              now + random(12) * HOUR,
              now - DAY,
              id,
            );
            db.prepare(
              `UPDATE devices SET status = 'decommissioned' WHERE site_id = (SELECT site_id FROM devices WHERE id = ?) AND id <> ?`,
            ).run(id, id);
          }
        }
        break;
    }
    if (lane && step % checkEvery === checkEvery - 1) {
      for (const d of summaryDifferences(lane, now, seen)) found.push(`step ${step}: ${d}`);
      if (o.stopAtFirst && found.length > 0) return found;
    } else if (!lane && step % checkEvery === checkEvery - 1) {
      for (const at of [now, now + 2 * DAY, now + 8 * DAY]) {
        for (const d of differences(at, seen)) found.push(`step ${step}, +${(at - now) / HOUR} h: ${d}`);
      }
      if (o.stopAtFirst && found.length > 0) return found;
    }
  }
  return found;
}

function freshDatabase() {
  db.close();
  rmSync(dir, { recursive: true, force: true });
  dir = mkdtempSync(join(tmpdir(), 'dashboard-incremental-'));
  db = openDatabase(join(dir, 'fleet.db'));
  // Thousands of single-statement writes: what is tested is what they leave, not that each survives a power cut.
  db.pragma('synchronous = OFF');
}

describe('the dashboard kept incrementally', () => {
  it('gives exactly the full recompute over randomized fleet histories', () => {
    const seen = new Set<string>();
    for (const seed of [1, 2, 3]) {
      freshDatabase();
      expect(runHistory(seed, 500, 25, { seen }).slice(0, 5), `seed ${seed}`).toEqual([]);
      freshDatabase();
      expect(runHistory(seed, 500, 2, { seen, lane: true }).slice(0, 5), `seed ${seed}, lane`).toEqual([]);
    }
    // Every kind of alert and every site state came up, so each was compared.
    expect([...seen].sort()).toEqual(
      [...ALERT_TYPES, 'state equipped', 'state none', 'state operational', 'state planned'].sort(),
    );
  });

  it('sees a missed update: without any one trigger of migrations 308 and 309 the same history differs', () => {
    const triggers = (
      db.prepare(`SELECT name FROM sqlite_master WHERE type = 'trigger' AND name LIKE 'dashboard_%' ORDER BY name`).all() as {
        name: string;
      }[]
    ).map((t) => t.name);
    // 308: dashboard_disk_full_* and dashboard_never_synced_* (10); 309: dashboard_summary_* (3).
    expect(triggers).toHaveLength(13);
    const missed: string[] = [];
    for (const name of triggers) {
      // 309's triggers keep what the summary keeps across writes: the lane runs (see runHistory) need them.
      const lane = name.startsWith('dashboard_summary_');
      const found = [1, 2, 3].some((seed) => {
        freshDatabase();
        db.exec(`DROP TRIGGER ${name}`);
        return runHistory(seed, 500, lane ? 2 : 25, { stopAtFirst: true, lane }).length > 0;
      });
      if (!found) missed.push(name);
    }
    expect(missed).toEqual([]);
  });
});
