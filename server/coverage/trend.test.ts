import { describe, expect, it } from 'vitest';
import { addDays, daysBetween, endOfMonth, monthlyDays } from './days.js';
import {
  type CoverageDevice,
  type CoverageOptions,
  type CoverageSite,
  sitesInScope,
  targetCoverageOn,
  windowsBySite,
} from './engine.js';
import type { Plan, Target } from './plan.js';
import { readSeedPlan, readSeedSites } from './seed-data.js';
import { computeTrend, type TrendRange } from './trend.js';

const plan = readSeedPlan();
const sites = readSeedSites();
const COMMUNES = ['gl-c-iao', 'gl-c-iachia', 'gl-c-iadom', 'gl-c-ianan', 'gl-c-iapnon', 'gl-c-iapuch', 'gl-c-iamo'];
const local = (text: string) => Date.parse(`${text}T12:00:00+07:00`);
const options: CoverageOptions = { now: local('2026-11-23'), offlineAfterMs: 86_400_000, utcOffsetMinutes: 420 };

function device(siteId: string, equipped: string): CoverageDevice {
  const at = local(equipped);
  return { id: `d-${siteId}`, siteId, status: 'active', firstSeen: at, equippedAt: at, decommissionedAt: null, lastSeen: at };
}

function trendOf(devices: CoverageDevice[], to = '2026-11-23') {
  const trend = computeTrend({ plan, sites, devices }, { to, paceDays: 180 }, options);
  const byId = (id: string) => {
    const t = trend.targets.find((x) => x.id === id);
    if (!t) throw new Error(id);
    return t;
  };
  return { trend, byId };
}

describe('monthlyDays', () => {
  it('gives the first day, each month end, and the last day', () => {
    expect(monthlyDays('2020-12-24', '2021-03-15')).toEqual([
      '2020-12-24',
      '2020-12-31',
      '2021-01-31',
      '2021-02-28',
      '2021-03-15',
    ]);
    expect(monthlyDays('2021-01-31', '2021-02-28')).toEqual(['2021-01-31', '2021-02-28']);
    expect(monthlyDays('2021-01-05', '2021-01-05')).toEqual(['2021-01-05']);
  });
});

describe('computeTrend', () => {
  it('shows coverage per month from the plan issue day, using equipped_at and validity on each day', () => {
    const { trend, byId } = trendOf([device('gl-c-iao', '2021-02-10'), device('gl-d-ducco', '2022-01-01')]);
    expect(trend.from).toBe('2020-12-24');
    const communes = byId('p2-communes').points;
    expect(communes[0]).toEqual({ day: '2020-12-24', total: 7, equipped: 0, requiredCount: 7, met: false });
    expect(communes.find((p) => p.day === '2021-01-31')?.equipped).toBe(0);
    expect(communes.find((p) => p.day === '2021-02-28')?.equipped).toBe(1);
    const districts = byId('p1-districts').points;
    expect(districts.find((p) => p.day === '2025-06-30')).toMatchObject({ total: 3, equipped: 1, requiredCount: 2 });
    expect(districts.find((p) => p.day === '2025-07-31')).toMatchObject({ total: 0, equipped: 0, met: false });
    expect(communes.at(-1)?.day).toBe('2026-11-23');
  });

  it('projects the day 100% is reached from the recent pace', () => {
    // One commune a month for the last three months (on 2026-08-26, 09-25, 10-25), two before that.
    const devices = [
      device(COMMUNES[0] as string, '2021-06-01'),
      device(COMMUNES[1] as string, '2021-06-01'),
      device(COMMUNES[2] as string, '2026-08-26'),
      device(COMMUNES[3] as string, '2026-09-25'),
      device(COMMUNES[4] as string, '2026-10-25'),
    ];
    const { byId } = trendOf(devices);
    // 3 units in the 180 days from 2026-05-27 to 2026-11-23: 1/60 per day; 2 more units take 120 days.
    const p = byId('p2-communes').projection;
    expect(p.since).toBe('2026-05-27');
    expect(p.ratePerMonth).toBeCloseTo(0.51, 2);
    expect(p.requiredBy).toBe('2027-03-23');
    expect(p.allBy).toBe('2027-03-23');
    expect(p.status).toBe('on_track');
    expect(byId('p1-communes').projection).toMatchObject({ status: 'met', requiredBy: '2026-11-23', allBy: '2027-03-23' });
  });

  it('says "never at the current pace" when nothing was equipped recently, and "no units" without units', () => {
    const { byId } = trendOf([device(COMMUNES[0] as string, '2021-06-01')]);
    expect(byId('p2-communes').projection).toMatchObject({ ratePerMonth: 0, requiredBy: null, allBy: null, status: 'never' });
    expect(byId('p2-districts').projection).toMatchObject({ status: 'no_units', requiredBy: null });
  });

  it('rejects a range that starts before the plan or ends in the future', () => {
    expect(() => computeTrend({ plan, sites, devices: [] }, { from: '2019-01-01' }, options)).toThrow(/before plan/);
    expect(() => computeTrend({ plan, sites, devices: [] }, { to: '2027-01-01' }, options)).toThrow(/after today/);
    expect(() => computeTrend({ plan, sites, devices: [] }, { from: '2026-01-01', to: '2025-01-01' }, options)).toThrow(
      /after to/,
    );
  });
});

