/**
 * The coverage API (DESIGN §4, §6): plans, coverage on a day, trend, per-commune progress, and the
 * department's reports. `createCoverageRoutes(deps)` returns a Hono app to mount at `/api/v1`.
 */
import { Hono, type MiddlewareHandler } from 'hono';
import { z } from 'zod';
import { CommunesOut, PlanCoverageOut, PlanListOut, PlanTrendOut } from '../../protocol/api-dashboard.js';
import type { Role } from '../../protocol/index.js';
import type { Database } from '../db/open-database.js';
import { DomainError } from '../errors.js';
import type { AppEnv } from '../http/app-env.js';
import { bodyLimit } from '../http/body-limit.js';
import { json, query } from '../http/validate.js';
import { communeList, communeRows, communeRowsOf } from './communes.js';
import {
  createSitesReader,
  createSpansReader,
  getPlan,
  listPlans,
  readSiteFleet,
  readSiteWindows,
  savePlan,
} from './coverage-repo.js';
import { dayEnd, dayOf, VIETNAM_UTC_OFFSET_MINUTES } from './days.js';
import { type CoverageOptions, checkAsOf, computeCoverage, earliestInstantAsked } from './engine.js';
import { type Plan, summarizePlan } from './plan.js';
import { coverageCsv } from './report-csv.js';
import { coverageXlsx } from './report-xlsx.js';
import { computeTrend } from './trend.js';

export interface CoverageRouteDeps {
  db: Database;
  /** The server's role guard; it authenticates and refuses other roles (admin passes every check). */
  requireRole: (...roles: Role[]) => MiddlewareHandler<AppEnv>;
  /** `OFFLINE_AFTER`: a counting device silent longer than this is offline. */
  offlineAfterMs: number;
  /** Which plan the reports use when none is named and several are loaded. */
  defaultPlanId?: string;
  /** Records a change a person made (`POST /plans`). */
  audit?: (entry: { actor: string; action: string; target?: string | null; detail?: unknown }) => void;
  now?: () => number;
  utcOffsetMinutes?: number;
}

/** Everyone signed in may read coverage; the department (and admin) loads plans. */
const READ_ROLES: Role[] = ['department', 'editor', 'approver', 'technician'];
const WRITE_ROLES: Role[] = ['department'];

/** A plan document: its 10 000-site scopes at most, with room to spare (the seed plan is 2 KiB). */
const PLAN_BODY_LIMIT_BYTES = 1024 * 1024;
/** `savePlan` checks the document itself (InvalidPlanError names every problem with its path). */
const PlanDocument = z.unknown();

const CoverageQuery = z.object({ asOf: z.string().optional() });
/** The dashboard shows the communes table a page at a time; `all=1` answers every commune (reports use their own path). */
const CommunesQuery = z.object({
  asOf: z.string().optional(),
  include: z.enum(['sites']).optional(),
  limit: z.coerce.number().int().min(1).max(500).default(100),
  offset: z.coerce.number().int().min(0).default(0),
  all: z.enum(['0', '1']).optional(),
});
const TrendQuery = z.object({
  from: z.string().optional(),
  to: z.string().optional(),
  paceDays: z.coerce.number().int().min(7).max(3650).optional(),
});
const ReportQuery = z.object({ plan: z.string().optional(), asOf: z.string().optional() });

