import { describe, expect, it } from 'vitest';
import { type CoverageDevice, type CoverageOptions, computeCoverage, countingWindow, requiredCount } from './engine.js';
import type { Target } from './plan.js';
import { readSeedPlan, readSeedSites } from './seed-data.js';

const plan = readSeedPlan();
const sites = readSeedSites();
const COMMUNES = ['gl-c-iao', 'gl-c-iachia', 'gl-c-iadom', 'gl-c-ianan', 'gl-c-iapnon', 'gl-c-iapuch', 'gl-c-iamo'];
const HOUR = 3_600_000;
/** A local (UTC+7) wall-clock time as an instant. */
const local = (text: string) => Date.parse(`${text}+07:00`);
const NOW = local('2026-11-23T10:00:00');
const options: CoverageOptions = { now: NOW, offlineAfterMs: 24 * HOUR, utcOffsetMinutes: 420 };

let nextId = 0;
function device(siteId: string, fields: Partial<CoverageDevice> = {}): CoverageDevice {
  return {
    id: `dev-${nextId++}`,
    siteId,
    status: 'active',
    firstSeen: local('2025-03-01T08:00:00'),
    equippedAt: local('2025-03-01T09:00:00'),
    decommissionedAt: null,
    lastSeen: NOW - HOUR,
    ...fields,
  };
}

function target(coverage: ReturnType<typeof computeCoverage>, id: string) {
  const found = coverage.targets.find((t) => t.id === id);
  if (!found) throw new Error(`no target ${id}`);
  return found;
}

