/**
 * The repository computes the engine's definitions in SQL at scale (coverage-repo.ts); on varied fleets in a real
 * SQLite file it must give exactly what the engine gives from the devices themselves.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { communeList, communeRows, communeRowsOf, type FleetDevice, fleetFromDevices } from '../server/coverage/communes.js';
import {
  createSitesReader,
  createSpansReader,
  readCoverageSites,
  readSiteFleet,
  readSiteWindows,
} from '../server/coverage/coverage-repo.js';
import { dayEnd, monthlyDays } from '../server/coverage/days.js';
import { type CoverageOptions, computeCoverage, earliestInstantAsked, type SiteSpans } from '../server/coverage/engine.js';
import { readSeedPlan } from '../server/coverage/seed-data.js';
import { computeTrend } from '../server/coverage/trend.js';
import { type Database, openDatabase } from '../server/db/open-database.js';
import { seedReferenceData } from '../server/db/seed.js';
import { createDeviceDataRepo } from '../server/ingest/device-data-repo.js';
import { decommissionDevice, registerDevice } from '../server/registry/devices-repo.js';
import { HOUR, local } from './coverage-helpers.js';

const NOW = local('2026-11-23T10:00:00');
const options: CoverageOptions = { now: NOW, offlineAfterMs: 24 * HOUR, utcOffsetMinutes: 420 };
const plan = readSeedPlan();
let dir: string;
let db: Database;
const devices: FleetDevice[] = [];

function fleet(count: number): FleetDevice[] {
  let state = 7;
  const random = (n: number) => {
    state = (Math.imul(state, 1_664_525) + 1_013_904_223) >>> 0;
    // The high bits: an LCG's low bits cycle quickly.
    return Math.floor((state / 4_294_967_296) * n);
  };
  const pick = <T>(items: readonly T[]) => items[random(items.length)] as T;
  const siteIds = readCoverageSites(db).map((s) => s.id);
  const start = local('2020-06-01T00:00:00');
  const day = 24 * HOUR;
  return Array.from({ length: count }, (_, i): FleetDevice => {
    const status = pick(['registered', 'provisioned', 'active', 'active', 'active', 'decommissioned'] as const);
    const firstSeen = status === 'registered' || random(10) === 0 ? null : start + random(2200) * day + random(day);
    const equippedAt = firstSeen === null || random(5) === 0 ? null : firstSeen + (random(3) - 1) * random(40) * day;
    // Odd rows too (a decommission date on a device not marked decommissioned): both sides must agree on them.
    const decommissionedAt =
      (status === 'decommissioned' && random(6) > 0) || random(8) === 0
        ? (firstSeen ?? start) + random(900) * day - random(60) * day
        : null;
    return {
      id: `dev-${i}`,
      siteId: random(20) === 0 ? null : pick(siteIds),
      status,
      firstSeen,
      equippedAt,
      decommissionedAt,
      lastSeen: firstSeen === null ? null : NOW - random(72) * HOUR,
      contentSeq: random(4) === 0 ? null : random(30),
      syncState: pick([null, null, 'applied', 'downloading', 'failed'] as const),
    };
  });
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'coverage-repo-'));
  db = openDatabase(join(dir, 'fleet.sqlite'));
  seedReferenceData(db);
  devices.push(...fleet(600));
  const insert = db.prepare(
    `INSERT INTO devices (id, site_id, status, first_seen, equipped_at, decommissioned_at, last_seen, content_seq, created_at)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, 0)`,
  );
  const sync = db.prepare(
    `INSERT INTO device_sync (device_id, manifest_seq, state, bytes, missing, updated_at) VALUES (?, 1, ?, 0, 0, 0)`,
  );
  db.transaction(() => {
    for (const d of devices) {
      insert.run(d.id, d.siteId, d.status, d.firstSeen, d.equippedAt, d.decommissionedAt, d.lastSeen, d.contentSeq);
      if (d.syncState) sync.run(d.id, d.syncState);
    }
  })();
});

afterAll(() => {
  db?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('coverage from SQL equals coverage from the devices', () => {
  it('has a varied fleet to compare', () => {
    const counted = computeCoverage({ plan, sites: readCoverageSites(db), devices }, '2026-11-23', options);
    const communes = counted.targets.find((t) => t.id === 'p2-communes');
    expect(communes?.equipped).toBeGreaterThan(0);
    expect(devices.some((d) => d.status === 'decommissioned' && d.decommissionedAt !== null)).toBe(true);
  });

  it('on every month end since the plan, and today with operational', () => {
    const sites = readCoverageSites(db);
    const windows = readSiteWindows(db);
    for (const day of monthlyDays(plan.issued, '2026-11-23')) {
      const expected = computeCoverage({ plan, sites, devices }, day, options);
      expect(computeCoverage({ plan, sites, windows }, day, options)).toEqual(expected);
      // Leaving out the windows closed before anything the day's answer asks about changes nothing.
      const recent = readSiteWindows(db, earliestInstantAsked(plan, day, options));
      expect(computeCoverage({ plan, sites, windows: recent }, day, options)).toEqual(expected);
      // A past day from the kept spans alone (the coverage route's asOf); today needs last_seen and refuses them.
      if (day !== '2026-11-23')
        expect(computeCoverage({ plan, sites, spans: createSpansReader(db)() }, day, options)).toEqual(expected);
      else expect(() => computeCoverage({ plan, sites, spans: createSpansReader(db)() }, day, options)).toThrow(/last_seen/);
    }
  });

  it('for the per-commune rows with site detail', () => {
    const sites = readCoverageSites(db);
    for (const day of ['2025-06-30', '2026-01-15', '2026-11-23']) {
      const fromSql = communeRows({ plan, sites, fleet: readSiteFleet(db, options) }, day, options, { siteRows: true });
      const fromDevices = communeRows({ plan, sites, fleet: fleetFromDevices(devices, options) }, day, options, {
        siteRows: true,
      });
      expect(fromSql).toEqual(fromDevices);
      // Leaving out the windows closed before both the end of the day and now (the communes route) changes nothing.
      const asked = Math.min(dayEnd(day, options.utcOffsetMinutes), NOW);
      const recent = readSiteFleet(db, options, undefined, asked);
      expect(recent.windows.size).toBeLessThanOrEqual(readSiteFleet(db, options).windows.size);
      expect(communeRows({ plan, sites, fleet: recent }, day, options, { siteRows: true })).toEqual(fromDevices);
    }
  });

  it('for one page of communes, reading only the devices of its sites', () => {
    const sites = readCoverageSites(db);
    const whole = fleetFromDevices(devices, options);
    for (const day of ['2025-06-30', '2026-11-23']) {
      const entries = communeList(plan, sites, day);
      for (const page of [entries.slice(0, 3), entries.slice(3)]) {
        const ids = page.flatMap((e) => e.sites.map((s) => s.id));
        const fleet = readSiteFleet(db, options, ids, Math.min(dayEnd(day, options.utcOffsetMinutes), NOW));
        // Nothing of another page's sites is read.
        expect([...fleet.progress.keys(), ...fleet.windows.keys()].every((id) => ids.includes(id))).toBe(true);
        expect(communeRowsOf(page, fleet, day, options, { siteRows: true })).toEqual(
          communeRowsOf(page, whole, day, options, { siteRows: true }),
        );
      }
    }
  });
});

describe('the trend from the kept spans equals the trend from the devices', () => {
  it('over the whole plan, a recent range and a short pace', () => {
    const sites = readCoverageSites(db);
    const spans = createSpansReader(db)();
    for (const range of [{}, { from: '2025-06-30', to: '2026-02-11' }, { to: '2026-11-23', paceDays: 45 }]) {
      expect(computeTrend({ plan, sites, spans }, range, options)).toEqual(
        computeTrend({ plan, sites, devices }, range, options),
      );
    }
  });
});

/** The spans as a fresh read gives them, in a comparable order. */
const spansOf = (spans: SiteSpans) =>
  [...spans]
    .map(
      ([site, list]) =>
        [
          site,
          list
            .map((w) => [w.start, w.end])
            .sort((a, b) => (a[0] as number) - (b[0] as number) || (a[1] as number) - (b[1] as number)),
        ] as const,
    )
    .sort((a, b) => (a[0] < b[0] ? -1 : 1));

