/**
 * Builds a server release (docs/deployment.md, "Install"): the release folder `<outDir>/fleet-server-<version>-<arch>/`
 * with its sha256 manifest (release.json), and the operator's one file
 * `<outDir>/fleet-server-<version>-<arch>.install.sh` (POSIX sh header + gzip tar payload). The pieces are the
 * kiosk release's (tools/release/build.ts: esbuild bundle, better-sqlite3's native binding, the Node of the build,
 * the installer header); only the build machine's CPU and Node.
 *
 * The release folder mirrors the source tree for everything the server reads from disk next to its code
 * (server/db/migrations, server/seed, dashboard-ui/dist, node_modules/…): each bundled module's `import.meta.url`
 * is rewritten to where that module would be in the release (`<release>/server/db/open-database.mjs`), so the code
 * finds its files the same way in a checkout and in a release.
 */
import { copyFile, cp, mkdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, join, relative, sep } from 'node:path';
import type { Plugin } from 'esbuild';
import { ReleaseVersion } from '../../protocol/release.js';
import {
  bundle,
  copyRuntime,
  copySqliteBinding,
  dirBytes,
  gitCommit,
  normalizeModes,
  packInstaller,
  REPO_ROOT,
  sourceTreeHash,
} from '../release/build.js';
import { binWrapper, HEADER_BYTES, installerHeader, type ReleaseProduct } from '../release/shell.js';
import { describeSlot } from '../release/slot-files.js';
import { SERVER_ENTRY_POINTS, SERVER_RELEASE_FORMAT, type ServerReleaseManifest } from './manifest.js';

/**
 * Worker threads started from their own file: each source (relative to the repository) is bundled to the same path
 * with `.mjs` in the release. Code that starts one resolves it next to itself, e.g.
 * `new URL(import.meta.url.endsWith('.ts') ? './writer-worker.ts' : './writer-worker.mjs', import.meta.url)`.
 * (server/backup/backup.ts runs its integrity check in an `eval` worker: nothing to list.) Add new ones here.
 */
export const SERVER_WORKER_ENTRIES: readonly string[] = ['server/ingest/checkpointer-worker.ts'];

/** Files the server reads at run time, copied to the same place in the release. */
const SERVER_ASSETS: readonly string[] = [
  'server/db/migrations',
  'server/seed',
  'dashboard-ui/dist',
  'node_modules/world-atlas/package.json',
  'node_modules/world-atlas/countries-10m.json',
];

/** What the release's hash covers: a change in any of these builds a new release. */
export const SERVER_SOURCE_DIRS = ['server', 'protocol', 'tools/release', 'tools/release-server', 'deploy', 'dashboard-ui/dist'];

export const SERVER_PRODUCT: ReleaseProduct = {
  what: 'fleet server release',
  buildCommand: 'npm run release:server',
  title: 'Border kiosk fleet server release',
  usage: 'sh fleet-server-<version>-<arch>.install.sh [--prefix DIR] [--no-system]',
  doc: 'docs/deployment.md',
  tmpPrefix: 'fleet-server-install',
  installerScript: SERVER_ENTRY_POINTS.installer,
};

/**
 * esbuild: every repository module of a bundle written to `<release>/<outRel>` gets, for `import.meta.url`, the URL
 * of `<release>/<its source path>.mjs` (entries excepted: a CLI compares its own URL with argv[1]).
 */
function releaseLocationPlugin(outRel: string, entry: string): Plugin {
  const up = relative(dirname(join('/', outRel)), '/') || '.';
  return {
    name: 'release-location',
    setup(b) {
      b.onLoad({ filter: /\.ts$/ }, async (args) => {
        const rel = relative(REPO_ROOT, args.path).split(sep).join('/');
        if (rel.startsWith('..') || rel.startsWith('node_modules/') || args.path === entry) return undefined;
        const source = await readFile(args.path, 'utf8');
        if (/import\.meta\.(dirname|filename)/.test(source))
          throw new Error(`${rel} uses import.meta.dirname/filename; use import.meta.url (the release rewrites it)`);
        if (!source.includes('import.meta.url')) return undefined;
        const url = `new URL(${JSON.stringify(`${up}/${rel.replace(/\.ts$/, '.mjs')}`)}, import.meta.url).href`;
        return { contents: source.replaceAll('import.meta.url', url), loader: 'ts' };
      });
    },
  };
}

export interface ServerBuildOptions {
  version: string;
  outDir: string;
  /** Strip debug symbols from the Node binary (if `strip` exists); default true. */
  strip?: boolean;
  log?: (line: string) => void;
}

