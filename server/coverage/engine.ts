/**
 * The coverage engine (DESIGN §4, the one definition): pure functions over plain data. No SQL, no clock:
 * the caller passes the sites, the devices, the plan, the day and "now".
 */
import type { DeviceStatus, SiteKind } from '../../protocol/index.js';
import { DomainError } from '../errors.js';
import { dayEnd, dayOf, isDay } from './days.js';
import { type Plan, type PlanSummary, summarizePlan, type Target } from './plan.js';

export interface CoverageSite {
  id: string;
  kind: SiteKind;
  name: string;
  parentId: string | null;
  border: boolean;
  adminCode?: string | null;
  /** First and last day the unit exists (inclusive); null = unbounded. */
  validFrom: string | null;
  validTo: string | null;
}

export interface CoverageDevice {
  id: string;
  siteId: string | null;
  status: DeviceStatus;
  /** First time it connected (ms). */
  firstSeen: number | null;
  /** First time it applied a content manifest (ms): it can use the database from then on. */
  equippedAt: number | null;
  decommissionedAt: number | null;
  lastSeen: number | null;
}

export interface CoverageOptions {
  /** The current instant (ms); "today" is its day in the zone. */
  now: number;
  /** A counting device silent for longer than this is offline (DESIGN §9 `OFFLINE_AFTER`). */
  offlineAfterMs: number;
  utcOffsetMinutes: number;
}

export interface TargetCoverage {
  id: string;
  phase: string;
  deadline: string;
  label: string;
  total: number;
  equipped: number;
  /** Units equipped that are operational now; null when asOf is not today (nobody recorded it then). */
  operational: number | null;
  requiredCount: number;
  met: boolean;
  noUnitsInScope: boolean;
}

export interface PlanCoverage {
  plan: PlanSummary;
  asOf: string;
  targets: TargetCoverage[];
}

/** A bad question (a malformed or out-of-range date, a plan naming a vanished site): the caller's 4xx. */
/** A question the engine cannot answer: 422 when the registry does not fit the plan, 400 for a bad day. */
export class CoverageInputError extends DomainError {
  override readonly name = 'CoverageInputError';
  constructor(
    override readonly code: 'invalid_as_of' | 'as_of_before_plan' | 'as_of_in_future' | 'unknown_site' | 'site_parent_abolished',
    message: string,
  ) {
    super(code === 'unknown_site' || code === 'site_parent_abolished' ? 422 : 400, code, message);
  }
}

/** [start, end): the instants a device counts for its site; end is Infinity while it is in service. */
export interface CountingWindow {
  start: number;
  end: number;
  lastSeen: number | null;
}

/**
 * A device counts from max(first connected, first manifest applied) until it is decommissioned. One that
 * never connected, never applied a manifest, or is decommissioned without a date never counts.
 */
export function countingWindow(device: CoverageDevice): CountingWindow | null {
  if (device.status !== 'active' && device.status !== 'decommissioned') return null;
  if (device.firstSeen === null || device.equippedAt === null) return null;
  if (device.status === 'decommissioned' && device.decommissionedAt === null) return null;
  const start = Math.max(device.firstSeen, device.equippedAt);
  const end = device.decommissionedAt ?? Number.POSITIVE_INFINITY;
  return end > start ? { start, end, lastSeen: device.lastSeen } : null;
}

/** Counting windows per site id, built once and asked about many days. */
export type SiteWindows = Map<string, CountingWindow[]>;

/** When a window counts, without its last_seen: all the trend asks ("equipped on a day"), and what changes rarely. */
export type CountingSpan = Pick<CountingWindow, 'start' | 'end'>;
export type SiteSpans = ReadonlyMap<string, readonly CountingSpan[]>;

export function windowsBySite(devices: Iterable<CoverageDevice>): SiteWindows {
  const bySite: SiteWindows = new Map();
  for (const device of devices) {
    if (device.siteId === null) continue;
    const window = countingWindow(device);
    if (!window) continue;
    const list = bySite.get(device.siteId);
    if (list) list.push(window);
    else bySite.set(device.siteId, [window]);
  }
  return bySite;
}

/**
 * Equipped on a day: a device counted at some moment of that day and was not decommissioned on it
 * ("stops counting from its decommission date").
 */
export function equippedOn(windows: readonly CountingSpan[] | undefined, day: string, options: CoverageOptions): boolean {
  return equippedBefore(windows, dayEnd(day, options.utcOffsetMinutes));
}

/** `equippedOn` with the day's end instant computed once by the caller (it is asked per site). */
export function equippedBefore(windows: readonly CountingSpan[] | undefined, end: number): boolean {
  if (!windows) return false;
  for (const w of windows) if (w.start < end && w.end >= end) return true;
  return false;
}

/** Operational now: a device counts now and was seen within offline_after. */
export function operationalNow(windows: CountingWindow[] | undefined, options: CoverageOptions): boolean {
  if (!windows) return false;
  const { now, offlineAfterMs } = options;
  return windows.some((w) => w.start <= now && now < w.end && w.lastSeen !== null && now - w.lastSeen <= offlineAfterMs);
}

export function existsOn(site: CoverageSite, day: string): boolean {
  return (site.validFrom === null || site.validFrom <= day) && (site.validTo === null || day <= site.validTo);
}

const byIdOf = new WeakMap<readonly CoverageSite[], ReadonlyMap<string, CoverageSite>>();

/**
 * The sites by id, built once per sites array: the registry reader (coverage-repo.ts `createSitesReader`) hands out
 * one array per registry version and nobody mutates it, so the same array always has the same index.
 */