/**
 * Device writes as the server makes them (enrollment, the broker's connected / sync / touch, decommissioning) and
 * by hand; `moves` says whether the counting spans change (a heartbeat, a reconnection, a repeated sync report do not).
 */
function deviceHistory(): { name: string; run: () => void; moves: boolean }[] {
  const data = createDeviceDataRepo(db);
  const t = NOW - 100 * HOUR;
  const sql = (text: string, moves = true) => ({ name: text, run: () => db.prepare(text).run(), moves });
  return [
    // An import writes a device that counts already (since before the fleet's first device: the site's span moves).
    sql(`INSERT INTO devices (id, site_id, status, first_seen, equipped_at, last_seen, created_at)
           VALUES ('t310-import', 'gl-c-iachia', 'active', ${local('2020-01-01T00:00:00')}, ${local('2020-01-02T00:00:00')}, ${t}, 0)`),
    {
      name: 'register',
      run: () =>
        registerDevice(db, { id: 't310', secret: 'x'.repeat(32), siteId: 'gl-c-iao', model: 'k', status: 'registered', now: t }),
      moves: true,
    },
    { name: 'first connection', run: () => data.connected('t310', t + HOUR), moves: true },
    {
      name: 'first manifest',
      run: () => data.sync('t310', { manifestSeq: 3, state: 'applied', bytes: 0, missing: 0 }, t + 2 * HOUR),
      moves: true,
    },
    { name: 'heartbeat', run: () => data.touch('t310', t + 3 * HOUR), moves: false },
    { name: 'reconnection', run: () => data.connected('t310', t + 4 * HOUR), moves: false },
    {
      name: 'next manifest',
      run: () => data.sync('t310', { manifestSeq: 4, state: 'applied', bytes: 0, missing: 0 }, t + 5 * HOUR),
      moves: false,
    },
    { name: 'offline', run: () => data.offline('t310'), moves: false },
    sql(`UPDATE devices SET last_seen = ${NOW - 200 * HOUR} WHERE id = 't310'`, false),
    sql(`UPDATE devices SET site_id = 'gl-c-iadom' WHERE id = 't310'`),
    sql(`UPDATE devices SET first_seen = ${t - HOUR} WHERE id = 't310'`),
    sql(`UPDATE devices SET equipped_at = ${t} WHERE id = 't310'`),
    sql(`UPDATE devices SET status = 'provisioned' WHERE id = 't310'`),
    sql(`UPDATE devices SET status = 'active', decommissioned_at = ${NOW + HOUR} WHERE id = 't310'`),
    sql(`UPDATE devices SET decommissioned_at = NULL WHERE id = 't310'`),
    { name: 'decommission', run: () => decommissionDevice(db, 't310', NOW - HOUR), moves: true },
    {
      name: 'delete',
      run: () => db.exec(`DELETE FROM device_sync WHERE device_id = 't310'; DELETE FROM devices WHERE id = 't310'`),
      moves: true,
    },
    sql(`DELETE FROM devices WHERE id = 't310-import'`),
  ];
}

