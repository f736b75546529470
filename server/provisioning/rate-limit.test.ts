import { describe, expect, it } from 'vitest';
import { RateLimiter } from './rate-limit.js';

function limiter(now: { t: number }) {
  const warnings: Array<{ obj: object; msg: string }> = [];
  const rl = new RateLimiter(
    'test',
    { windowMs: 60_000, freeStrikes: 2, maxStrikes: 4, baseDelayMs: 1, maxDelayMs: 4 },
    { warn: (obj, msg) => warnings.push({ obj, msg }) },
    () => now.t,
  );
  return { rl, warnings };
}

describe('RateLimiter', () => {
  it('admits freely, then slows, then blocks until the window ends; logs both thresholds once', async () => {
    const now = { t: 1_000 };
    const { rl, warnings } = limiter(now);
    expect(await rl.admit('a')).toBe(0);
    rl.strike('a');
    rl.strike('a');
    expect(warnings.map((w) => w.msg)).toEqual(['possible brute force: slowing down']);
    expect(await rl.admit('a')).toBe(0); // waited, not blocked
    rl.strike('a');
    rl.strike('a');
    expect(warnings).toHaveLength(2);
    expect(warnings[1]?.msg).toContain('blocked');
    expect(await rl.admit('a')).toBe(60);
    expect(await rl.admit('b')).toBe(0); // other sources are not affected
    now.t += 30_000;
    expect(await rl.admit('a')).toBe(30);
    now.t += 30_000;
    expect(await rl.admit('a')).toBe(0); // window over: forgotten
  });
});
