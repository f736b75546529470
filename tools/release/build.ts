/**
 * Builds a kiosk release (DESIGN §10): the slot tree under `<outDir>/<version>-<arch>/` with its signed release.json,
 * and the technician's one file `<outDir>/kiosk-<version>-<arch>.install.sh` (POSIX sh header + gzip tar payload,
 * packed with the system GNU tar). Only the build machine's arch: the native SQLite binding and the Node binary
 * are the ones of this machine.
 */
import { execFileSync } from 'node:child_process';
import { createHash, createPrivateKey, createPublicKey, type KeyObject } from 'node:crypto';
import { chmod, copyFile, cp, mkdir, open, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { build, type Plugin } from 'esbuild';
import { keyIdOf, signCanonical } from '../../protocol/ed25519.js';
import { SignedKeysDocument } from '../../protocol/keys.js';
import {
  RELEASE_FORMAT,
  RELEASE_MANIFEST_FILE,
  type ReleaseArch,
  type ReleaseManifest,
  ReleaseVersion,
  type SignedRelease,
} from '../../protocol/release.js';
import { AGENT_NODE_FLAGS, AGENT_RUNTIME_ENV, binWrapper, HEADER_BYTES, installerHeader, KIOSK_PRODUCT } from './shell.js';
import { describeSlot, sha256File } from './slot-files.js';

export const REPO_ROOT = join(import.meta.dirname, '..', '..');

/** What signs the release: a signing key current in `keys`, and the root that signed `keys`. */
export interface ReleaseSigner {
  privateKey: KeyObject;
  keyId: string;
  keys: SignedKeysDocument;
  rootKey: string;
}

/** A signer file: `{ "signingKey": PKCS#8 PEM, "keys": signed keys document, "rootKey": SPKI PEM }`. */
export function signerFromJson(text: string): ReleaseSigner {
  const raw = JSON.parse(text) as { signingKey?: string; keys?: unknown; rootKey?: string };
  if (!raw.signingKey || !raw.rootKey) throw new Error('a signer file needs signingKey (PKCS#8 PEM), keys and rootKey');
  const keys = SignedKeysDocument.parse(raw.keys);
  const privateKey = createPrivateKey(raw.signingKey);
  const keyId = keyIdOf(createPublicKey(privateKey));
  // The signer's key must be one the keys document lists as current, or no kiosk would accept the release.
  const entry = keys.document.keys.find((k) => k.keyId === keyId);
  if (entry?.status !== 'current')
    throw new Error(`signing key ${keyId} is not current in keys document ${keys.document.version}`);
  return { privateKey, keyId, keys: raw.keys as SignedKeysDocument, rootKey: raw.rootKey };
}

export interface BuildOptions {
  version: string;
  signer: ReleaseSigner;
  outDir: string;
  /** Strip debug symbols from the Node binary (if `strip` exists); default true. */
  strip?: boolean;
  /** Replaces esbuild's entry for the agent (tests: a tree whose agent does something else). */
  agentEntry?: string;
  log?: (line: string) => void;
}

export interface BuiltRelease {
  version: string;
  arch: ReleaseArch;
  /** The slot tree with release.json. */
  dir: string;
  /** The technician's one file. */
  installer: string;
  signed: SignedRelease;
  slotBytes: number;
  installerBytes: number;
  buildMs: number;
}

/** sha256 over the sources a release is built from (paths and contents), and the Node of the build. */
export async function sourceTreeHash(
  root = REPO_ROOT,
  dirs = ['agent', 'protocol', 'provisioning', 'tools/release', 'deploy', 'kiosk-ui/dist'],
): Promise<string> {
  const hash = createHash('sha256');
  const files: string[] = ['package-lock.json'];
  for (const dir of dirs) {
    for (const entry of await readdir(join(root, dir), { recursive: true, withFileTypes: true })) {
      if (!entry.isFile() || entry.name.endsWith('.test.ts')) continue;
      files.push(relative(root, join(entry.parentPath, entry.name)));
    }
  }
  files.sort();
  for (const file of files)
    hash
      .update(`${file}\0`)
      .update(await readFile(join(root, file)))
      .update('\0');
  hash.update(`${process.execPath}\0${process.version}\0${process.arch}`);
  return hash.digest('hex');
}

export function gitCommit(root: string): string | null {
  try {
    return execFileSync('git', ['-C', root, 'rev-parse', 'HEAD'], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    }).trim();
  } catch {
    return null;
  }
}

