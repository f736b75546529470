/** A test file's cleanups: pushed as things start, run by a vitest hook, last first, errors ignored. */

/** Returns the list `hook` (afterEach or afterAll) empties and runs, last pushed first, ignoring each one's error. */
export function cleanupsRunBy(hook: (fn: () => Promise<void>) => void): Array<() => Promise<unknown>> {
  const cleanups: Array<() => Promise<unknown>> = [];
  hook(async () => {
    for (const c of cleanups.splice(0).reverse()) await c().catch(() => {});
  });
  return cleanups;
}