describe('createSpansReader (migration 310)', () => {
  it('keeps the spans across heartbeats and re-reads them after every change of a counting window', () => {
    const read = createSpansReader(db);
    let kept = read();
    expect(spansOf(kept)).toEqual(spansOf(readSiteWindows(db)));
    for (const step of deviceHistory()) {
      step.run();
      const now = read();
      expect(spansOf(now), step.name).toEqual(spansOf(readSiteWindows(db)));
      if (!step.moves) expect(now, `${step.name} re-read the spans`).toBe(kept);
      kept = now;
    }
  });

  it('goes stale without each of its three triggers (the history above catches every one)', () => {
    for (const trigger of [
      'coverage_windows_device_inserted',
      'coverage_windows_device_changed',
      'coverage_windows_device_deleted',
    ]) {
      db.exec('BEGIN');
      try {
        db.exec(`DROP TRIGGER ${trigger}`);
        const read = createSpansReader(db);
        read();
        let stale = false;
        for (const step of deviceHistory()) {
          step.run();
          stale ||= JSON.stringify(spansOf(read())) !== JSON.stringify(spansOf(readSiteWindows(db)));
        }
        expect(stale, trigger).toBe(true);
      } finally {
        db.exec('ROLLBACK');
      }
    }
  });
});

describe('createSitesReader', () => {
  it('keeps the registry until a site is added, changed or removed', () => {
    const read = createSitesReader(db);
    const first = read();
    expect(read()).toBe(first);
    db.prepare(`UPDATE sites SET name = 'Ia O (mới)' WHERE id = 'gl-c-iao'`).run();
    const renamed = read();
    expect(renamed).not.toBe(first);
    expect(renamed.find((s) => s.id === 'gl-c-iao')?.name).toBe('Ia O (mới)');
    db.prepare(`INSERT INTO sites (id, kind, name, border) VALUES ('gl-o-x', 'office', 'X', 0)`).run();
    expect(read().some((s) => s.id === 'gl-o-x')).toBe(true);
    db.prepare(`DELETE FROM sites WHERE id = 'gl-o-x'`).run();
    expect(read().some((s) => s.id === 'gl-o-x')).toBe(false);
    db.prepare(`UPDATE sites SET name = 'Ia O' WHERE id = 'gl-c-iao'`).run();
  });
});

