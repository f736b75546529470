/**
 * Coverage over time and a projection from the recent pace (DESIGN §4: a past date uses equipped_at
 * and the sites' validity on that date). Pure, like the engine.
 */
import { addDays, dayEnd, dayOf, daysBetween, monthlyDays } from './days.js';
import {
  type CountingSpan,
  type CoverageDevice,
  CoverageInputError,
  type CoverageOptions,
  type CoverageSite,
  checkAsOf,
  requiredCount,
  type SiteSpans,
  sitesById,
  sitesInScope,
  windowsBySite,
} from './engine.js';
import { type Plan, type PlanSummary, summarizePlan, type Target } from './plan.js';

export interface TrendPoint {
  day: string;
  total: number;
  equipped: number;
  requiredCount: number;
  met: boolean;
}

export type ProjectionStatus = 'no_units' | 'met' | 'on_track' | 'behind' | 'never';

export interface Projection {
  /** The pace is measured from this day to the trend's last day. */
  since: string;
  /** Units equipped per month over that window (may be 0 or negative). */
  ratePerMonth: number;
  /** The day the required count is reached at this pace (the last day when already reached); null = never. */
  requiredBy: string | null;
  /** The day every unit in scope is equipped at this pace; null = never. */
  allBy: string | null;
  status: ProjectionStatus;
}

export interface TargetTrend {
  id: string;
  phase: string;
  deadline: string;
  label: string;
  points: TrendPoint[];
  projection: Projection;
}

export interface PlanTrend {
  plan: PlanSummary;
  from: string;
  to: string;
  targets: TargetTrend[];
}

export interface TrendRange {
  /** Default: the plan's issue day. */
  from?: string;
  /** Default: today. */
  to?: string;
  /** How far back the pace is measured. Default 180 days. */
  paceDays?: number;
}

const DAYS_PER_MONTH = 365.25 / 12;

function projectDay(to: string, remaining: number, perDay: number): string | null {
  if (remaining <= 0) return to;
  if (perDay <= 0) return null;
  return addDays(to, Math.ceil(remaining / perDay));
}