export interface BuiltServerRelease {
  version: string;
  arch: string;
  dir: string;
  installer: string;
  manifest: ServerReleaseManifest;
  dirBytes: number;
  installerBytes: number;
  buildMs: number;
}

export async function buildServerRelease(options: ServerBuildOptions): Promise<BuiltServerRelease> {
  const started = Date.now();
  const log = options.log ?? (() => {});
  const version = ReleaseVersion.parse(options.version);
  const arch = process.arch;
  if (process.platform !== 'linux') throw new Error(`server releases are built on Linux (this is ${process.platform})`);
  const root = REPO_ROOT;
  const name = `fleet-server-${version}-${arch}`;
  await mkdir(options.outDir, { recursive: true });
  const stage = join(options.outDir, `.${name}.building-${process.pid}`);
  await rm(stage, { recursive: true, force: true });
  const at = (...p: string[]) => join(stage, ...p);
  const code = async (entry: string, outRel: string, external: string[] = []) => {
    const source = join(root, entry);
    await bundle(source, at(outRel), [releaseLocationPlugin(outRel, source)], external);
  };
  try {
    log('bundling the server, its CLIs, workers and installer (esbuild)');
    await code('server/main.ts', 'server/server.mjs');
    await code('tools/release-server/entry.ts', 'server/start.mjs', ['./server.mjs']);
    await code('server/backup/cli.ts', 'server/backup-cli.mjs');
    await code('server/tls/cli.ts', 'server/tls-cli.mjs');
    for (const worker of SERVER_WORKER_ENTRIES) {
      if (!(await stat(join(root, worker)).catch(() => null)))
        throw new Error(
          `the worker entry ${worker} does not exist: remove it from SERVER_WORKER_ENTRIES (tools/release-server/build.ts)`,
        );
      await code(worker, worker.replace(/\.ts$/, '.mjs'));
    }
    await code('tools/release-server/installer.ts', SERVER_ENTRY_POINTS.installer);

    await copySqliteBinding(stage, root);
    for (const asset of SERVER_ASSETS) {
      await mkdir(dirname(at(asset)), { recursive: true });
      await cp(join(root, asset), at(asset), { recursive: true });
    }
    await mkdir(at('deploy'), { recursive: true });
    await copyFile(join(root, 'deploy', 'fleet-server.service'), at(SERVER_ENTRY_POINTS.unit));
    await cp(join(root, 'deploy', 'monitoring'), at('deploy', 'monitoring'), { recursive: true });

    log(`adding the runtime: ${process.execPath} (Node ${process.versions.node}, ABI ${process.versions.modules})`);
    await copyRuntime(stage, options.strip !== false);
    await mkdir(at('bin'), { recursive: true });
    for (const [bin, script] of [
      [SERVER_ENTRY_POINTS.server, 'server/start.mjs'],
      [SERVER_ENTRY_POINTS.backup, 'server/backup-cli.mjs'],
      [SERVER_ENTRY_POINTS.tls, 'server/tls-cli.mjs'],
    ] as const) {
      await writeFile(at(bin), binWrapper(bin.slice('bin/'.length), script, arch, version, SERVER_PRODUCT), { mode: 0o755 });
    }
    await normalizeModes(stage);

    const manifest: ServerReleaseManifest = {
      v: 1,
      format: SERVER_RELEASE_FORMAT,
      version,
      platform: 'linux',
      arch,
      runtime: { name: 'node', version: process.versions.node, modules: process.versions.modules },
      files: await describeSlot(stage),
      createdAt: new Date().toISOString(),
      source: { treeHash: await sourceTreeHash(root, SERVER_SOURCE_DIRS), commit: gitCommit(root) },
    };
    await writeFile(at('release.json'), `${JSON.stringify(manifest, null, 2)}\n`, { mode: 0o644 });

    log('packing the installer (tar + gzip)');
    const installer = join(options.outDir, `${name}.install.sh`);
    const tmpInstaller = `${installer}.partial-${process.pid}`;
    const { payloadBytes } = await packInstaller(stage, tmpInstaller, manifest.createdAt, (payload) =>
      installerHeader({ arch, version, ...payload, product: SERVER_PRODUCT }),
    );
    const dir = join(options.outDir, name);
    await rm(dir, { recursive: true, force: true });
    await rename(stage, dir);
    await rename(tmpInstaller, installer);
    return {
      version,
      arch,
      dir,
      installer,
      manifest,
      dirBytes: await dirBytes(dir),
      installerBytes: HEADER_BYTES + payloadBytes,
      buildMs: Date.now() - started,
    };
  } catch (err) {
    await rm(stage, { recursive: true, force: true });
    throw err;
  }
}