describe('coverage_open_sites (migration 303) follows every device change', () => {
  const truth = () =>
    db
      .prepare(
        `SELECT site_id, min(max(first_seen, equipped_at)) AS start, max(last_seen) AS last_seen FROM devices
         WHERE site_id IS NOT NULL AND status = 'active' AND decommissioned_at IS NULL
           AND first_seen IS NOT NULL AND equipped_at IS NOT NULL
         GROUP BY site_id ORDER BY site_id`,
      )
      .all();
  const kept = () => db.prepare('SELECT site_id, start, last_seen FROM coverage_open_sites ORDER BY site_id').all();

  it('on inserts, heartbeats, moves, decommissioning, going back and deletes', () => {
    expect(kept()).toEqual(truth());
    const changes = [
      `INSERT INTO devices (id, site_id, status, first_seen, equipped_at, last_seen, created_at)
         VALUES ('t303', 'gl-c-iao', 'active', ${NOW - 40 * HOUR}, ${NOW - 30 * HOUR}, NULL, 0)`,
      `UPDATE devices SET last_seen = ${NOW - HOUR} WHERE id = 't303'`,
      `UPDATE devices SET last_seen = max(coalesce(last_seen, 0), ${NOW}) WHERE id = 't303'`,
      `UPDATE devices SET last_seen = ${NOW - 50 * HOUR} WHERE id = 't303'`,
      `UPDATE devices SET last_seen = NULL WHERE id = 't303'`,
      `UPDATE devices SET equipped_at = NULL, last_seen = ${NOW} WHERE id = 't303'`,
      `UPDATE devices SET equipped_at = ${NOW - 2 * HOUR} WHERE id = 't303'`,
      `UPDATE devices SET site_id = 'gl-c-iadom' WHERE id = 't303'`,
      `UPDATE devices SET status = 'provisioned' WHERE id = 't303'`,
      `UPDATE devices SET status = 'active', decommissioned_at = ${NOW - HOUR} WHERE id = 't303'`,
      `UPDATE devices SET decommissioned_at = NULL, site_id = NULL WHERE id = 't303'`,
      `UPDATE devices SET site_id = 'gl-c-iao' WHERE id = 't303'`,
      `UPDATE devices SET last_seen = last_seen + 1000 WHERE site_id IS NOT NULL`,
      `DELETE FROM devices WHERE id = 't303'`,
    ];
    for (const sql of changes) {
      db.prepare(sql).run();
      expect(kept(), sql).toEqual(truth());
    }
    // The other tests' fleet is as it was, give or take the heartbeat.
    db.prepare('UPDATE devices SET last_seen = last_seen - 1000 WHERE site_id IS NOT NULL').run();
    expect(kept()).toEqual(truth());
  });
});
