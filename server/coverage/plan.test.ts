import { describe, expect, it } from 'vitest';
import { checkPlanSites, InvalidPlanError, parsePlan, type SiteRef } from './plan.js';
import { readSeedPlan } from './seed-data.js';

const seed = readSeedPlan();
const withTarget = (changes: Record<string, unknown>) => ({ ...seed, targets: [{ ...seed.targets[0], ...changes }] });

describe('parsePlan', () => {
  it('accepts the shipped Gia Lai plan', () => {
    expect(seed).toMatchObject({ id: 'gia-lai-2509-2020', document: '2509/KH-UBND', issued: '2020-12-24' });
    expect(seed.targets.map((t) => t.id)).toEqual([
      'p1-stations',
      'p1-communes',
      'p1-districts',
      'p1-gate',
      'p2-communes',
      'p2-districts',
      'p2-gate',
    ]);
  });

  it.each([
    ['a share above 1', { required: { share: 1.5 } }, /targets\.0\.required.*share must be at most 1/],
    ['a share of 0', { required: { share: 0 } }, /share must be above 0/],
    ['a negative count', { required: { count: -2 } }, /count must be a positive integer/],
    ['a fractional count', { required: { count: 2.5 } }, /required must be .* positive integer/],
    ['an unknown site kind', { scope: { kind: 'village' } }, /targets\.0\.scope/],
    ['a malformed deadline', { deadline: '31/12/2025' }, /targets\.0\.deadline/],
    ['a deadline before the plan', { deadline: '2019-12-31' }, /before the plan was issued/],
  ])('rejects %s, naming where', (_name, change, message) => {
    expect(() => parsePlan(withTarget(change))).toThrow(message);
    expect(() => parsePlan(withTarget(change))).toThrow(InvalidPlanError);
  });

  it('rejects duplicate target ids and a plan without targets', () => {
    expect(() => parsePlan({ ...seed, targets: [seed.targets[0], seed.targets[0]] })).toThrow(
      /duplicate target id "p1-stations"/,
    );
    expect(() => parsePlan({ ...seed, targets: [] })).toThrow(/targets/);
    expect(() => parsePlan('not a plan')).toThrow(InvalidPlanError);
  });
});

describe('checkPlanSites', () => {
  const registry = new Map<string, SiteRef>([
    ['gl-g-lethanh', { id: 'gl-g-lethanh', parentId: 'gl-c-iadom', validFrom: null, validTo: null }],
    ['gl-c-iadom', { id: 'gl-c-iadom', parentId: 'gl-d-ducco', validFrom: null, validTo: null }],
    ['gl-d-ducco', { id: 'gl-d-ducco', parentId: null, validFrom: null, validTo: '2025-06-30' }],
    ['new-post', { id: 'new-post', parentId: 'gl-d-ducco', validFrom: '2026-01-01', validTo: null }],
  ]);
  const lookup = (id: string) => registry.get(id);

  it('accepts sites that exist', () => {
    expect(() => checkPlanSites(seed, lookup)).not.toThrow();
  });

  it('names an unknown site', () => {
    const plan = parsePlan(withTarget({ scope: { sites: ['gl-g-lethanh', 'gl-g-nowhere'] } }));
    expect(() => checkPlanSites(plan, lookup)).toThrow(
      expect.objectContaining({ code: 'unknown_site', message: expect.stringContaining('gl-g-nowhere') }),
    );
  });

  it('refuses a site placed under a parent abolished before it began', () => {
    const plan = parsePlan(withTarget({ scope: { sites: ['new-post'] } }));
    expect(() => checkPlanSites(plan, lookup)).toThrow(
      expect.objectContaining({ code: 'site_parent_abolished', message: expect.stringContaining('gl-d-ducco') }),
    );
  });
});
