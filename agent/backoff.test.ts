import { describe, expect, it } from 'vitest';
import { fullJitterDelay } from './backoff.js';

describe('fullJitterDelay', () => {
  it('grows exponentially up to the cap and spans [0, ceiling)', () => {
    expect(fullJitterDelay(0, 1000, 300_000, () => 0.999)).toBe(999);
    expect(fullJitterDelay(3, 1000, 300_000, () => 0.5)).toBe(4000);
    expect(fullJitterDelay(40, 1000, 300_000, () => 0.999)).toBe(299_700);
    expect(fullJitterDelay(5, 1000, 300_000, () => 0)).toBe(0);
  });
  it('spreads a fleet: a thousand devices at the same attempt do not pick the same second', () => {
    const delays = new Set(Array.from({ length: 1000 }, () => Math.floor(fullJitterDelay(10, 1000, 300_000) / 1000)));
    expect(delays.size).toBeGreaterThan(200);
  });
});
