/**
 * The repository computes the engine's definitions in SQL at scale (coverage-repo.ts); on varied fleets in a real
 * SQLite file it must give exactly what the engine gives from the devices themselves.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { communeList, communeRows, communeRowsOf, type FleetDevice, fleetFromDevices } from '../server/coverage/communes.js';
import { createSitesReader, readCoverageSites, readSiteFleet, readSiteWindows } from '../server/coverage/coverage-repo.js';
import { monthlyDays } from '../server/coverage/days.js';
import { type CoverageOptions, computeCoverage, earliestInstantAsked } from '../server/coverage/engine.js';
import { readSeedPlan } from '../server/coverage/seed-data.js';
import { type Database, openDatabase } from '../server/db/open-database.js';
import { seedReferenceData } from '../server/db/seed.js';
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
    }
  });

  it('for one page of communes, reading only the devices of its sites', () => {
    const sites = readCoverageSites(db);
    const whole = fleetFromDevices(devices, options);
    for (const day of ['2025-06-30', '2026-11-23']) {
      const entries = communeList(plan, sites, day);
      for (const page of [entries.slice(0, 3), entries.slice(3)]) {
        const ids = page.flatMap((e) => e.sites.map((s) => s.id));
        const fleet = readSiteFleet(db, options, ids);
        // Nothing of another page's sites is read.
        expect([...fleet.progress.keys(), ...fleet.windows.keys()].every((id) => ids.includes(id))).toBe(true);
        expect(communeRowsOf(page, fleet, day, options, { siteRows: true })).toEqual(
          communeRowsOf(page, whole, day, options, { siteRows: true }),
        );
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
