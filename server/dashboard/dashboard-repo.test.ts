import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type Database, openDatabase } from '../db/open-database.js';
import { seedReferenceData } from '../db/seed.js';
import { createDeviceDataRepo } from '../ingest/device-data-repo.js';
import { registerDevice } from '../registry/devices-repo.js';
import { currentAlerts } from './alerts.js';
import { createDashboardRepo, type SiteQuery } from './dashboard-repo.js';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const NOW = Date.UTC(2026, 10, 20, 12);
const OFFLINE_AFTER = 24 * HOUR;

let dir: string;
let db: Database;

function device(
  id: string,
  siteId: string,
  fields: { status?: string; lastSeen?: number; equippedAt?: number | null; seq?: number },
) {
  registerDevice(db, { id, secret: `secret-of-${id}`, siteId, now: NOW - 60 * DAY });
  db.prepare(
    `UPDATE devices SET status = @status, first_seen = @firstSeen, last_seen = @lastSeen, equipped_at = @equippedAt,
       content_seq = @seq WHERE id = @id`,
  ).run({
    id,
    status: fields.status ?? 'active',
    firstSeen: fields.lastSeen === undefined ? null : NOW - 30 * DAY,
    lastSeen: fields.lastSeen ?? null,
    equippedAt: fields.equippedAt === undefined ? NOW - 20 * DAY : fields.equippedAt,
    seq: fields.seq ?? null,
  });
}

function health(deviceId: string, seq: number, receivedTs: number, diskUsed: number) {
  db.prepare(
    `INSERT INTO health (device_id, seq, device_ts, received_ts, cpu_load, mem_used, disk_used, disk_free, temp_c, uptime_s,
       content_seq, queue_depth) VALUES (?, ?, ?, ?, 10, 20, ?, 1000, NULL, 100, 1, 0)`,
  ).run(deviceId, seq, receivedTs, receivedTs, diskUsed);
}

function sync(deviceId: string, state: string, failures: number, updatedAt: number, error: string | null = null) {
  db.prepare(
    `INSERT INTO device_sync (device_id, manifest_seq, state, bytes, missing, error, failures, updated_at)
     VALUES (?, 7, ?, 0, 0, ?, ?, ?)`,
  ).run(deviceId, state, error, failures, updatedAt);
}

const query = (over: Partial<SiteQuery> = {}): SiteQuery => ({
  q: null,
  districtId: null,
  communeId: null,
  kind: null,
  state: null,
  sort: 'district',
  dir: 'asc',
  limit: 50,
  offset: 0,
  onlineSince: NOW - OFFLINE_AFTER,
  ...over,
});

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'dashboard-repo-'));
  db = openDatabase(join(dir, 'fleet.db'));
  seedReferenceData(db);
  // Ia O: one kiosk seen an hour ago (operational), disk filling up, healthy sync.
  device('k-iao', 'gl-c-iao', { lastSeen: NOW - HOUR, seq: 7 });
  health('k-iao', 1, NOW - 5 * HOUR, 80);
  health('k-iao', 2, NOW - 4 * HOUR, 91);
  health('k-iao', 3, NOW - 3 * HOUR, 93);
  sync('k-iao', 'applied', 0, NOW - HOUR);
  // The Ia O station: a kiosk silent for two days (equipped, offline), with three failed downloads.
  device('k-s-iao', 'gl-s-iao', { lastSeen: NOW - 2 * DAY, seq: 5 });
  sync('k-s-iao', 'failed', 3, NOW - 2 * DAY, 'sha256 mismatch');
  // Ia Mơ: provisioned, never connected (planned); and an active kiosk that never applied a manifest
  // for ten days (not synced), which also reports clock skew.
  device('k-iamo-new', 'gl-c-iamo', { status: 'provisioned', equippedAt: null });
  device('k-iamo', 'gl-c-iamo', { lastSeen: NOW - HOUR, equippedAt: null });
  db.prepare(`UPDATE devices SET first_seen = ? WHERE id = 'k-iamo'`).run(NOW - 10 * DAY);
  db.prepare(
    `INSERT INTO device_events (device_id, ts, received_ts, source, type, severity, message)
     VALUES ('k-iamo', ?, ?, 'server', 'clock_skew', 'warning', 'device clock is 3600 s off the server''s')`,
  ).run(NOW - 2 * DAY + HOUR, NOW - 2 * DAY);
  // A decommissioned kiosk counts for nothing and raises nothing.
  device('k-old', 'gl-c-iachia', { status: 'decommissioned', lastSeen: NOW - 90 * DAY });
});

