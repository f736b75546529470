import { describe, expect, it } from 'vitest';
import { type Admission, LoginLimiter, type LoginLimiterOptions } from './login-limiter.js';

const ADMIN = 1;

function setup(options: Partial<LoginLimiterOptions> = {}) {
  const clock = { now: 1_000_000 };
  const limiter = new LoginLimiter(
    { freeFailures: 3, freeAddressFailures: 10, baseDelayMs: 1000, maxDelayMs: 8000, failuresPerMinute: 10_000, ...options },
    () => clock.now,
  );
  /** One attempt that fails if admitted; returns the admission. */
  const fail = (userId: number | null, username: string, address: string, deviceToken?: string): Admission => {
    const admission = limiter.admit({ userId, username, address, deviceToken });
    if (admission.allowed) admission.failed();
    return admission;
  };
  const succeed = (userId: number, username: string, address: string, deviceToken?: string): string => {
    const admission = limiter.admit({ userId, username, address, deviceToken });
    if (!admission.allowed) throw new Error(`refused: ${admission.reason} ${admission.waitMs}`);
    return admission.succeeded();
  };
  const waitFor = (userId: number | null, username: string, address: string, deviceToken?: string) => {
    const admission = limiter.admit({ userId, username, address, deviceToken });
    if (admission.allowed) throw new Error('admitted');
    return { reason: admission.reason, waitMs: admission.waitMs };
  };
  return { clock, limiter, fail, succeed, waitFor };
}

