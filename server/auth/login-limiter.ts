/**
 * Slows down password guessing per (username, IP): after a few failures, each further attempt must wait
 * twice as long as the one before (capped). Memory is bounded: the oldest keys are forgotten first.
 */
export interface LoginLimiterOptions {
  freeFailures: number;
  baseDelayMs: number;
  maxDelayMs: number;
  maxKeys: number;
}

const DEFAULTS: LoginLimiterOptions = { freeFailures: 3, baseDelayMs: 1000, maxDelayMs: 15 * 60_000, maxKeys: 10_000 };

export class LoginLimiter {
  private readonly failures = new Map<string, { count: number; last: number }>();
  private readonly options: LoginLimiterOptions;
  constructor(
    options: Partial<LoginLimiterOptions> = {},
    private readonly now: () => number = Date.now,
  ) {
    this.options = { ...DEFAULTS, ...options };
  }

  private static key(username: string, ip: string): string {
    return `${username.toLowerCase()}\u0000${ip}`;
  }

  /** Milliseconds to wait before another attempt is allowed (0 = go ahead). */
  waitMs(username: string, ip: string): number {
    const entry = this.failures.get(LoginLimiter.key(username, ip));
    if (!entry || entry.count < this.options.freeFailures) return 0;
    const delay = Math.min(this.options.maxDelayMs, this.options.baseDelayMs * 2 ** (entry.count - this.options.freeFailures));
    return Math.max(0, entry.last + delay - this.now());
  }

  failed(username: string, ip: string): number {
    const key = LoginLimiter.key(username, ip);
    const entry = this.failures.get(key) ?? { count: 0, last: 0 };
    this.failures.delete(key); // re-insert: the Map's order is then least recently failed first
    this.failures.set(key, { count: entry.count + 1, last: this.now() });
    while (this.failures.size > this.options.maxKeys) {
      const oldest = this.failures.keys().next().value as string;
      this.failures.delete(oldest);
    }
    return entry.count + 1;
  }

  succeeded(username: string, ip: string): void {
    this.failures.delete(LoginLimiter.key(username, ip));
  }
}
