/**
 * For tests: one real server release per source tree, built once and kept in the temp folder keyed by the tree hash
 * (sourceTreeHash over SERVER_SOURCE_DIRS). Test files running at the same time wait for the one build (a lock
 * folder), so a test run builds at most once and later runs not at all.
 */
import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sourceTreeHash } from '../release/build.js';
import { buildOnce, pruneOtherBuilds } from '../release/build-once.js';
import { type BuiltServerRelease, buildServerRelease, SERVER_SOURCE_DIRS } from './build.js';
import { ServerReleaseManifest } from './manifest.js';

export const TEST_SERVER_RELEASE_VERSION = '0.1.0-test';

export interface CachedServerRelease extends Pick<BuiltServerRelease, 'version' | 'arch' | 'dir' | 'installer' | 'manifest'> {
  /** Whether this call built it (false: it came from the cache). */
  built: boolean;
  /** How long the build took when it was made (ms). */
  buildMs: number;
}

export async function cachedServerRelease(opts: { timeoutMs?: number } = {}): Promise<CachedServerRelease> {
  const cache = join(tmpdir(), 'fleet-server-release-cache');
  const hash = await sourceTreeHash(undefined, SERVER_SOURCE_DIRS);
  const base = join(cache, hash);
  const { record, built } = await buildOnce(
    base,
    'server release',
    async () => {
      const release = await buildServerRelease({ version: TEST_SERVER_RELEASE_VERSION, outDir: join(base, 'dist') });
      await pruneOtherBuilds(cache, hash);
      return { dir: release.dir, installer: release.installer, buildMs: release.buildMs };
    },
    opts.timeoutMs,
  );
  const { dir, installer, buildMs } = record;
  const manifest = ServerReleaseManifest.parse(JSON.parse(await readFile(join(dir, 'release.json'), 'utf8')));
  return { version: manifest.version, arch: manifest.arch, dir, installer, manifest, built, buildMs };
}