describe('computeCoverage on Gia Lai 2509/KH-UBND', () => {
  it('3 of 7 border communes equipped: the 50% target (4 required) is not met', () => {
    const devices = COMMUNES.slice(0, 3).map((id) => device(id));
    const c = target(computeCoverage({ plan, sites, devices }, '2025-12-31', options), 'p1-communes');
    expect(c).toMatchObject({ total: 7, equipped: 3, requiredCount: 4, met: false, noUnitsInScope: false });
  });

  it('4 of 7 border communes equipped: the 50% target is met, the 100% target is not', () => {
    const devices = COMMUNES.slice(0, 4).map((id) => device(id));
    const coverage = computeCoverage({ plan, sites, devices }, '2025-12-31', options);
    expect(target(coverage, 'p1-communes')).toMatchObject({ total: 7, equipped: 4, requiredCount: 4, met: true });
    expect(target(coverage, 'p2-communes')).toMatchObject({ total: 7, equipped: 4, requiredCount: 7, met: false });
  });

  it('a device that never applied a manifest does not count, nor one that never connected', () => {
    const devices = [
      device('gl-g-lethanh', { equippedAt: null }),
      device('gl-c-iao', { firstSeen: null, equippedAt: null, status: 'provisioned' }),
      device('gl-c-iachia', { status: 'registered' }),
    ];
    const coverage = computeCoverage({ plan, sites, devices }, '2025-12-31', options);
    expect(target(coverage, 'p1-gate')).toMatchObject({ total: 1, equipped: 0, requiredCount: 1, met: false });
    expect(target(coverage, 'p1-communes').equipped).toBe(0);
  });

  it('a device counts from max(first connected, first manifest applied)', () => {
    const devices = [
      device('gl-g-lethanh', { firstSeen: local('2025-06-10T08:00:00'), equippedAt: local('2025-05-01T08:00:00') }),
    ];
    const before = computeCoverage({ plan, sites, devices }, '2025-06-09', options);
    const on = computeCoverage({ plan, sites, devices }, '2025-06-10', options);
    expect(target(before, 'p1-gate').equipped).toBe(0);
    expect(target(on, 'p1-gate')).toMatchObject({ equipped: 1, met: true });
  });

  it('a decommissioned device stops counting from its decommission date', () => {
    const devices = [device('gl-g-lethanh', { status: 'decommissioned', decommissionedAt: local('2025-09-10T10:00:00') })];
    expect(target(computeCoverage({ plan, sites, devices }, '2025-09-09', options), 'p1-gate').equipped).toBe(1);
    expect(target(computeCoverage({ plan, sites, devices }, '2025-09-10', options), 'p1-gate').equipped).toBe(0);
    // Decommissioned with no date: nobody knows when it stopped, so it never counts.
    const undated = [device('gl-g-lethanh', { status: 'decommissioned', decommissionedAt: null })];
    expect(target(computeCoverage({ plan, sites, devices: undated }, '2025-09-09', options), 'p1-gate').equipped).toBe(0);
  });

  it('days are local (UTC+7): a device equipped at 03:00 on 1 January does not count on 31 December', () => {
    const devices = [device('gl-g-lethanh', { equippedAt: Date.parse('2025-12-31T20:00:00Z') })];
    expect(target(computeCoverage({ plan, sites, devices }, '2025-12-31', options), 'p1-gate').equipped).toBe(0);
    const nextDay = computeCoverage({ plan, sites, devices }, '2026-01-01', options);
    expect(target(nextDay, 'p2-gate').equipped).toBe(1);
    // Phase 1 stays judged at its deadline, when the gate was not yet equipped.
    expect(target(nextDay, 'p1-gate')).toMatchObject({ equipped: 0, met: false });
  });

  it('districts abolished on 2025-07-01: the phase 2 district target has no units in scope, never met', () => {
    const devices = ['gl-d-iagrai', 'gl-d-ducco', 'gl-d-chuprong'].map((id) => device(id));
    const now = computeCoverage({ plan, sites, devices }, '2026-11-23', options);
    expect(target(now, 'p2-districts')).toMatchObject({
      total: 0,
      equipped: 0,
      requiredCount: 0,
      met: false,
      noUnitsInScope: true,
    });
    const before = computeCoverage({ plan, sites, devices }, '2025-06-30', options);
    expect(target(before, 'p1-districts')).toMatchObject({ total: 3, equipped: 3, requiredCount: 2, met: true });
  });

  it('phase 1 is judged at its deadline 2025-12-31, phase 2 on asOf', () => {
    const devices = [
      ...COMMUNES.slice(0, 3).map((id) => device(id)),
      device(COMMUNES[3] as string, { firstSeen: local('2026-02-01T08:00:00'), equippedAt: local('2026-02-01T09:00:00') }),
    ];
    const coverage = computeCoverage({ plan, sites, devices }, '2026-11-23', options);
    expect(target(coverage, 'p1-communes')).toMatchObject({ equipped: 3, requiredCount: 4, met: false });
    expect(target(coverage, 'p2-communes')).toMatchObject({ equipped: 4, requiredCount: 7, met: false });
  });

  it('counts 8 stations for the count target', () => {
    const stations = sites.filter((s) => s.kind === 'station').map((s) => s.id);
    expect(stations).toHaveLength(8);
    const seven = computeCoverage({ plan, sites, devices: stations.slice(0, 7).map((id) => device(id)) }, '2025-12-31', options);
    expect(target(seven, 'p1-stations')).toMatchObject({ total: 8, equipped: 7, requiredCount: 8, met: false });
    const eight = computeCoverage({ plan, sites, devices: stations.map((id) => device(id)) }, '2025-12-31', options);
    expect(target(eight, 'p1-stations')).toMatchObject({ equipped: 8, met: true });
  });

  it('operational: equipped and a counting device seen within offline_after; known only for today', () => {
    const devices = [
      device('gl-c-iao', { lastSeen: NOW - 2 * HOUR }),
      device('gl-c-iachia', { lastSeen: NOW - 30 * HOUR }),
      device('gl-c-iadom', { lastSeen: null }),
    ];
    const today = computeCoverage({ plan, sites, devices }, '2026-11-23', options);
    expect(target(today, 'p2-communes')).toMatchObject({ equipped: 3, operational: 1 });
    const past = computeCoverage({ plan, sites, devices }, '2026-06-01', options);
    expect(target(past, 'p2-communes')).toMatchObject({ equipped: 3, operational: null });
  });

  it('rejects an as-of day that is malformed, before the plan, or in the future, with a clear code', () => {
    const run = (asOf: string) => () => computeCoverage({ plan, sites, devices: [] }, asOf, options);
    for (const bad of ['2025-13-01', '2025-02-30', '2025-2-1', 'today', '']) {
      expect(run(bad)).toThrow(expect.objectContaining({ code: 'invalid_as_of' }));
    }
    expect(run('2020-12-23')).toThrow(
      expect.objectContaining({ code: 'as_of_before_plan', message: expect.stringContaining('2509/KH-UBND') }),
    );
    expect(run('2020-12-24')).not.toThrow();
    expect(run('2026-11-24')).toThrow(expect.objectContaining({ code: 'as_of_in_future' }));
  });

  it('names a target site that vanished from the registry', () => {
    const withoutGate = sites.filter((s) => s.id !== 'gl-g-lethanh');
    expect(() => computeCoverage({ plan, sites: withoutGate, devices: [] }, '2025-12-31', options)).toThrow(
      expect.objectContaining({ code: 'unknown_site', message: expect.stringContaining('gl-g-lethanh') }),
    );
  });
});

describe('requiredCount and countingWindow', () => {
  const share = (s: number): Target => ({
    id: 't',
    phase: 'p',
    deadline: '2030-12-31',
    label: 'l',
    scope: { kind: 'commune' },
    required: { share: s },
  });

  it('rounds the share up, without floating-point noise', () => {
    expect(requiredCount(share(0.5), 7)).toBe(4);
    expect(requiredCount(share(0.3), 10)).toBe(3);
    expect(requiredCount(share(1), 7)).toBe(7);
    expect(requiredCount(share(0.5), 0)).toBe(0);
  });

  it('has no window for a device decommissioned before it was equipped', () => {
    expect(countingWindow(device('x', { status: 'decommissioned', decommissionedAt: local('2025-02-01T00:00:00') }))).toBeNull();
  });
});
