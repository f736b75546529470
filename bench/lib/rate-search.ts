/**
 * The highest open-loop rate held for a whole step: bisection between the highest rate held and the lowest
 * that failed (not a fraction of a probe). From a first guess, the rate doubles until a step fails (or halves
 * until one holds), then the bracket is halved until its width is under `resolution` of the held rate or the
 * steps run out. Every step starts from an empty backlog (the caller's `tryRate` drains before it loads), so
 * one step's overload does not count against the next.
 */

export interface Trial {
  targetPerSecond: number;
  held: boolean;
}

export interface SearchOptions<T extends Trial> {
  /** First rate tried (e.g. a closed-loop probe's rate). */
  start: number;
  tryRate(rate: number): Promise<T>;
  /** Steps at most (each one is a full-length run). */
  maxSteps: number;
  /** Stop when (failed − held) / held is at most this (0.05: within 5 %). */
  resolution: number;
  /** Never try above this (the generator's ceiling, say); a held step there ends the search unbracketed. */
  maxRate?: number;
  /** Rates are rounded to a multiple of this. */
  granularity?: number;
  log?: (line: string) => void;
}

export interface SearchResult<T extends Trial> {
  /** The highest held step, or null when none held. */
  held: T | null;
  /** The lowest rate that failed; null when the search never found one (then `held` is a lower bound). */
  failedAt: number | null;
  steps: T[];
  /** The bracket ended within `resolution`. */
  converged: boolean;
}

export async function searchHighestHeld<T extends Trial>(o: SearchOptions<T>): Promise<SearchResult<T>> {
  const unit = o.granularity ?? 10;
  const round = (r: number) => Math.max(unit, Math.round(r / unit) * unit);
  const steps: T[] = [];
  let held: T | null = null;
  let failedAt: number | null = null;
  let rate = round(Math.min(o.start, o.maxRate ?? Number.POSITIVE_INFINITY));
  const narrow = () =>
    held !== null && failedAt !== null && (failedAt - held.targetPerSecond) / held.targetPerSecond <= o.resolution;
  while (steps.length < o.maxSteps) {
    const t = await o.tryRate(rate);
    steps.push(t);
    o.log?.(`    step ${steps.length}: ${rate}/s ${t.held ? 'held' : 'NOT held'}`);
    if (t.held && (!held || rate > held.targetPerSecond)) held = t;
    if (!t.held) failedAt = failedAt === null ? rate : Math.min(failedAt, rate);
    if (narrow()) break;
    let next: number;
    if (failedAt === null) {
      if (o.maxRate !== undefined && rate >= o.maxRate) break;
      next = Math.min(rate * 2, o.maxRate ?? Number.POSITIVE_INFINITY);
    } else if (held === null) {
      next = rate / 2;
    } else {
      next = (held.targetPerSecond + failedAt) / 2;
    }
    next = round(next);
    // The bracket is narrower than the rounding: nothing left to try.
    if (next === rate || (held && next <= held.targetPerSecond) || (failedAt !== null && next >= failedAt)) break;
    if (next < unit) break;
    rate = next;
  }
  return { held, failedAt, steps, converged: narrow() };
}
