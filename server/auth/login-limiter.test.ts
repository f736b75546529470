import { describe, expect, it } from 'vitest';
import { LoginLimiter } from './login-limiter.js';

describe('LoginLimiter', () => {
  it('allows a few failures, then doubles the wait per failure, capped; success resets', () => {
    let now = 1_000_000;
    const limiter = new LoginLimiter({ freeFailures: 3, baseDelayMs: 1000, maxDelayMs: 8000 }, () => now);
    for (let i = 0; i < 3; i++) {
      expect(limiter.waitMs('ana', '10.0.0.1')).toBe(0);
      limiter.failed('ana', '10.0.0.1');
    }
    expect(limiter.waitMs('ana', '10.0.0.1')).toBe(1000);
    expect(limiter.waitMs('ana', '10.0.0.2')).toBe(0);
    expect(limiter.waitMs('bao', '10.0.0.1')).toBe(0);
    now += 1000;
    limiter.failed('ana', '10.0.0.1');
    expect(limiter.waitMs('ana', '10.0.0.1')).toBe(2000);
    limiter.failed('ana', '10.0.0.1');
    limiter.failed('ana', '10.0.0.1');
    limiter.failed('ana', '10.0.0.1');
    expect(limiter.waitMs('ana', '10.0.0.1')).toBe(8000);
    limiter.succeeded('ana', '10.0.0.1');
    expect(limiter.waitMs('ana', '10.0.0.1')).toBe(0);
  });

  it('forgets the least recently failed keys beyond its bound', () => {
    const limiter = new LoginLimiter({ freeFailures: 0, maxKeys: 2 }, () => 0);
    limiter.failed('a', 'ip');
    limiter.failed('b', 'ip');
    limiter.failed('c', 'ip');
    expect(limiter.waitMs('a', 'ip')).toBe(0);
    expect(limiter.waitMs('c', 'ip')).toBeGreaterThan(0);
  });
});
