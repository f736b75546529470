/**
 * For tests: one real server release per source tree, built once and kept in the temp folder keyed by the tree hash
 * (sourceTreeHash over SERVER_SOURCE_DIRS). Test files running at the same time wait for the one build (a lock
 * folder), so a test run builds at most once and later runs not at all.
 */
import { mkdir, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sourceTreeHash } from '../release/build.js';
import { type BuiltServerRelease, buildServerRelease, SERVER_SOURCE_DIRS } from './build.js';
import { ServerReleaseManifest } from './manifest.js';

export const TEST_SERVER_RELEASE_VERSION = '0.1.0-test';

export interface CachedServerRelease extends Pick<BuiltServerRelease, 'version' | 'arch' | 'dir' | 'installer' | 'manifest'> {
  /** Whether this call built it (false: it came from the cache). */
  built: boolean;
  /** How long the build took when it was made (ms). */
  buildMs: number;
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}

/** Each source tree leaves ~150 MB: builds of other trees untouched for a day are removed when a new one is made. */
async function pruneOthers(cache: string, keep: string): Promise<void> {
  for (const name of await readdir(cache).catch(() => [] as string[])) {
    const dir = join(cache, name);
    if (name === keep) continue;
    const age =
      Date.now() -
      (await stat(dir).then(
        (s) => s.mtimeMs,
        () => Date.now(),
      ));
    if (age > 86_400_000) await rm(dir, { recursive: true, force: true });
  }
}

export async function cachedServerRelease(opts: { timeoutMs?: number } = {}): Promise<CachedServerRelease> {
  const cache = join(tmpdir(), 'fleet-server-release-cache');
  const hash = await sourceTreeHash(undefined, SERVER_SOURCE_DIRS);
  const base = join(cache, hash);
  const done = join(base, 'done.json');
  const lock = join(base, 'lock');
  await mkdir(base, { recursive: true });
  const deadline = Date.now() + (opts.timeoutMs ?? 240_000);
  let built = false;
  for (;;) {
    if (await exists(done)) break;
    try {
      await mkdir(lock);
    } catch {
      // Another test file is building; a lock older than 5 minutes is stale (its builder died).
      const age =
        Date.now() -
        (await stat(lock).then(
          (s) => s.mtimeMs,
          () => Date.now(),
        ));
      if (age > 300_000) await rm(lock, { recursive: true, force: true });
      if (Date.now() > deadline) throw new Error(`timed out waiting for the server release build in ${base}`);
      await new Promise((r) => setTimeout(r, 500));
      continue;
    }
    try {
      const release = await buildServerRelease({ version: TEST_SERVER_RELEASE_VERSION, outDir: join(base, 'dist') });
      await writeFile(done, JSON.stringify({ dir: release.dir, installer: release.installer, buildMs: release.buildMs }));
      built = true;
      await pruneOthers(cache, hash);
    } finally {
      await rm(lock, { recursive: true, force: true });
    }
  }
  const { dir, installer, buildMs } = JSON.parse(await readFile(done, 'utf8')) as {
    dir: string;
    installer: string;
    buildMs: number;
  };
  const manifest = ServerReleaseManifest.parse(JSON.parse(await readFile(join(dir, 'release.json'), 'utf8')));
  return { version: manifest.version, arch: manifest.arch, dir, installer, manifest, built, buildMs };
}
