/**
 * Coverage over time and a projection from the recent pace (DESIGN §4: a past date uses equipped_at
 * and the sites' validity on that date). Pure, like the engine.
 */
import { addDays, dayOf, daysBetween, monthlyDays } from './days.js';
import {
  type CoverageInput,
  CoverageInputError,
  type CoverageOptions,
  checkAsOf,
  inputWindows,
  sitesInScope,
  targetCoverageOn,
} from './engine.js';
import { type PlanSummary, summarizePlan } from './plan.js';

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

/** Monthly points from `from` to `to` (the last day of each month, and both ends) and the projection. */
export function computeTrend(input: CoverageInput, range: TrendRange, options: CoverageOptions): PlanTrend {
  const { plan, sites } = input;
  const from = range.from ?? plan.issued;
  const to = range.to ?? dayOf(options.now, options.utcOffsetMinutes);
  checkAsOf(from, plan, options);
  checkAsOf(to, plan, options);
  if (from > to) throw new CoverageInputError('invalid_as_of', `from ${from} is after to ${to}`);
  const paceDays = range.paceDays ?? 180;
  const since = [addDays(to, -paceDays), plan.issued].sort().at(-1) as string;
  const days = monthlyDays(from, to);
  const byId = new Map(sites.map((s) => [s.id, s]));
  const windows = inputWindows(input);
  const targets = plan.targets.map((target): TargetTrend => {
    const scoped = sitesInScope(target, sites, byId);
    const scopedWindows = scoped.map((site) => windows.get(site.id));
    const at = (day: string) => targetCoverageOn(target, scoped, windows, day, options, false, scopedWindows);
    const points = days.map((day): TrendPoint => {
      const c = at(day);
      return { day, total: c.total, equipped: c.equipped, requiredCount: c.requiredCount, met: c.met };
    });
    const last = at(to);
    const first = at(since);
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
