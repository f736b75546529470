/**
 * Per-commune progress rows (district → commune → site) for the dashboard and reports. Pure; the same
 * definitions as the engine: a site is equipped on the day, operational now.
 */
import { dayEnd, dayOf } from './days.js';
import {
  type CoverageDevice,
  CoverageInputError,
  type CoverageOptions,
  type CoverageSite,
  checkAsOf,
  countingWindow,
  equippedBefore,
  existsOn,
  operationalNow,
  type SiteWindows,
  sitesById,
  sitesInScope,
  windowsBySite,
} from './engine.js';
import { isSyncProblem } from './fleet-rules.js';
import { type Plan, type PlanSummary, summarizePlan } from './plan.js';

export interface FleetDevice extends CoverageDevice {
  contentSeq: number | null;
  /** The last sync report's state (`downloading` | `applied` | `failed`), if any. */
  syncState: string | null;
  /** Download failures in a row of that report (0 when absent). */
  syncFailures?: number;
}

export interface Problems {
  /** Devices that count now but were not seen within offline_after. */
  offline: number;
  /** Devices that connected but never applied a manifest. */
  neverApplied: number;
  /** Devices with a sync problem (fleet-rules.ts `isSyncProblem`: last sync failed, or 3 failed downloads in a row). */
  syncFailed: number;
}

interface Progress {
  /** Devices not decommissioned. */
  devices: number;
  lastSeen: number | null;
  /** The lowest content seq applied among the devices that count now (the laggard). */
  contentSeq: number | null;
  problems: Problems;
}

export interface SiteRow extends Progress {
  id: string;
  kind: CoverageSite['kind'];
  name: string;
  equipped: boolean;
  operational: boolean | null;
  /** Has a device that does not count yet (registered, provisioned, or no manifest applied). */
  planned: boolean;
}

export interface CommuneRow extends Progress {
  commune: { id: string; name: string; adminCode: string | null };
  /** The district the commune belonged to; `abolished` once the district level ended (2025-07-01). */
  district: { id: string; name: string; abolished: boolean } | null;
  /** The commune itself is equipped (what the commune targets count). */
  communeEquipped: boolean;
  sites: number;
  equipped: number;
  operational: number | null;
  planned: number;
  siteRows?: SiteRow[];
}

export interface CommunesReport {
  plan: PlanSummary;
  asOf: string;
  communes: CommuneRow[];
}

function emptyProgress(): Progress {
  return { devices: 0, lastSeen: null, contentSeq: null, problems: { offline: 0, neverApplied: 0, syncFailed: 0 } };
}

function minOrNull(a: number | null, b: number | null): number | null {
  if (a === null) return b;
  return b === null ? a : Math.min(a, b);
}

function maxOrNull(a: number | null, b: number | null): number | null {
  if (a === null) return b;
  return b === null ? a : Math.max(a, b);
}

function addProgress(into: Progress, from: Progress): void {
  into.devices += from.devices;
  into.lastSeen = maxOrNull(into.lastSeen, from.lastSeen);
  into.contentSeq = minOrNull(into.contentSeq, from.contentSeq);
  into.problems.offline += from.problems.offline;
  into.problems.neverApplied += from.problems.neverApplied;
  into.problems.syncFailed += from.problems.syncFailed;
}

/** Per site: device counts, last seen, content seq and problems, as the communes table shows them. */
export interface SiteProgress extends Progress {
  /** Some device there does not count now (registered, provisioned, or no manifest applied yet). */
  waiting: boolean;
}

/** The definition of a site's progress from its devices; the repository computes the same in SQL at scale. */
export function progressFromDevices(devices: readonly FleetDevice[], options: CoverageOptions): SiteProgress {
  const p: SiteProgress = { ...emptyProgress(), waiting: false };
  for (const d of devices) {
    if (d.status === 'decommissioned') continue;
    p.devices++;
    p.lastSeen = maxOrNull(p.lastSeen, d.lastSeen);
    if (d.syncState !== null && isSyncProblem({ state: d.syncState, failures: d.syncFailures ?? 0 })) p.problems.syncFailed++;
    const window = countingWindow(d);
    if (window && window.start <= options.now && options.now < window.end) {
      p.contentSeq = minOrNull(p.contentSeq, d.contentSeq);
      if (d.lastSeen === null || options.now - d.lastSeen > options.offlineAfterMs) p.problems.offline++;
    } else {
      p.waiting = true;
      if (d.firstSeen !== null && d.equippedAt === null) p.problems.neverApplied++;
    }
  }
  return p;
}

/** Groups devices per site: counting windows and progress (for tests and small fleets). */
export function fleetFromDevices(devices: readonly FleetDevice[], options: CoverageOptions): SiteFleet {
  const bySite = new Map<string, FleetDevice[]>();
  for (const d of devices) {
    if (d.siteId === null) continue;
    const list = bySite.get(d.siteId);
    if (list) list.push(d);
    else bySite.set(d.siteId, [d]);
  }
  const progress = new Map<string, SiteProgress>();
  for (const [siteId, list] of bySite) progress.set(siteId, progressFromDevices(list, options));
  return { windows: windowsBySite(devices), progress };
}

/** What the communes table knows of the devices, per site id. */
export interface SiteFleet {
  windows: SiteWindows;
  progress: Map<string, SiteProgress>;
}

/** Vietnamese order, built once (a collator is costly to construct). */
const collator = new Intl.Collator('vi');

/** A commune the plan is about on a day, with its sites (the commune first), in table order. */
export interface CommuneEntry {
  commune: CoverageSite;
  district: CoverageSite | null;
  sites: CoverageSite[];
}