afterEach(() => {
  db.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('site table', () => {
  it('places every non-district site under its district and commune, with device counts and state', () => {
    const repo = createDashboardRepo(db);
    const page = repo.sitePage(query());
    expect(page.total).toBe(16); // 7 communes, 8 stations, 1 gate
    const byId = new Map(page.rows.map((r) => [r.id, r]));
    expect(byId.get('gl-c-iao')).toMatchObject({
      districtName: 'Ia Grai',
      communeName: 'Ia O',
      devices: 1,
      counting: 1,
      operational: 1,
      state: 'operational',
      contentSeqMin: 7,
      problems: 0,
    });
    expect(byId.get('gl-s-iao')).toMatchObject({
      districtName: 'Ia Grai',
      communeId: 'gl-c-iao',
      state: 'equipped',
      offline: 1,
      syncFailing: 1,
      problems: 2,
    });
    expect(byId.get('gl-c-iamo')).toMatchObject({
      districtName: 'Chư Prông',
      devices: 2,
      counting: 0,
      planned: 2,
      state: 'planned',
    });
    expect(byId.get('gl-c-iachia')).toMatchObject({ devices: 0, state: 'none' });
    expect(byId.get('gl-g-lethanh')).toMatchObject({ districtName: 'Đức Cơ', communeName: 'Ia Dom', kind: 'gate' });
  });

  it('filters by text, district, commune, kind, state and problems; sorts; pages', () => {
    const repo = createDashboardRepo(db);
    expect(repo.sitePage(query({ q: 'Ia O' })).rows.map((r) => r.id)).toEqual(['gl-s-iao', 'gl-c-iao']);
    expect(repo.sitePage(query({ districtId: 'gl-d-chuprong' })).total).toBe(5);
    // A commune's own row and the sites inside it, in Vietnamese order (C, Đ, I).
    expect(repo.sitePage(query({ communeId: 'gl-c-iadom', sort: 'name' })).rows.map((r) => r.id)).toEqual([
      'gl-g-lethanh',
      'gl-s-lethanh',
      'gl-c-iadom',
    ]);
    expect(repo.sitePage(query({ communeId: 'gl-c-iadom', sort: 'name', dir: 'desc' })).rows.map((r) => r.id)).toEqual([
      'gl-c-iadom',
      'gl-s-lethanh',
      'gl-g-lethanh',
    ]);
    // Districts first, then communes, then sites: Chư Prông, Đức Cơ, Ia Grai.
    expect(repo.sitePage(query({ kind: 'commune' })).rows.map((r) => r.communeName)).toEqual([
      'Ia Mơ',
      'Ia Púch',
      'Ia Dom',
      'Ia Nan',
      'Ia Pnôn',
      'Ia Chía',
      'Ia O',
    ]);
    expect(repo.sitePage(query({ kind: 'station' })).total).toBe(8);
    expect(repo.sitePage(query({ state: 'operational' })).rows.map((r) => r.id)).toEqual(['gl-c-iao']);
    expect(repo.sitePage(query({ state: 'problem' })).rows.map((r) => r.id)).toEqual(['gl-s-iao']);
    expect(
      repo
        .sitePage(query({ sort: 'state', dir: 'desc' }))
        .rows.slice(0, 3)
        .map((r) => r.state),
    ).toEqual(['operational', 'equipped', 'planned']);
    const first = repo.sitePage(query({ sort: 'name', limit: 5 }));
    const second = repo.sitePage(query({ sort: 'name', limit: 5, offset: 5 }));
    expect(first.total).toBe(16);
    expect(first.rows).toHaveLength(5);
    expect(new Set([...first.rows, ...second.rows].map((r) => r.id)).size).toBe(10);
    // LIKE wildcards typed by a person are text, not patterns.
    expect(repo.sitePage(query({ q: '%' })).total).toBe(16);
  });

  it('lists districts (including abolished ones) and map points', () => {
    const repo = createDashboardRepo(db);
    expect(repo.districts().map((d) => d.name)).toEqual(['Chư Prông', 'Đức Cơ', 'Ia Grai']);
    expect(repo.districts()[0]?.validTo).toBe('2025-06-30');
    expect(repo.mapPoints(NOW - OFFLINE_AFTER)).toHaveLength(16);
  });
});

describe('alerts', () => {
  it('finds each kind of problem with its site and since when, critical first', () => {
    const alerts = currentAlerts(createDashboardRepo(db), NOW, OFFLINE_AFTER);
    const summary = alerts.map((a) => [a.type, a.deviceId, a.siteName, a.since]);
    expect(summary).toEqual([
      ['offline', 'k-s-iao', 'Đồn Biên phòng Ia O', NOW - 2 * DAY],
      ['download_failures', 'k-s-iao', 'Đồn Biên phòng Ia O', NOW - 2 * DAY],
      ['not_synced', 'k-iamo', 'Ia Mơ', NOW - 10 * DAY],
      ['clock_skew', 'k-iamo', 'Ia Mơ', NOW - 2 * DAY],
      // The disk streak began with the first sample over 90% after the last one under it.
      ['disk', 'k-iao', 'Ia O', NOW - 4 * HOUR],
    ]);
    expect(alerts.find((a) => a.type === 'disk')?.value).toBe(93);
    expect(alerts.find((a) => a.type === 'download_failures')?.detail).toBe('sha256 mismatch');
    expect(alerts.find((a) => a.type === 'offline')).toMatchObject({ severity: 'critical', districtName: 'Ia Grai' });
  });

  it('forgets a problem once it is fixed', () => {
    health('k-iao', 4, NOW - HOUR, 60);
    db.prepare(`UPDATE devices SET last_seen = ? WHERE id = 'k-s-iao'`).run(NOW - HOUR);
    db.prepare(`UPDATE device_sync SET state = 'applied', failures = 0 WHERE device_id = 'k-s-iao'`).run();
    const types = currentAlerts(createDashboardRepo(db), NOW, OFFLINE_AFTER).map((a) => `${a.type}:${a.deviceId}`);
    expect(types).toEqual(['not_synced:k-iamo', 'clock_skew:k-iamo']);
  });
});

describe('the per-site summary kept between requests (migration 309)', () => {
  const version = () => db.prepare('SELECT version FROM dashboard_summary_state').pluck().get() as number;
  const states = (repo: ReturnType<typeof createDashboardRepo>, at: number, ids: string[]) => {
    const points = new Map(repo.mapPoints(at - OFFLINE_AFTER, at).map((p) => [p.id, `${p.state}/${p.problems}`]));
    return ids.map((id) => points.get(id));
  };

  it('follows the clock with no write: a device going silent, one starting and one stopping to count', () => {
    // Ia Chía: a kiosk equipped two hours from now; Lệ Thanh station: one whose decommissioning is dated in 5 h.
    device('k-later', 'gl-c-iachia', { lastSeen: NOW, equippedAt: NOW + 2 * HOUR });
    device('k-leaving', 'gl-s-lethanh', { lastSeen: NOW });
    db.prepare(`UPDATE devices SET decommissioned_at = ? WHERE id = 'k-leaving'`).run(NOW + 5 * HOUR);
    const repo = createDashboardRepo(db);
    const ids = ['gl-c-iao', 'gl-c-iachia', 'gl-s-lethanh'];
    const before = version();
    expect(states(repo, NOW, ids)).toEqual(['operational/0', 'planned/0', 'operational/0']);
    expect(states(repo, NOW + 3 * HOUR, ids)).toEqual(['operational/0', 'operational/0', 'operational/0']);
    expect(states(repo, NOW + 6 * HOUR, ids)).toEqual(['operational/0', 'operational/0', 'planned/0']);
    // k-iao was last seen at NOW - 1 h: offline once OFFLINE_AFTER has passed since.
    expect(states(repo, NOW + 23 * HOUR + 1, ids)).toEqual(['equipped/1', 'operational/0', 'planned/0']);
    expect(states(repo, NOW + 24 * HOUR + 1, ids)).toEqual(['equipped/1', 'equipped/1', 'planned/1']);
    expect(version()).toBe(before);
    // The same instants read afresh (a new repository, nothing kept) agree.
    expect(states(createDashboardRepo(db), NOW + 6 * HOUR, ids)).toEqual(['operational/0', 'operational/0', 'planned/0']);
    expect(states(repo, NOW + 6 * HOUR, ids)).toEqual(['operational/0', 'operational/0', 'planned/0']);
  });

  it('is left alone by heartbeats of online kiosks, and sees one that comes back, written by another connection', () => {
    const repo = createDashboardRepo(db);
    const data = createDeviceDataRepo(db);
    expect(states(repo, NOW, ['gl-c-iao', 'gl-s-iao'])).toEqual(['operational/0', 'equipped/2']);
    const before = version();
    for (let i = 1; i <= 5; i++) data.touch('k-iao', NOW + i * 5_000);
    expect(version()).toBe(before);
    expect(states(repo, NOW + 30_000, ['gl-c-iao', 'gl-s-iao'])).toEqual(['operational/0', 'equipped/2']);
    // k-s-iao, silent for two days, reports again through a second connection (another writer).
    const other = openDatabase(join(dir, 'fleet.db'));
    try {
      createDeviceDataRepo(other).touch('k-s-iao', NOW + 60_000);
    } finally {
      other.close();
    }
    expect(version()).toBe(before + 1);
    // Operational again; its three failed downloads are still a problem.
    expect(states(repo, NOW + 60_000, ['gl-c-iao', 'gl-s-iao'])).toEqual(['operational/0', 'operational/1']);
  });
});