export function createCoverageRoutes(deps: CoverageRouteDeps): Hono<AppEnv> {
  const { db } = deps;
  const now = deps.now ?? Date.now;
  const utcOffsetMinutes = deps.utcOffsetMinutes ?? VIETNAM_UTC_OFFSET_MINUTES;
  const options = (): CoverageOptions => ({ now: now(), offlineAfterMs: deps.offlineAfterMs, utcOffsetMinutes });
  const readers = deps.requireRole(...READ_ROLES);
  const readSites = createSitesReader(db);
  const readSpans = createSpansReader(db);

  function loadPlan(id: string): Plan {
    const plan = getPlan(db, id);
    if (!plan) throw new DomainError(404, 'unknown_plan', `no plan "${id}"; GET /api/v1/plans lists the loaded plans`);
    return plan;
  }

  function reportPlan(id: string | undefined): Plan {
    if (id) return loadPlan(id);
    const plans = listPlans(db);
    if (plans.length === 1) return loadPlan((plans[0] as { id: string }).id);
    if (deps.defaultPlanId && plans.some((p) => p.id === deps.defaultPlanId)) return loadPlan(deps.defaultPlanId);
    throw new DomainError(
      400,
      'plan_required',
      `name the plan: ?plan=<id> (loaded: ${plans.map((p) => p.id).join(', ') || 'none'})`,
    );
  }

  function report(plan: Plan, asOfParam: string | undefined) {
    const opts = options();
    const asOf = asOfParam ?? dayOf(opts.now, utcOffsetMinutes);
    const sites = readSites();
    const fleet = readSiteFleet(db, opts);
    return {
      plan,
      coverage: computeCoverage({ plan, sites, windows: fleet.windows }, asOf, opts),
      communes: communeRows({ plan, sites, fleet }, asOf, opts),
      utcOffsetMinutes,
    };
  }

  const fileName = (plan: Plan, asOf: string, ext: string) => `coverage-${plan.id}-${asOf}.${ext}`;

  const app = new Hono<AppEnv>();

  app.get('/plans', readers, (c) => c.json(PlanListOut.parse({ plans: listPlans(db) } satisfies PlanListOut)));

  app.post('/plans', deps.requireRole(...WRITE_ROLES), bodyLimit(PLAN_BODY_LIMIT_BYTES), json(PlanDocument), (c) => {
    const { plan, replaced } = savePlan(db, c.req.valid('json'), now());
    deps.audit?.({ actor: c.var.user.username, action: replaced ? 'plan.replace' : 'plan.load', target: plan.id });
    return c.json(
      { plan: { id: plan.id, document: plan.document, targets: plan.targets.length }, replaced },
      replaced ? 200 : 201,
    );
  });

  app.get('/plans/:id', readers, (c) => c.json({ plan: loadPlan(c.req.param('id')) }));

  app.get('/plans/:id/coverage', readers, query(CoverageQuery), (c) => {
    const plan = loadPlan(c.req.param('id'));
    const opts = options();
    const today = dayOf(opts.now, utcOffsetMinutes);
    const { asOf = today } = c.req.valid('query');
    // Today's answer counts the units operational now (last_seen, fresh); a past day's needs only the kept spans.
    const input =
      asOf === today
        ? { plan, sites: readSites(), windows: readSiteWindows(db, earliestInstantAsked(plan, asOf, opts)) }
        : { plan, sites: readSites(), spans: readSpans() };
    return c.json(PlanCoverageOut.parse(computeCoverage(input, asOf, opts) satisfies PlanCoverageOut));
  });

  app.get('/plans/:id/trend', readers, query(TrendQuery), (c) => {
    const plan = loadPlan(c.req.param('id'));
    const q = c.req.valid('query');
    return c.json(
      PlanTrendOut.parse(computeTrend({ plan, sites: readSites(), spans: readSpans() }, q, options()) satisfies PlanTrendOut),
    );
  });

  // The page is chosen from the site registry alone (in memory), then only its sites' devices are read.
  app.get('/plans/:id/communes', readers, query(CommunesQuery), (c) => {
    const plan = loadPlan(c.req.param('id'));
    const opts = options();
    const q = c.req.valid('query');
    const asOf = q.asOf ?? dayOf(opts.now, utcOffsetMinutes);
    checkAsOf(asOf, plan, opts);
    const entries = communeList(plan, readSites(), asOf);
    const page = q.all === '1' ? entries : entries.slice(q.offset, q.offset + q.limit);
    // A row asks whether a site is equipped at the end of asOf and operational now: nothing earlier than both.
    const asked = Math.min(dayEnd(asOf, utcOffsetMinutes), opts.now);
    const siteIds = q.all === '1' ? undefined : page.flatMap((e) => e.sites.map((s) => s.id));
    const fleet = readSiteFleet(db, opts, siteIds, asked);
    return c.json(
      CommunesOut.parse({
        plan: summarizePlan(plan),
        asOf,
        total: entries.length,
        limit: q.all === '1' ? entries.length : q.limit,
        offset: q.all === '1' ? 0 : q.offset,
        communes: communeRowsOf(page, fleet, asOf, opts, { siteRows: q.include === 'sites' }),
      } satisfies CommunesOut),
    );
  });

  app.get('/reports/coverage.csv', readers, query(ReportQuery), (c) => {
    const q = c.req.valid('query');
    const r = report(reportPlan(q.plan), q.asOf);
    c.header('Content-Type', 'text/csv; charset=utf-8');
    c.header('Content-Disposition', `attachment; filename="${fileName(r.plan, r.coverage.asOf, 'csv')}"`);
    return c.body(coverageCsv(r));
  });

  app.get('/reports/coverage.xlsx', readers, query(ReportQuery), async (c) => {
    const q = c.req.valid('query');
    const r = report(reportPlan(q.plan), q.asOf);
    const body = await coverageXlsx(r);
    c.header('Content-Type', 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet');
    c.header('Content-Disposition', `attachment; filename="${fileName(r.plan, r.coverage.asOf, 'xlsx')}"`);
    return c.body(new Uint8Array(body));
  });

  return app;
}