/**
 * The communes the plan is about on `asOf` (in a target's scope, or hosting a site that is) with their
 * sites, sorted by district then commune. Sites only, no device: the page of the table is chosen from this
 * before any device is read. A site whose commune no longer exists cannot be placed and is refused, naming
 * it; a commune whose district was abolished keeps it as its former district (the district level ended).
 */
export function communeList(plan: Plan, sites: readonly CoverageSite[], asOf: string): readonly CommuneEntry[] {
  let lists = listsOf.get(sites);
  if (!lists) {
    lists = new Map();
    listsOf.set(sites, lists);
  }
  const key = `${asOf} ${JSON.stringify(plan)}`;
  let list = lists.get(key);
  if (!list) {
    list = buildCommuneList(plan, sites, asOf);
    if (lists.size >= LISTS_KEPT) lists.delete(lists.keys().next().value as string);
    lists.set(key, list);
  }
  return list;
}

/**
 * `communeList` depends on the plan, the day and the registry alone: kept per sites array (the registry reader
 * hands out one per registry version, never mutated; migration 302 bumps that version on every change of a site),
 * for a few (day, plan) pairs each. The 2 000-commune list costs ~4 ms to build (the sort by Vietnamese names).
 */
const listsOf = new WeakMap<readonly CoverageSite[], Map<string, readonly CommuneEntry[]>>();
const LISTS_KEPT = 16;

function buildCommuneList(plan: Plan, sites: readonly CoverageSite[], asOf: string): CommuneEntry[] {
  const byId = sitesById(sites);
  const children = new Map<string, CoverageSite[]>();
  for (const site of sites) {
    if (site.parentId === null || !existsOn(site, asOf)) continue;
    const list = children.get(site.parentId);
    if (list) list.push(site);
    else children.set(site.parentId, [site]);
  }
  const communeIds = new Set<string>();
  for (const target of plan.targets) {
    for (const site of sitesInScope(target, sites, byId)) {
      if (!existsOn(site, asOf)) continue;
      if (site.kind === 'commune') {
        communeIds.add(site.id);
        continue;
      }
      if (site.kind === 'district' || site.parentId === null) continue;
      const parent = byId.get(site.parentId);
      if (parent?.kind !== 'commune') continue;
      if (!existsOn(parent, asOf)) {
        throw new CoverageInputError(
          'site_parent_abolished',
          `site "${site.id}" (${site.name}) is in commune "${parent.id}" (${parent.name}), which did not exist on ${asOf}; move the site to the commune that replaced it`,
        );
      }
      communeIds.add(parent.id);
    }
  }
  const entries: CommuneEntry[] = [];
  for (const id of communeIds) {
    const commune = byId.get(id) as CoverageSite;
    const parent = commune.parentId ? byId.get(commune.parentId) : undefined;
    entries.push({
      commune,
      district: parent?.kind === 'district' ? parent : null,
      sites: [commune, ...(children.get(id) ?? [])],
    });
  }
  return entries.sort(
    (a, b) =>
      collator.compare(a.district?.name ?? '', b.district?.name ?? '') || collator.compare(a.commune.name, b.commune.name),
  );
}

/** The rows of some communes of `communeList`, from the fleet facts of (at least) their sites. */
export function communeRowsOf(
  entries: readonly CommuneEntry[],
  fleet: SiteFleet,
  asOf: string,
  options: CoverageOptions,
  include: { siteRows: boolean } = { siteRows: false },
): CommuneRow[] {
  const isToday = asOf === dayOf(options.now, options.utcOffsetMinutes);
  const { windows, progress } = fleet;
  const asOfEnd = dayEnd(asOf, options.utcOffsetMinutes);

  return entries.map(({ commune, district, sites }) => {
    const row: CommuneRow = {
      commune: { id: commune.id, name: commune.name, adminCode: commune.adminCode ?? null },
      district: district ? { id: district.id, name: district.name, abolished: !existsOn(district, asOf) } : null,
      communeEquipped: false,
      sites: sites.length,
      equipped: 0,
      operational: isToday ? 0 : null,
      planned: 0,
      ...emptyProgress(),
    };
    const siteRows: SiteRow[] | null = include.siteRows ? [] : null;
    for (let i = 0; i < sites.length; i++) {
      const site = sites[i] as CoverageSite;
      const facts = progress.get(site.id);
      const siteWindows = windows.get(site.id);
      const equipped = equippedBefore(siteWindows, asOfEnd);
      const operational = isToday ? equipped && operationalNow(siteWindows, options) : null;
      const planned = (facts?.waiting ?? false) && !equipped;
      if (i === 0) row.communeEquipped = equipped;
      if (facts) addProgress(row, facts);
      if (equipped) row.equipped++;
      if (operational && row.operational !== null) row.operational++;
      if (planned) row.planned++;
      siteRows?.push({
        id: site.id,
        kind: site.kind,
        name: site.name,
        devices: facts?.devices ?? 0,
        lastSeen: facts?.lastSeen ?? null,
        contentSeq: facts?.contentSeq ?? null,
        problems: facts ? { ...facts.problems } : emptyProgress().problems,
        equipped,
        operational,
        planned,
      });
    }
    if (siteRows) row.siteRows = siteRows;
    return row;
  });
}

/** Every commune's row (reports, tests): `communeList` then `communeRowsOf` over the whole fleet. */
export function communeRows(
  input: { plan: Plan; sites: readonly CoverageSite[]; fleet: SiteFleet },
  asOf: string,
  options: CoverageOptions,
  include: { siteRows: boolean } = { siteRows: false },
): CommunesReport {
  const { plan, sites } = input;
  checkAsOf(asOf, plan, options);
  const entries = communeList(plan, sites, asOf);
  return { plan: summarizePlan(plan), asOf, communes: communeRowsOf(entries, input.fleet, asOf, options, include) };
}