export function sitesById(sites: readonly CoverageSite[]): ReadonlyMap<string, CoverageSite> {
  let byId = byIdOf.get(sites);
  if (!byId) {
    byId = new Map(sites.map((s) => [s.id, s]));
    byIdOf.set(sites, byId);
  }
  return byId;
}

/** The sites a target's scope selects, whatever their validity. */
export function sitesInScope(
  target: Target,
  sites: readonly CoverageSite[],
  byId: ReadonlyMap<string, CoverageSite> = sitesById(sites),
): CoverageSite[] {
  const scope = target.scope;
  if ('sites' in scope) {
    return scope.sites.map((id) => {
      const site = byId.get(id);
      if (!site)
        throw new CoverageInputError(
          'unknown_site',
          `target "${target.id}" names site "${id}", which is no longer in the registry`,
        );
      return site;
    });
  }
  return sites.filter((s) => s.kind === scope.kind && (scope.border === undefined || s.border === scope.border));
}

/** ceil(share × total), without 0.3 × 10 = 3.0000000000000004 rounding up to 4. */
export function requiredCount(target: Target, total: number): number {
  if ('count' in target.required) return target.required.count;
  return Math.ceil(Math.round(target.required.share * total * 1e9) / 1e9);
}

/** Checks an as-of day: well-formed, not before the plan, not after today. */
export function checkAsOf(asOf: string, plan: Plan, options: CoverageOptions): void {
  if (!isDay(asOf)) throw new CoverageInputError('invalid_as_of', `asOf must be a calendar day YYYY-MM-DD, got "${asOf}"`);
  if (asOf < plan.issued) {
    throw new CoverageInputError('as_of_before_plan', `asOf ${asOf} is before plan ${plan.document} was issued (${plan.issued})`);
  }
  const today = dayOf(options.now, options.utcOffsetMinutes);
  if (asOf > today)
    throw new CoverageInputError('as_of_in_future', `asOf ${asOf} is after today (${today}): coverage is not known yet`);
}

/**
 * The engine's data: the devices, or (at scale) their counting windows already grouped per site by the
 * repository. Both give the same answers (tests/coverage-repo.test.ts checks it).
 */
export type CoverageInput = { plan: Plan; sites: readonly CoverageSite[] } & (
  | { devices: Iterable<CoverageDevice> }
  | { windows: SiteWindows }
  /** Only the spans (no last_seen): enough for a past day, where `operational` is not known anyway. */
  | { spans: SiteSpans }
);

/** One target on one day: units that exist that day, those equipped that day, and whether that meets it. */
export function targetCoverageOn(
  target: Target,
  scoped: readonly CoverageSite[],
  windows: SiteSpans,
  day: string,
  options: CoverageOptions,
  /** The windows with their last_seen, to count the units operational now (today's coverage); null: not asked. */
  operationalWindows: SiteWindows | null,
): TargetCoverage {
  let total = 0;
  let equipped = 0;
  let operational = 0;
  const end = dayEnd(day, options.utcOffsetMinutes);
  for (const site of scoped) {
    if (!existsOn(site, day)) continue;
    total++;
    const siteWindows = windows.get(site.id);
    if (!equippedBefore(siteWindows, end)) continue;
    equipped++;
    if (operationalWindows && operationalNow(operationalWindows.get(site.id), options)) operational++;
  }
  const required = requiredCount(target, total);
  return {
    id: target.id,
    phase: target.phase,
    deadline: target.deadline,
    label: target.label,
    total,
    equipped,
    operational: operationalWindows ? operational : null,
    requiredCount: required,
    met: total > 0 && equipped >= required,
    noUnitsInScope: total === 0,
  };
}

/**
 * The earliest instant `computeCoverage(…, asOf, options)` asks a counting window about: the end of the earliest
 * day a target is judged on, or now. Windows that closed before it change nothing in that answer.
 */
export function earliestInstantAsked(plan: Plan, asOf: string, options: CoverageOptions): number {
  checkAsOf(asOf, plan, options);
  let earliest = options.now;
  for (const target of plan.targets) {
    const judgedOn = target.deadline < asOf ? target.deadline : asOf;
    earliest = Math.min(earliest, dayEnd(judgedOn, options.utcOffsetMinutes));
  }
  return earliest;
}

/**
 * Coverage of every target as of a day. A target whose deadline has passed is judged at its deadline
 * (phase 1 is judged on 2025-12-31), the others on asOf. `operational` is known only for today.
 */
export function computeCoverage(input: CoverageInput, asOf: string, options: CoverageOptions): PlanCoverage {
  const { plan, sites } = input;
  checkAsOf(asOf, plan, options);
  const byId = sitesById(sites);
  const windows = 'spans' in input ? null : 'windows' in input ? input.windows : windowsBySite(input.devices);
  const isToday = asOf === dayOf(options.now, options.utcOffsetMinutes);
  if (isToday && !windows) {
    throw new Error(
      `computeCoverage: on ${asOf} (today) it counts the units operational now, which needs the windows' last_seen`,
    );
  }
  const spans = windows ?? (input as { spans: SiteSpans }).spans;
  const targets = plan.targets.map((target) => {
    const judgedOn = target.deadline < asOf ? target.deadline : asOf;
    return targetCoverageOn(target, sitesInScope(target, sites, byId), spans, judgedOn, options, isToday ? windows : null);
  });
  return { plan: summarizePlan(plan), asOf, targets };
}