/** The agent reports the release's version: agent/version.ts is replaced at bundle time (its source is unchanged). */
function versionPlugin(version: string): Plugin {
  return {
    name: 'release-version',
    setup(b) {
      b.onLoad({ filter: /[\\/]agent[\\/]version\.ts$/ }, () => ({
        contents: `export const AGENT_VERSION = ${JSON.stringify(version)};\n`,
        loader: 'ts',
      }));
    },
  };
}

/** esbuild: one ESM file per entry, Node 20, `require` available for the CommonJS packages it inlines. */
export async function bundle(entry: string, outfile: string, plugins: Plugin[] = [], external: string[] = []): Promise<void> {
  await build({
    entryPoints: [entry],
    outfile,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    minify: false,
    sourcemap: false,
    legalComments: 'none',
    logLevel: 'error',
    // ws's optional native helpers are not shipped; better-sqlite3 is shipped as a package (its binding is found on disk).
    external: ['better-sqlite3', 'bufferutil', 'utf-8-validate', ...external],
    banner: {
      js: "import { createRequire as __releaseRequire } from 'node:module'; const require = __releaseRequire(import.meta.url);",
    },
    plugins,
  });
}

/**
 * `undici` as the agent uses it (agent/link-security.ts: `import { Agent, buildConnector } from 'undici'`, the dispatcher that pins
 * the server's CA for the global fetch, and the connector it wraps): those two alone. The package's index also loads its own fetch,
 * WebSocket, EventSource, caches and mocks, about 2 MiB of the agent's RSS (docs/performance.md "Agent RSS"). Another
 * name imported from 'undici' is a build error ("No matching export"), not a silent gap.
 */
function undiciAgentOnly(): Plugin {
  return {
    name: 'undici-agent-only',
    setup(b) {
      b.onResolve({ filter: /^undici$/ }, () => ({ path: 'undici', namespace: 'undici-agent-only' }));
      b.onLoad({ filter: /.*/, namespace: 'undici-agent-only' }, () => ({
        contents:
          "import Agent from 'undici/lib/dispatcher/agent.js';\nimport buildConnector from 'undici/lib/core/connect.js';\nexport { Agent, buildConnector };\n",
        resolveDir: REPO_ROOT,
        loader: 'js',
      }));
    },
  };
}

/**
 * The agent and its start-time check in one esbuild run: `<dir>/agent.mjs`, `<dir>/kiosk-agent.mjs` and one shared
 * chunk with what both use (protocol, zod), so that code is loaded once, not twice (docs/performance.md "Agent RSS").
 * Whitespace is minified (names are kept for stack traces): without comments the output is ASCII only and V8 holds
 * each source as a one-byte string — an unminified bundle with a single non-ASCII character in a comment is held as
 * UTF-16, twice its size.
 */
export async function agentBundle(agentEntry: string, dir: string, plugins: Plugin[] = []): Promise<void> {
  await build({
    entryPoints: [
      { in: join(REPO_ROOT, 'tools', 'release', 'agent-entry.ts'), out: 'kiosk-agent' },
      { in: agentEntry, out: 'agent' },
    ],
    outdir: dir,
    outExtension: { '.js': '.mjs' },
    splitting: true,
    chunkNames: 'shared-[hash]',
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    minifyWhitespace: true,
    charset: 'ascii',
    sourcemap: false,
    legalComments: 'none',
    logLevel: 'error',
    external: ['better-sqlite3', 'bufferutil', 'utf-8-validate', './agent.mjs'],
    banner: {
      js: "import { createRequire as __releaseRequire } from 'node:module'; const require = __releaseRequire(import.meta.url);",
    },
    plugins: [undiciAgentOnly(), ...plugins],
  });
}

export async function dirBytes(dir: string): Promise<number> {
  let total = 0;
  for (const entry of await readdir(dir, { recursive: true, withFileTypes: true })) {
    if (entry.isFile()) total += (await stat(join(entry.parentPath, entry.name))).size;
  }
  return total;
}

