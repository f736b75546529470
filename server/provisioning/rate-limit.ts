/**
 * Slows down and then stops guessing from one source (enrollment tokens, pairing requests). Each key counts
 * strikes in a fixed window; after `freeStrikes` every request waits longer (doubling up to `maxDelayMs`),
 * and at `maxStrikes` requests are refused with 429 until the window ends. In memory: a restart forgets,
 * which only gives an attacker one more window, and keeps SQLite out of the hot path of a flood.
 */
import type { Context, MiddlewareHandler } from 'hono';
import { DomainError } from '../errors.js';

export interface RateLimitOptions {
  windowMs: number;
  freeStrikes: number;
  maxStrikes: number;
  baseDelayMs: number;
  maxDelayMs: number;
}

export interface RateLimitLogger {
  warn(obj: object, msg: string): void;
}

interface Entry {
  strikes: number;
  windowEnds: number;
  logged: boolean;
}

const MAX_KEYS = 50_000;

export class RateLimiter {
  private readonly entries = new Map<string, Entry>();

  constructor(
    readonly name: string,
    private readonly options: RateLimitOptions,
    private readonly logger: RateLimitLogger,
    private readonly now: () => number = Date.now,
  ) {}

  /** Blocked: seconds until the window ends; otherwise 0 after waiting as long as this key has earned. */
  async admit(key: string): Promise<number> {
    const entry = this.current(key);
    if (!entry) return 0;
    if (entry.strikes >= this.options.maxStrikes) return Math.max(1, Math.ceil((entry.windowEnds - this.now()) / 1000));
    const over = entry.strikes - this.options.freeStrikes;
    if (over >= 0) {
      const delay = Math.min(this.options.maxDelayMs, this.options.baseDelayMs * 2 ** over);
      await new Promise((resolve) => setTimeout(resolve, delay));
    }
    return 0;
  }

  strike(key: string): void {
    const now = this.now();
    let entry = this.current(key);
    if (!entry) {
      if (this.entries.size >= MAX_KEYS) this.prune(now);
      entry = { strikes: 0, windowEnds: now + this.options.windowMs, logged: false };
      this.entries.set(key, entry);
    }
    entry.strikes++;
    if (entry.strikes >= this.options.freeStrikes && !entry.logged) {
      entry.logged = true;
      this.logger.warn({ limiter: this.name, source: key, strikes: entry.strikes }, 'possible brute force: slowing down');
    }
    if (entry.strikes === this.options.maxStrikes)
      this.logger.warn(
        { limiter: this.name, source: key, strikes: entry.strikes },
        'brute force: source blocked until window ends',
      );
  }

  private current(key: string): Entry | undefined {
    const entry = this.entries.get(key);
    if (entry && entry.windowEnds <= this.now()) {
      this.entries.delete(key);
      return undefined;
    }
    return entry;
  }

  private prune(now: number): void {
    for (const [key, entry] of this.entries) if (entry.windowEnds <= now) this.entries.delete(key);
    // Still full (a distributed flood): forget the oldest rather than grow without bound.
    while (this.entries.size >= MAX_KEYS) {
      const oldest = this.entries.keys().next().value;
      if (oldest === undefined) break;
      this.entries.delete(oldest);
    }
  }
}

/** The client's address as the socket sees it (`app.request()` in tests has no socket: "local"). */
export type SourceOf = (c: Context) => string;

/** Middleware form: admit before the handler; `strikeOn` decides which outcomes count as a strike. */
export function rateLimit(limiter: RateLimiter, sourceOf: SourceOf, strikeOn: (status: number) => boolean): MiddlewareHandler {
  return async function rateLimitMiddleware(c, next) {
    const source = sourceOf(c);
    const retryAfterS = await limiter.admit(source);
    if (retryAfterS > 0) {
      c.header('Retry-After', String(retryAfterS));
      throw new DomainError(429, 'too_many_attempts', `too many attempts from this address; try again in ${retryAfterS} s`);
    }
    try {
      await next();
    } catch (error) {
      if (error instanceof DomainError && strikeOn(error.status)) limiter.strike(source);
      throw error;
    }
    if (strikeOn(c.res.status)) limiter.strike(source);
  };
}