/** A small deterministic generator (mulberry32): the same registries on every run, printed seed on failure. */
function generator(seed: number) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
  const int = (n: number) => Math.floor(next() * n);
  const pick = <T>(values: readonly T[]) => values[int(values.length)] as T;
  return { next, int, pick };
}

const ISSUED = '2020-12-24';
const DAY_MS = 86_400_000;
const KINDS = ['district', 'commune', 'station', 'gate', 'office'] as const;

/**
 * A day from before the plan's issue (validity and windows may start earlier) to today; half of them the first or
 * last day of a month (the trend's points, and the first instants after them).
 */
function randomDay(g: ReturnType<typeof generator>): string {
  const day = addDays('2020-10-01', g.int(daysBetween('2020-10-01', '2026-11-23') + 1));
  const r = g.next();
  if (r < 0.25) return `${day.slice(0, 8)}01`;
  if (r < 0.5) return endOfMonth(day) > '2026-11-23' ? day : endOfMonth(day);
  return day;
}

/** An instant near a local day boundary (±1 ms, exactly on it) or anywhere inside the day: where an off-by-one shows. */
function randomInstant(g: ReturnType<typeof generator>): number {
  const midnight = Date.parse(`${randomDay(g)}T00:00:00+07:00`);
  return midnight + g.pick([0, -1, 1, DAY_MS - 1, g.int(DAY_MS)]);
}