export function hasCommand(cmd: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** The native SQLite binding of this machine and the JavaScript that loads it, as `<stage>/node_modules/…`. */
export async function copySqliteBinding(stage: string, root = REPO_ROOT): Promise<void> {
  const at = (...p: string[]) => join(stage, ...p);
  const sqlite = join(root, 'node_modules', 'better-sqlite3');
  await mkdir(at('node_modules', 'better-sqlite3', 'build', 'Release'), { recursive: true });
  await copyFile(join(sqlite, 'package.json'), at('node_modules', 'better-sqlite3', 'package.json'));
  await cp(join(sqlite, 'lib'), at('node_modules', 'better-sqlite3', 'lib'), { recursive: true });
  await copyFile(
    join(sqlite, 'build', 'Release', 'better_sqlite3.node'),
    at('node_modules', 'better-sqlite3', 'build', 'Release', 'better_sqlite3.node'),
  );
  for (const [pkg, files] of [
    ['bindings', ['package.json', 'bindings.js']],
    ['file-uri-to-path', ['package.json', 'index.js']],
  ] as const) {
    await mkdir(at('node_modules', pkg), { recursive: true });
    for (const f of files) await copyFile(join(root, 'node_modules', pkg, f), at('node_modules', pkg, f));
  }
}

/** The runtime: the Node binary running this build as `<stage>/runtime/node` (debug symbols stripped when asked and `strip` exists). */
export async function copyRuntime(stage: string, strip: boolean): Promise<void> {
  await mkdir(join(stage, 'runtime'), { recursive: true });
  const node = join(stage, 'runtime', 'node');
  if (strip && hasCommand('strip')) execFileSync('strip', ['-o', node, process.execPath]);
  else await copyFile(process.execPath, node);
  await chmod(node, 0o755);
}

/** Everything readable, nothing writable but by the owner, executables as such. */
export async function normalizeModes(stage: string): Promise<void> {
  for (const entry of await readdir(stage, { recursive: true, withFileTypes: true })) {
    const p = join(entry.parentPath, entry.name);
    if (entry.isDirectory()) await chmod(p, 0o755);
    else if (entry.isFile()) await chmod(p, (await stat(p)).mode & 0o111 ? 0o755 : 0o644);
  }
}

/**
 * The one-file installer: `header` (given the payload's sha256 and size) + a gzip tar of `stage` (system GNU tar,
 * reproducible order, owners and times), written to `file` and synced.
 */
export async function packInstaller(
  stage: string,
  file: string,
  createdAt: string,
  header: (payload: { payloadSha256: string; payloadBytes: number }) => string,
): Promise<{ payloadBytes: number }> {
  const payload = `${file}.payload.tgz`;
  const mtime = `@${Math.floor(Date.parse(createdAt) / 1000)}`;
  try {
    execFileSync(
      'tar',
      ['--sort=name', '--owner=0', '--group=0', '--numeric-owner', `--mtime=${mtime}`, '-czf', payload, '-C', stage, '.'],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    const payloadBytes = (await stat(payload)).size;
    await writeFile(file, header({ payloadSha256: await sha256File(payload), payloadBytes }), { mode: 0o755 });
    const handle = await open(file, 'a');
    try {
      await handle.write(await readFile(payload));
      await handle.sync();
    } finally {
      await handle.close();
    }
    return { payloadBytes };
  } finally {
    await rm(payload, { force: true });
  }
}

export async function buildRelease(options: BuildOptions): Promise<BuiltRelease> {
  const started = Date.now();
  const log = options.log ?? (() => {});
  const version = ReleaseVersion.parse(options.version);
  const arch = process.arch as ReleaseArch;
  if (process.platform !== 'linux') throw new Error(`kiosk releases are built on Linux (this is ${process.platform})`);
  const root = REPO_ROOT;
  const name = `${version}-${arch}`;
  await mkdir(options.outDir, { recursive: true });
  const stage = join(options.outDir, `.${name}.building-${process.pid}`);
  await rm(stage, { recursive: true, force: true });
  const at = (...p: string[]) => join(stage, ...p);
  try {
    // The agent, its start-time check, the installer and the provisioning CLI, as built JavaScript.
    log('bundling the agent, the installer and the provisioning CLI (esbuild)');
    await agentBundle(options.agentEntry ?? join(root, 'agent', 'main.ts'), at('agent'), [versionPlugin(version)]);
    await bundle(join(root, 'tools', 'release', 'install.ts'), at('installer', 'install.mjs'));
    await bundle(join(root, 'provisioning', 'cli.ts'), at('provisioning', 'kiosk-provision.mjs'));

    await copySqliteBinding(stage);

    // The kiosk page with its fonts, the units and the launcher.
    await cp(join(root, 'kiosk-ui', 'dist'), at('kiosk-ui', 'dist'), { recursive: true });
    await mkdir(at('deploy'), { recursive: true });
    await copyFile(join(root, 'deploy', 'release', 'kiosk-agent.service'), at('deploy', 'kiosk-agent.service'));
    await copyFile(join(root, 'deploy', 'kiosk-launcher.sh'), at('deploy', 'kiosk-launcher.sh'));
    await chmod(at('deploy', 'kiosk-launcher.sh'), 0o755);

    // The runtime: the Node binary running this build (debug symbols stripped when `strip` exists).
    log(`adding the runtime: ${process.execPath} (Node ${process.versions.node}, ABI ${process.versions.modules})`);
    await copyRuntime(stage, options.strip !== false);

    await mkdir(at('bin'), { recursive: true });
    await writeFile(
      at('bin', 'kiosk-agent'),
      binWrapper('kiosk-agent', 'agent/kiosk-agent.mjs', arch, version, KIOSK_PRODUCT, AGENT_NODE_FLAGS, AGENT_RUNTIME_ENV),
      { mode: 0o755 },
    );
    await writeFile(
      at('bin', 'kiosk-provision'),
      binWrapper('kiosk-provision', 'provisioning/kiosk-provision.mjs', arch, version),
      {
        mode: 0o755,
      },
    );
    await normalizeModes(stage);

    // The signed manifest.
    const release: ReleaseManifest = {
      v: 1,
      format: RELEASE_FORMAT,
      version,
      platform: 'linux',
      arch,
      runtime: { name: 'node', version: process.versions.node, modules: process.versions.modules },
      entryPoints: {
        node: 'runtime/node',
        agent: 'agent/kiosk-agent.mjs',
        agentLauncher: 'bin/kiosk-agent',
        browserLauncher: 'deploy/kiosk-launcher.sh',
        installer: 'installer/install.mjs',
      },
      files: await describeSlot(stage),
      createdAt: new Date().toISOString(),
      source: { treeHash: await sourceTreeHash(root), commit: gitCommit(root) },
    };
    const signed: SignedRelease = {
      release,
      keyId: options.signer.keyId,
      keys: options.signer.keys,
      rootKey: options.signer.rootKey,
      signature: signCanonical(release, options.signer.privateKey),
    };
    await writeFile(at(RELEASE_MANIFEST_FILE), `${JSON.stringify(signed, null, 2)}\n`, { mode: 0o644 });

    // The technician's file: header + gzip tar of the slot (system GNU tar, reproducible order and owners).
    log('packing the installer (tar + gzip)');
    const installer = join(options.outDir, `kiosk-${name}.install.sh`);
    const tmpInstaller = `${installer}.partial-${process.pid}`;
    const { payloadBytes } = await packInstaller(stage, tmpInstaller, release.createdAt, (payload) =>
      installerHeader({ arch, version, ...payload }),
    );

    const dir = join(options.outDir, name);
    await rm(dir, { recursive: true, force: true });
    await rename(stage, dir);
    await rename(tmpInstaller, installer);
    const slotBytes = await dirBytes(dir);
    return {
      version,
      arch,
      dir,
      installer,
      signed,
      slotBytes,
      installerBytes: HEADER_BYTES + payloadBytes,
      buildMs: Date.now() - started,
    };
  } catch (err) {
    await rm(stage, { recursive: true, force: true });
    throw err;
  }
}

/** For callers that hold the pieces (tests, the server keyring). */
export function signerOf(privateKey: KeyObject, keys: SignedKeysDocument, rootKey: string): ReleaseSigner {
  return { privateKey, keyId: keyIdOf(createPublicKey(privateKey)), keys, rootKey };
}

export const DIST_RELEASES = join(REPO_ROOT, 'dist', 'releases');
