/**
 * The figures of the department's yearly report (issue 16): coverage of each target at the end of the year (the
 * coverage engine's as-of computation, the same call and the same figures as `GET /plans/:id/coverage?asOf=`),
 * the per-commune table on that day, content published per language, kiosk availability per site and views per
 * language over the year. Reads only; no clock of its own (the caller passes now).
 */
import { type CommunesReport, communeRows } from '../coverage/communes.js';
import { createSitesReader, readSiteFleet, readSiteWindows } from '../coverage/coverage-repo.js';
import { dayEnd, dayOf } from '../coverage/days.js';
import { type CoverageOptions, computeCoverage, earliestInstantAsked, type PlanCoverage } from '../coverage/engine.js';
import type { Plan } from '../coverage/plan.js';
import type { Database } from '../db/open-database.js';
import { DomainError } from '../errors.js';

const HOUR = 3_600_000;

export interface SiteAvailability {
  siteId: string;
  name: string;
  kind: string;
  /** Hours of the year (to its end, or to now in the current year) in which a device of the site reported health. */
  hoursOnline: number;
  hoursInPeriod: number;
  /** hoursOnline / hoursInPeriod, 0..1; null for a site with no device in the year. */
  share: number | null;
  devices: number;
}

export interface YearlyReport {
  plan: Plan;
  year: number;
  /** The day coverage is judged on: 31 December, or today for the current year. */
  asOf: string;
  coverage: PlanCoverage;
  communes: CommunesReport;
  /** Items with a version published in the year, per language of their translations. */
  publishedByLang: { lang: string; items: number }[];
  availability: SiteAvailability[];
  viewsByLang: { lang: string; views: number; seconds: number }[];
  utcOffsetMinutes: number;
  generatedAt: number;
}

/**
 * Availability: the share of the year's hours (1 January 00:00 local to the end of the year, or to now) in which at
 * least one device of the site sent a health sample (agents send one every few minutes while the link is up). It is
 * read from the hourly roll-ups (`health_hourly`, kept for a year and more) and the raw samples not yet rolled up, so
 * an hour counts once whichever holds it. A kiosk that ran offline counts as not available: the department cannot
 * tell it was on.
 */
function availability(db: Database, from: number, to: number): SiteAvailability[] {
  const hoursInPeriod = Math.max(1, Math.ceil((to - from) / HOUR));
  const rows = db
    .prepare(
      `WITH hours AS (
         SELECT device_id, hour FROM health_hourly WHERE hour >= @from AND hour < @to
         UNION
         SELECT device_id, (received_ts / ${HOUR}) * ${HOUR} FROM health WHERE received_ts >= @from AND received_ts < @to
       ),
       site_devices AS (
         SELECT id, site_id FROM devices
         WHERE site_id IS NOT NULL AND first_seen IS NOT NULL AND first_seen < @to
           AND (decommissioned_at IS NULL OR decommissioned_at >= @from)
       )
       SELECT s.id AS siteId, s.name, s.kind,
         (SELECT count(DISTINCT h.hour) FROM hours h JOIN devices d ON d.id = h.device_id WHERE d.site_id = s.id) AS hoursOnline,
         (SELECT count(*) FROM site_devices sd WHERE sd.site_id = s.id) AS devices
       FROM sites s WHERE s.kind <> 'district'
       ORDER BY s.kind, s.name`,
    )
    .all({ from, to }) as { siteId: string; name: string; kind: string; hoursOnline: number; devices: number }[];
  return rows.map((r) => ({
    ...r,
    hoursInPeriod,
    share: r.devices === 0 && r.hoursOnline === 0 ? null : Math.min(1, r.hoursOnline / hoursInPeriod),
  }));
}

export function yearlyReport(db: Database, plan: Plan, year: number, options: CoverageOptions): YearlyReport {
  const { utcOffsetMinutes } = options;
  const today = dayOf(options.now, utcOffsetMinutes);
  const yearEndDay = `${String(year).padStart(4, '0')}-12-31`;
  if (`${year}-01-01` > today) throw new DomainError(400, 'year_in_future', `year ${year} has not begun (today is ${today})`);
  const asOf = yearEndDay < today ? yearEndDay : today;
  // The coverage API's own computation on that day (coverage-routes.ts `GET /plans/:id/coverage`).
  const readSites = createSitesReader(db);
  const sites = readSites();
  const windows = readSiteWindows(db, earliestInstantAsked(plan, asOf, options));
  const coverage = computeCoverage({ plan, sites, windows }, asOf, options);
  const communes = communeRows({ plan, sites, fleet: readSiteFleet(db, options) }, asOf, options);

  const from = dayEnd(`${year - 1}-12-31`, utcOffsetMinutes);
  const to = Math.min(dayEnd(yearEndDay, utcOffsetMinutes), options.now);
  const publishedByLang = db
    .prepare(
      `SELECT t.lang, count(DISTINCT v.item_id) AS items FROM content_versions v
       JOIN content_translations t ON t.item_id = v.item_id AND t.version = v.version
       WHERE v.published_at >= @from AND v.published_at < @to
       GROUP BY t.lang ORDER BY items DESC, t.lang`,
    )
    .all({ from, to }) as { lang: string; items: number }[];
  const viewsByLang = db
    .prepare(
      `SELECT lang, sum(views) AS views, sum(seconds) AS seconds FROM play_stats
       WHERE day >= @first AND day <= @last GROUP BY lang ORDER BY views DESC, lang`,
    )
    .all({ first: `${year}-01-01`, last: asOf }) as { lang: string; views: number; seconds: number }[];
  return {
    plan,
    year,
    asOf,
    coverage,
    communes,
    publishedByLang,
    availability: availability(db, from, to),
    viewsByLang,
    utcOffsetMinutes,
    generatedAt: options.now,
  };
}