function randomRegistry(seed: number) {
  const g = generator(seed);
  const siteCount = 20 + g.int(60);
  const randomSites: CoverageSite[] = [];
  for (let i = 0; i < siteCount; i++) {
    let validFrom = g.next() < 0.5 ? null : randomDay(g);
    let validTo = g.next() < 0.5 ? null : randomDay(g);
    if (validFrom && validTo && validFrom > validTo && g.next() < 0.8) [validFrom, validTo] = [validTo, validFrom];
    randomSites.push({
      id: `s${i}`,
      kind: g.pick(KINDS),
      name: `Site ${i}`,
      parentId: null,
      border: g.next() < 0.6,
      validFrom,
      validTo,
    });
  }
  const devices: CoverageDevice[] = [];
  const deviceCount = g.int(siteCount * 3);
  for (let i = 0; i < deviceCount; i++) {
    const firstSeen = g.next() < 0.15 ? null : randomInstant(g);
    const equippedAt = g.next() < 0.15 ? null : g.next() < 0.3 && firstSeen !== null ? firstSeen : randomInstant(g);
    const status = g.pick(['active', 'active', 'active', 'decommissioned', 'registered', 'provisioned'] as const);
    const decommissionedAt =
      status === 'decommissioned' || g.next() < 0.1
        ? g.next() < 0.1
          ? null
          : g.next() < 0.3 && equippedAt !== null
            ? equippedAt + g.pick([0, 1, DAY_MS])
            : randomInstant(g)
        : null;
    devices.push({
      id: `d${i}`,
      siteId: g.next() < 0.05 ? null : `s${g.int(siteCount)}`,
      status,
      firstSeen,
      equippedAt,
      decommissionedAt,
      lastSeen: null,
    });
  }
  const targets: Target[] = [];
  const targetCount = 1 + g.int(5);
  for (let i = 0; i < targetCount; i++) {
    const scope =
      g.next() < 0.3
        ? { sites: Array.from({ length: 1 + g.int(8) }, () => `s${g.int(siteCount)}`) }
        : g.next() < 0.5
          ? { kind: g.pick(KINDS) }
          : { kind: g.pick(KINDS), border: g.next() < 0.5 };
    targets.push({
      id: `t${i}`,
      phase: 'p',
      deadline: addDays(ISSUED, g.int(4000)),
      label: `Target ${i}`,
      scope,
      required: g.next() < 0.5 ? { share: g.pick([0.3, 0.5, 0.7, 1]) } : { count: 1 + g.int(10) },
    });
  }
  const randomPlan: Plan = { id: 'random', province: 'R', document: '1/R', issued: ISSUED, title: 'Random', targets };
  const to = addDays(ISSUED, g.int(daysBetween(ISSUED, '2026-11-23') + 1));
  const from = g.next() < 0.4 ? undefined : addDays(ISSUED, g.int(daysBetween(ISSUED, to) + 1));
  const range: TrendRange = { to, ...(from ? { from } : {}), paceDays: g.pick([7, 30, 180, 400, 3650]) };
  return { plan: randomPlan, sites: randomSites, devices, range };
}

/** The straightforward trend: the engine's one-day rule (`targetCoverageOn`) asked for every point and the pace's first day. */
function trendPerDay(plan: Plan, sites: CoverageSite[], devices: CoverageDevice[], range: TrendRange) {
  const trend = computeTrend({ plan, sites, devices }, range, options);
  const windows = windowsBySite(devices);
  const byId = new Map(sites.map((s) => [s.id, s]));
  return trend.targets.map((t) => {
    const target = plan.targets.find((x) => x.id === t.id) as Target;
    const scoped = sitesInScope(target, sites, byId);
    const at = (day: string) => {
      const c = targetCoverageOn(target, scoped, windows, day, options, null);
      return { day, total: c.total, equipped: c.equipped, requiredCount: c.requiredCount, met: c.met };
    };
    return { points: monthlyDays(trend.from, trend.to).map(at), since: at(t.projection.since), to: at(trend.to) };
  });
}

describe('computeTrend in one sweep', () => {
  it('gives the per-day evaluation of the engine on randomized registries (validity, windows on day boundaries)', () => {
    let compared = 0;
    for (let seed = 1; seed <= 300; seed++) {
      const { plan: p, sites: s, devices, range } = randomRegistry(seed);
      const trend = computeTrend({ plan: p, sites: s, devices }, range, options);
      const expected = trendPerDay(p, s, devices, range);
      trend.targets.forEach((t, i) => {
        const want = expected[i] as (typeof expected)[number];
        expect(t.points, `seed ${seed}, target ${t.id}`).toEqual(want.points);
        // The projection's pace uses the coverage on its first day, which is not always a point.
        const windowDays = daysBetween(t.projection.since, trend.to);
        const perDay = windowDays > 0 ? (want.to.equipped - want.since.equipped) / windowDays : 0;
        expect(t.projection.ratePerMonth, `seed ${seed}, target ${t.id}`).toBe(Math.round(perDay * (365.25 / 12) * 100) / 100);
        compared += t.points.length;
      });
    }
    expect(compared).toBeGreaterThan(10_000);
  });
});
