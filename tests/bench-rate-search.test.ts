/** The bench's search for the highest rate held (bench/lib/rate-search.ts): a bisection, not a fraction of a probe. */
import { describe, expect, it } from 'vitest';
import { searchHighestHeld } from '../bench/lib/rate-search.js';

/** A system that holds any rate up to `capacity`. */
const system = (capacity: number) => async (rate: number) => ({ targetPerSecond: rate, held: rate <= capacity });

describe('searchHighestHeld', () => {
  it('brackets the capacity from below and bisects it to the resolution', async () => {
    const r = await searchHighestHeld({ start: 1000, tryRate: system(7300), maxSteps: 20, resolution: 0.05 });
    expect(r.converged).toBe(true);
    expect(r.held?.targetPerSecond).toBeLessThanOrEqual(7300);
    expect(r.held?.targetPerSecond).toBeGreaterThan(7300 * 0.95);
    expect(r.failedAt).toBeGreaterThan(7300);
    expect(
      ((r.failedAt as number) - (r.held?.targetPerSecond as number)) / (r.held?.targetPerSecond as number),
    ).toBeLessThanOrEqual(0.05);
    // Doubling 1000 → 8000 (failed), then bisection between 4000 and 8000.
    expect(r.steps.map((s) => s.targetPerSecond).slice(0, 5)).toEqual([1000, 2000, 4000, 8000, 6000]);
  });

  it('halves from a start that fails, then bisects', async () => {
    const r = await searchHighestHeld({ start: 20_000, tryRate: system(3100), maxSteps: 20, resolution: 0.05 });
    expect(r.steps.slice(0, 3).map((s) => [s.targetPerSecond, s.held])).toEqual([
      [20_000, false],
      [10_000, false],
      [5000, false],
    ]);
    expect(r.held?.targetPerSecond).toBeGreaterThan(3100 * 0.95);
    expect(r.converged).toBe(true);
  });

  it('stops at maxSteps and at maxRate, saying no failed rate was found', async () => {
    const capped = await searchHighestHeld({ start: 1000, tryRate: system(1e9), maxSteps: 20, resolution: 0.05, maxRate: 5000 });
    expect(capped.held?.targetPerSecond).toBe(5000);
    expect(capped.failedAt).toBeNull();
    expect(capped.converged).toBe(false);
    const short = await searchHighestHeld({ start: 1000, tryRate: system(7300), maxSteps: 3, resolution: 0.05 });
    expect(short.steps).toHaveLength(3);
  });
});
