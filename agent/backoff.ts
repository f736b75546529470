/**
 * Exponential backoff with full jitter (AWS architecture blog, "Exponential Backoff And Jitter"): the delay is uniform
 * in [0, min(cap, base·2^attempt)], so a thousand kiosks that lost the same link do not return in the same second.
 */
export function fullJitterDelay(attempt: number, baseMs: number, capMs: number, random: () => number = Math.random): number {
  const ceiling = Math.min(capMs, baseMs * 2 ** Math.min(attempt, 30));
  return Math.floor(random() * ceiling);
}

/** A random delay in [0, maxMs): spreads what a fleet does at the same moment (power-on at 07:00, a link back). */
export function boundedJitterDelay(maxMs: number, random: () => number = Math.random): number {
  return Math.floor(random() * Math.max(0, maxMs));
}