/** The first index of the sorted `values` above `x` (`values.length` when none is). */
function firstAbove(values: readonly number[], x: number): number {
  let lo = 0;
  let hi = values.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((values[mid] as number) > x) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

/** The first index of the sorted days above `day`, or at or above it with `orEqual`. */
function firstDayAfter(days: readonly string[], day: string, orEqual: boolean): number {
  let lo = 0;
  let hi = days.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    const d = days[mid] as string;
    if (d > day || (orEqual && d === day)) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

/**
 * One target's units in scope and units equipped on each of `days` (sorted, distinct): the engine's
 * `targetCoverageOn` for every day at once. Each site adds +1/−1 at the bounds of the run of days it exists
 * (`existsOn`: validFrom ≤ day ≤ validTo) and of the runs it is equipped in while it exists (`equippedBefore`: a
 * window with start < dayEnd(day) ≤ end), the union of its windows' runs so that overlapping devices count once;
 * a prefix sum then gives every day. O(sites × windows × log days) instead of days × sites × windows.
 */
export function countsOnDays(
  scoped: readonly CoverageSite[],
  scopedWindows: readonly (readonly CountingSpan[] | undefined)[],
  days: readonly string[],
  utcOffsetMinutes: number,
): { total: number[]; equipped: number[] } {
  const n = days.length;
  const ends = days.map((day) => dayEnd(day, utcOffsetMinutes));
  const totalDiff = new Array<number>(n + 1).fill(0);
  const equippedDiff = new Array<number>(n + 1).fill(0);
  // The runs of one site's windows, [first, last) index pairs, kept sorted by first (insertion: a site has few).
  const firsts: number[] = [];
  const lasts: number[] = [];
  const addRun = (first: number, last: number) => {
    (equippedDiff[first] as number)++;
    (equippedDiff[last] as number)--;
  };
  for (let s = 0; s < scoped.length; s++) {
    const site = scoped[s] as CoverageSite;
    const from = site.validFrom === null ? 0 : firstDayAfter(days, site.validFrom, true);
    const to = site.validTo === null ? n : firstDayAfter(days, site.validTo, false);
    if (from >= to) continue;
    (totalDiff[from] as number)++;
    (totalDiff[to] as number)--;
    const windows = scopedWindows[s];
    if (!windows) continue;
    let count = 0;
    for (let w = 0; w < windows.length; w++) {
      const { start, end } = windows[w] as CountingSpan;
      const first = Math.max(from, firstAbove(ends, start));
      const last = Math.min(to, end === Number.POSITIVE_INFINITY ? n : firstAbove(ends, end));
      if (first >= last) continue;
      let i = count++;
      for (; i > 0 && (firsts[i - 1] as number) > first; i--) {
        firsts[i] = firsts[i - 1] as number;
        lasts[i] = lasts[i - 1] as number;
      }
      firsts[i] = first;
      lasts[i] = last;
    }
    if (count === 0) continue;
    let runStart = firsts[0] as number;
    let runEnd = lasts[0] as number;
    for (let i = 1; i < count; i++) {
      const first = firsts[i] as number;
      const last = lasts[i] as number;
      if (first > runEnd) {
        addRun(runStart, runEnd);
        runStart = first;
        runEnd = last;
      } else if (last > runEnd) runEnd = last;
    }
    addRun(runStart, runEnd);
  }
  const total: number[] = [];
  const equipped: number[] = [];
  let t = 0;
  let e = 0;
  for (let i = 0; i < n; i++) {
    t += totalDiff[i] as number;
    e += equippedDiff[i] as number;
    total.push(t);
    equipped.push(e);
  }
  return { total, equipped };
}

function pointOf(target: Target, day: string, total: number, equipped: number): TrendPoint {
  const required = requiredCount(target, total);
  return { day, total, equipped, requiredCount: required, met: total > 0 && equipped >= required };
}

/**
 * The trend's data: the devices, or (at scale) the spans of their counting windows per site, read by the repository
 * (a `SiteWindows` is one too).
 */
export type TrendInput = { plan: Plan; sites: readonly CoverageSite[] } & (
  | { devices: Iterable<CoverageDevice> }
  | { spans: SiteSpans }
);

/** Monthly points from `from` to `to` (the last day of each month, and both ends) and the projection. */
export function computeTrend(input: TrendInput, range: TrendRange, options: CoverageOptions): PlanTrend {
  const { plan, sites } = input;
  const from = range.from ?? plan.issued;
  const to = range.to ?? dayOf(options.now, options.utcOffsetMinutes);
  checkAsOf(from, plan, options);
  checkAsOf(to, plan, options);
  if (from > to) throw new CoverageInputError('invalid_as_of', `from ${from} is after to ${to}`);
  const paceDays = range.paceDays ?? 180;
  const since = [addDays(to, -paceDays), plan.issued].sort().at(-1) as string;
  const days = monthlyDays(from, to);
  // The pace's first day may fall before `from` or between two points: asked in the same sweep.
  const asked = days.includes(since) ? days : [...days, since].sort();
  const sinceIndex = asked.indexOf(since);
  const byId = sitesById(sites);
  const spans: SiteSpans = 'spans' in input ? input.spans : windowsBySite(input.devices);
  const targets = plan.targets.map((target): TargetTrend => {
    const scoped = sitesInScope(target, sites, byId);
    const counts = countsOnDays(
      scoped,
      scoped.map((site) => spans.get(site.id)),
      asked,
      options.utcOffsetMinutes,
    );
    const at = (i: number) => pointOf(target, asked[i] as string, counts.total[i] as number, counts.equipped[i] as number);
    const points = asked.flatMap((day, i) => (day === since && asked !== days ? [] : [at(i)]));
    const last = at(asked.length - 1);
    const first = at(sinceIndex);
    const windowDays = daysBetween(since, to);
    const perDay = windowDays > 0 ? (last.equipped - first.equipped) / windowDays : 0;
    const requiredBy = last.total === 0 ? null : projectDay(to, last.requiredCount - last.equipped, perDay);
    const allBy = last.total === 0 ? null : projectDay(to, last.total - last.equipped, perDay);
    let status: ProjectionStatus;
    if (last.total === 0) status = 'no_units';
    else if (last.met) status = 'met';
    else if (requiredBy === null) status = 'never';
    else status = requiredBy <= target.deadline ? 'on_track' : 'behind';
    return {
      id: target.id,
      phase: target.phase,
      deadline: target.deadline,
      label: target.label,
      points,
      projection: { since, ratePerMonth: Math.round(perDay * DAYS_PER_MONTH * 100) / 100, requiredBy, allBy, status },
    };
  });
  return { plan: summarizePlan(plan), from, to, targets };
}
