/**
 * A provincial plan and its targets (DESIGN §3, §4), as data. The JSON format is the one of
 * `server/seed/gia-lai-plan-2509.json`; another province's plan is loaded from the same shape.
 */

import { z } from 'zod';
import { Day, Id, ShortText, SiteKind } from '../../protocol/index.js';
import { DomainError } from '../errors.js';

export const TargetScope = z.union(
  [z.strictObject({ kind: SiteKind, border: z.boolean().optional() }), z.strictObject({ sites: z.array(Id).min(1).max(10_000) })],
  { error: 'scope must be {"kind": K, "border"?: true|false} with K a site kind, or {"sites": [site ids]}' },
);
export type TargetScope = z.infer<typeof TargetScope>;

export const TargetRequirement = z.union(
  [
    z.strictObject({ share: z.number().gt(0, 'share must be above 0').lte(1, 'share must be at most 1') }),
    z.strictObject({ count: z.number().int('count must be a positive integer').positive('count must be a positive integer') }),
  ],
  { error: 'required must be {"share": S} with 0 < S ≤ 1, or {"count": N} with N a positive integer' },
);
export type TargetRequirement = z.infer<typeof TargetRequirement>;

export const Target = z.strictObject({
  id: Id,
  phase: ShortText.min(1),
  deadline: Day,
  label: ShortText.min(1),
  scope: TargetScope,
  required: TargetRequirement,
});
export type Target = z.infer<typeof Target>;

export const Plan = z
  .object({
    id: Id,
    province: ShortText.min(1),
    /** The document's number, e.g. `2509/KH-UBND`. */
    document: ShortText.min(1),
    issued: Day,
    title: z.string().min(1).max(2000),
    targets: z.array(Target).min(1).max(200),
  })
  .superRefine((plan, ctx) => {
    const seen = new Set<string>();
    plan.targets.forEach((target, i) => {
      if (seen.has(target.id)) {
        ctx.addIssue({ code: 'custom', path: ['targets', i, 'id'], message: `duplicate target id "${target.id}"` });
      }
      seen.add(target.id);
      if (target.deadline < plan.issued) {
        ctx.addIssue({
          code: 'custom',
          path: ['targets', i, 'deadline'],
          message: `target "${target.id}" has its deadline ${target.deadline} before the plan was issued (${plan.issued})`,
        });
      }
    });
  });
export type Plan = z.infer<typeof Plan>;

/** What lists and reports show of a plan without its targets. */
export type PlanSummary = Pick<Plan, 'id' | 'province' | 'document' | 'issued' | 'title'>;

export function summarizePlan(plan: Plan): PlanSummary {
  return { id: plan.id, province: plan.province, document: plan.document, issued: plan.issued, title: plan.title };
}

/** Thrown when a plan's JSON is malformed or names what does not exist. */
/** 400 for a malformed plan, 422 for one that does not fit the site registry. */
export class InvalidPlanError extends DomainError {
  override readonly name = 'InvalidPlanError';
  constructor(
    message: string,
    override readonly code: 'invalid_plan' | 'unknown_site' | 'site_parent_abolished' = 'invalid_plan',
  ) {
    super(code === 'invalid_plan' ? 400 : 422, code, message);
  }
}

/** Validates the shape of a plan; the message names every problem with its path. */
export function parsePlan(input: unknown): Plan {
  const result = Plan.safeParse(input);
  if (!result.success) {
    const problems = result.error.issues.map((issue) => `${issue.path.join('.') || '(plan)'}: ${issue.message}`);
    throw new InvalidPlanError(`invalid plan: ${problems.join('; ')}`);
  }
  return result.data;
}

/** The facts about a site that plan checks need. */
export interface SiteRef {
  id: string;
  parentId: string | null;
  validFrom: string | null;
  validTo: string | null;
}

/**
 * Every site a target names must exist, and must not hang under a parent that was abolished before
 * the site began (a unit cannot be placed in one that no longer existed; the registry needs fixing).
 */
export function checkPlanSites(plan: Plan, lookup: (id: string) => SiteRef | undefined): void {
  for (const target of plan.targets) {
    if (!('sites' in target.scope)) continue;
    for (const id of target.scope.sites) {
      const site = lookup(id);
      if (!site)
        throw new InvalidPlanError(`target "${target.id}" names site "${id}", which is not in the registry`, 'unknown_site');
      const parent = site.parentId ? lookup(site.parentId) : undefined;
      if (parent?.validTo && site.validFrom && site.validFrom > parent.validTo) {
        throw new InvalidPlanError(
          `target "${target.id}" names site "${id}", whose parent "${parent.id}" was abolished (it existed until ${parent.validTo}) before the site began on ${site.validFrom}`,
          'site_parent_abolished',
        );
      }
    }
  }
}