describe('LoginLimiter', () => {
  it('limits a user name whatever the address: 3 free failures, then the wait doubles, capped; success resets', () => {
    const { clock, fail, succeed, waitFor } = setup();
    for (let i = 0; i < 3; i++) expect(fail(ADMIN, 'admin', `10.0.0.${i}`).allowed).toBe(true);
    // A fourth address does not help: the count is per user name.
    expect(waitFor(ADMIN, 'admin', '10.0.0.99')).toEqual({ reason: 'user', waitMs: 1000 });
    clock.now += 1000;
    expect(fail(ADMIN, 'admin', '10.0.0.4').allowed).toBe(true);
    expect(waitFor(ADMIN, 'admin', '10.0.0.5').waitMs).toBe(2000);
    for (let i = 0; i < 20; i++) {
      clock.now += 10_000;
      expect(fail(ADMIN, 'admin', `10.0.1.${i}`).allowed).toBe(true);
    }
    // Bounded: never more than maxDelayMs, however many failures.
    expect(waitFor(ADMIN, 'admin', '10.0.0.5').waitMs).toBe(8000);
    // Another user name is not affected.
    expect(fail(2, 'editor', '10.0.0.5').allowed).toBe(true);
    clock.now += 8000;
    succeed(ADMIN, 'admin', '10.0.0.5');
    expect(fail(ADMIN, 'admin', '10.0.0.5').allowed).toBe(true);
  });

  it('counts an admitted attempt as a failure until it ends, so concurrent guesses cannot slip past', () => {
    const { limiter } = setup();
    const inFlight = [0, 1, 2].map((i) => limiter.admit({ userId: ADMIN, username: 'admin', address: `10.0.0.${i}` }));
    expect(inFlight.every((a) => a.allowed)).toBe(true);
    expect(limiter.admit({ userId: ADMIN, username: 'admin', address: '10.0.0.9' })).toMatchObject({
      allowed: false,
      reason: 'user',
    });
  });

  it('junk names flooding its bounded memory never reset an existing user’s count', () => {
    const { fail, waitFor } = setup({ maxKeys: 50, freeAddressFailures: 1e9, failuresPerMinute: 1e9 });
    for (let i = 0; i < 3; i++) fail(ADMIN, 'admin', '203.0.113.1');
    expect(waitFor(ADMIN, 'admin', '203.0.113.1').reason).toBe('user');
    for (let i = 0; i < 20_000; i++) expect(fail(null, `junk-${i}`, `198.51.${i % 250}.${i % 200}`).allowed).toBe(true);
    expect(waitFor(ADMIN, 'admin', '203.0.113.1')).toEqual({ reason: 'user', waitMs: 1000 });
    // Unknown names are limited like real ones while remembered (no difference to see), and forgotten first.
    for (let i = 0; i < 3; i++) fail(null, 'nobody', '203.0.113.2');
    expect(waitFor(null, 'NoBody', '203.0.113.2').reason).toBe('user');
    for (let i = 0; i < 50; i++) fail(null, `junk-again-${i}`, '203.0.113.3');
    expect(fail(null, 'nobody', '203.0.113.2').allowed).toBe(true);
  });

  it('limits one address over all names: 10 free failures, then waits; other addresses unaffected', () => {
    const { fail, waitFor } = setup();
    for (let i = 0; i < 10; i++) expect(fail(null, `name-${i}`, '192.0.2.1').allowed).toBe(true);
    expect(waitFor(null, 'name-new', '192.0.2.1')).toEqual({ reason: 'address', waitMs: 1000 });
    expect(waitFor(ADMIN, 'admin', '192.0.2.1').reason).toBe('address');
    expect(fail(ADMIN, 'admin', '192.0.2.2').allowed).toBe(true);
  });

  it('keeps a global failure budget per minute over all names and addresses; a success gives its share back', () => {
    const { clock, limiter, fail, succeed, waitFor } = setup({ failuresPerMinute: 6 });
    for (let i = 0; i < 5; i++) expect(fail(null, `spray-${i}`, `198.51.100.${i}`).allowed).toBe(true);
    succeed(ADMIN, 'admin', '192.0.2.50'); // admitted (the 6th token), then given back
    expect(fail(null, 'spray-5', '198.51.100.5').allowed).toBe(true);
    // Empty: the next attempt, any name and address, waits for one token (60 s / 6).
    expect(waitFor(null, 'spray-6', '198.51.100.6')).toEqual({ reason: 'global', waitMs: 10_000 });
    expect(waitFor(ADMIN, 'admin', '192.0.2.99')).toEqual({ reason: 'global', waitMs: 10_000 });
    clock.now += 10_000;
    expect(fail(null, 'spray-6', '198.51.100.6').allowed).toBe(true);
    expect(limiter.admit({ userId: null, username: 'spray-7', address: '198.51.100.7' }).allowed).toBe(false);
  });

  it('lets a trusted client (token from an earlier login) past the user, address and global limits; 3 failures revoke it', () => {
    const { clock, limiter, fail, succeed, waitFor } = setup({ failuresPerMinute: 3, deviceTtlMs: 60_000 });
    const token = succeed(ADMIN, 'admin', '192.0.2.10');
    expect(token).toMatch(/^[\w-]{43}$/);
    // A stranger exhausts the admin's count, the global budget and the admin's own address.
    for (let i = 0; i < 3; i++) fail(ADMIN, 'admin', '192.0.2.10');
    expect(waitFor(ADMIN, 'admin', '198.51.100.1')).toEqual({ reason: 'global', waitMs: 20_000 });
    // The admin's browser still gets in at once, and keeps its token.
    expect(succeed(ADMIN, 'admin', '192.0.2.10', token)).toBe(token);
    // The token is the admin's only: it does not help for another name.
    expect(waitFor(2, 'editor', '192.0.2.10', token).reason).toBe('global');
    // Stolen, it allows 3 guesses, then it is revoked.
    for (let i = 0; i < 3; i++)
      expect(fail(ADMIN, 'admin', '198.51.100.9', token)).toMatchObject({ allowed: true, trusted: true });
    expect(limiter.admit({ userId: ADMIN, username: 'admin', address: '192.0.2.10', deviceToken: token }).allowed).toBe(false);
    // Expiry: a token unused for deviceTtlMs is worth nothing.
    clock.now += 120_000;
    const fresh = succeed(ADMIN, 'admin', '192.0.2.10');
    clock.now += 60_001;
    expect(isTrusted(fail(ADMIN, 'admin', '192.0.2.10', fresh))).toBe(false);
  });

  it('forgets a count once quiet for forgetAfterMs past its wait', () => {
    const { clock, fail, waitFor } = setup({ forgetAfterMs: 60_000 });
    for (let i = 0; i < 10; i++) {
      clock.now += 8000;
      fail(ADMIN, 'admin', `10.0.0.${i}`);
    }
    expect(waitFor(ADMIN, 'admin', '10.0.0.1').waitMs).toBe(8000);
    clock.now += 8000 + 60_001;
    for (let i = 0; i < 3; i++) expect(fail(ADMIN, 'admin', '10.0.0.1').allowed).toBe(true);
  });
});

function isTrusted(admission: Admission): boolean {
  return admission.allowed && admission.trusted;
}
