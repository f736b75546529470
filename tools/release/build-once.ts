/**
 * For tests: a build made once per folder (the folder is keyed by the source tree's hash). Test files running at the
 * same time wait for the one build behind a lock folder; a lock older than 5 minutes is stale (its builder died).
 * What the build returns is kept as `done.json`, so later runs read it and build nothing. Used by the kiosk release
 * cache (cached-release.ts) and the server's (tools/release-server/cached.ts).
 */
import { mkdir, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

const STALE_LOCK_MS = 300_000;

async function mtimeAge(path: string): Promise<number> {
  return (
    Date.now() -
    (await stat(path).then(
      (s) => s.mtimeMs,
      () => Date.now(),
    ))
  );
}

/** Runs `build` once for `base` and returns what it recorded, with whether this call built it. */
export async function buildOnce<T extends object>(
  base: string,
  what: string,
  build: () => Promise<T>,
  timeoutMs = 240_000,
): Promise<{ record: T; built: boolean }> {
  const done = join(base, 'done.json');
  const lock = join(base, 'lock');
  await mkdir(base, { recursive: true });
  const deadline = Date.now() + timeoutMs;
  let built = false;
  for (;;) {
    if (
      await stat(done).then(
        () => true,
        () => false,
      )
    )
      break;
    try {
      await mkdir(lock);
    } catch {
      // Another test file is building.
      if ((await mtimeAge(lock)) > STALE_LOCK_MS) await rm(lock, { recursive: true, force: true });
      if (Date.now() > deadline) throw new Error(`timed out waiting for the ${what} build in ${base}`);
      await new Promise((r) => setTimeout(r, 500));
      continue;
    }
    try {
      await writeFile(done, JSON.stringify(await build()));
      built = true;
    } finally {
      await rm(lock, { recursive: true, force: true });
    }
  }
  return { record: JSON.parse(await readFile(done, 'utf8')) as T, built };
}

/** Each source tree leaves ~150 MB: other builds under `cache` untouched for a day are removed. */
export async function pruneOtherBuilds(cache: string, keep: string): Promise<void> {
  for (const name of await readdir(cache).catch(() => [] as string[])) {
    if (name !== keep && (await mtimeAge(join(cache, name))) > 86_400_000) {
      await rm(join(cache, name), { recursive: true, force: true });
    }
  }
}
