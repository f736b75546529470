/** `GET /api/v1/reports/yearly.docx?plan=…&year=YYYY`: the department's yearly report (yearly-data.ts, yearly-docx.ts). */
import { Hono } from 'hono';
import { z } from 'zod';
import { getPlan, listPlans } from '../coverage/coverage-repo.js';
import { dayOf, VIETNAM_UTC_OFFSET_MINUTES } from '../coverage/days.js';
import { DomainError } from '../errors.js';
import type { AppEnv } from '../http/app-env.js';
import type { RouteDeps } from '../http/route-deps.js';
import { query } from '../http/validate.js';
import { yearlyReport } from './yearly-data.js';
import { yearlyDocx } from './yearly-docx.js';

const YearlyQuery = z.object({
  plan: z.string().max(64).optional(),
  year: z.coerce.number().int().min(2000).max(2100).optional(),
});

export function yearlyReportRoutes(
  deps: Pick<RouteDeps, 'db' | 'auth' | 'config'> & { now?: () => number; defaultPlanId?: string },
): Hono<AppEnv> {
  const { db } = deps;
  const now = deps.now ?? Date.now;
  const app = new Hono<AppEnv>();
  app.get(
    '/reports/yearly.docx',
    deps.auth.requireRole('department', 'editor', 'approver', 'technician'),
    query(YearlyQuery),
    async (c) => {
      const q = c.req.valid('query');
      const plans = listPlans(db);
      const id = q.plan ?? (plans.length === 1 ? plans[0]?.id : deps.defaultPlanId);
      const plan = id ? getPlan(db, id) : null;
      if (!plan)
        throw new DomainError(
          q.plan ? 404 : 400,
          q.plan ? 'unknown_plan' : 'plan_required',
          `${q.plan ? `no plan "${q.plan}"` : 'name the plan: ?plan=<id>'} (loaded: ${plans.map((p) => p.id).join(', ') || 'none'})`,
        );
      const at = now();
      const year = q.year ?? Number(dayOf(at, VIETNAM_UTC_OFFSET_MINUTES).slice(0, 4));
      const report = yearlyReport(db, plan, year, {
        now: at,
        offlineAfterMs: deps.config.OFFLINE_AFTER,
        utcOffsetMinutes: VIETNAM_UTC_OFFSET_MINUTES,
      });
      const body = await yearlyDocx(report);
      c.header('Content-Type', 'application/vnd.openxmlformats-officedocument.wordprocessingml.document');
      c.header('Content-Disposition', `attachment; filename="yearly-${plan.id}-${year}.docx"`);
      return c.body(new Uint8Array(body));
    },
  );
  return app;
}
