import { describe, expect, it } from 'vitest';
import { monthlyDays } from './days.js';
import type { CoverageDevice, CoverageOptions } from './engine.js';
import { readSeedPlan, readSeedSites } from './seed-data.js';
import { computeTrend } from './trend.js';

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
