/**
 * A small kiosk release manifest for the OTA tests (tests/release-*.test.ts, tests/dashboard-releases.test.ts): the
 * files given, the build machine's arch and Node as runtime, `agent/notes.txt` as the installer entry (and the agent's unless named),
 * `bin/kiosk-agent` as both launchers, modes by folder. Also what those tests share around it: signing with the test
 * server's keyring, uploading a release's missing files, installing a slot, and a supervisor for the boot guard.
 */
import { type ChildProcess, type SpawnOptions, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdir, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { expect } from 'vitest';
import { ensureBootGuard } from '../../agent/updater-boot.js';
import { signCanonical } from '../../protocol/ed25519.js';
import type { ReleaseManifest, SignedRelease } from '../../protocol/index.js';
import { enrollmentKeys, type loadOrCreateSigningKeys, openKeyring } from '../../server/content/index.js';
import type { HttpSession, TestServer } from '../../server/testing/test-server.js';

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

export function testReleaseManifest(version: string, files: Map<string, Buffer>, agent = 'agent/notes.txt'): ReleaseManifest {
  return {
    v: 1,
    format: 'kiosk-release',
    version,
    platform: 'linux',
    arch: process.arch as ReleaseManifest['arch'],
    runtime: { name: 'node', version: process.versions.node, modules: process.versions.modules },
    entryPoints: {
      node: 'runtime/node',
      agent,
      agentLauncher: 'bin/kiosk-agent',
      browserLauncher: 'bin/kiosk-agent',
      installer: 'agent/notes.txt',
    },
    files: [...files]
      .sort(([a], [b]) => (a < b ? -1 : 1))
      .map(([path, b]) => ({ path, sha256: sha(b), size: b.length, mode: path.startsWith('bin/') ? 0o755 : 0o644 })),
    createdAt: new Date().toISOString(),
  };
}

/** Signs `release` with the test server's own keyring (opened with `initial`) and its enrollment root key. */
export function signWithServerKeyring(
  server: TestServer,
  initial: Awaited<ReturnType<typeof loadOrCreateSigningKeys>>,
  release: ReleaseManifest,
): SignedRelease {
  const { keys, document } = openKeyring({ db: server.db, dataDir: server.dataDir, initial }).signer();
  const rootKey = enrollmentKeys(server.db)?.rootKey as string;
  return { release, keyId: keys.keyId, keys: document, rootKey, signature: signCanonical(release, keys.privateKey) };
}

/** PUTs one release file as `admin` (octet-stream) and expects 201. */
export async function putReleaseFile(server: TestServer, admin: HttpSession, sha256: string, body: Buffer): Promise<void> {
  const res = await fetch(`${server.httpUrl}/api/v1/releases/files/${sha256}`, {
    method: 'PUT',
    headers: { cookie: (admin as unknown as { cookie: string }).cookie, 'content-type': 'application/octet-stream' },
    body,
  });
  expect(res.status).toBe(201);
}

/** PUTs those of `files` whose sha256 the server listed as `missing`. */
export async function putMissingFiles(
  server: TestServer,
  admin: HttpSession,
  files: Map<string, Buffer>,
  missing: string[],
): Promise<void> {
  for (const bytes of files.values()) {
    if (missing.includes(sha(bytes))) await putReleaseFile(server, admin, sha(bytes), bytes);
  }
}

/** Lays `signed` out as `root`/releases/<version> from `files`, points `current` at it and adds the boot guard. */
export async function installReleaseSlot(root: string, signed: SignedRelease, files: Map<string, Buffer>): Promise<void> {
  const dir = join(root, 'releases', signed.release.version);
  for (const f of signed.release.files) {
    await mkdir(join(dir, f.path, '..'), { recursive: true });
    await writeFile(join(dir, f.path), files.get(f.path) as Buffer, { mode: f.mode });
  }
  await writeFile(join(dir, 'release.json'), JSON.stringify(signed));
  await symlink(join('releases', signed.release.version), join(root, 'current'));
  await ensureBootGuard(root);
}

/** Plays systemd (Restart=always, 200 ms) for `root`'s boot guard with `config`; `options()` is read at each start. */
export function superviseBootGuard(root: string, config: string, options: () => SpawnOptions) {
  let child: ChildProcess | null = null;
  let stopped = false;
  let starts = 0;
  const run = (): void => {
    if (stopped) return;
    starts++;
    child = spawn('/bin/sh', [join(root, 'bin', 'kiosk-boot'), '--config', config], options());
    child.once('exit', () => setTimeout(run, 200));
  };
  const kill = async () => {
    const c = child as ChildProcess | null;
    if (c && c.exitCode === null && c.signalCode === null) {
      const gone = new Promise((r) => c.once('exit', r));
      c.kill('SIGKILL');
      await gone;
    }
  };
  run();
  return {
    /** Stops restarting and kills the running guard. */
    stop: async () => {
      stopped = true;
      await kill();
    },
    /** Kills the running guard (the supervisor starts it again). */
    kill,
    pid: () => (child as ChildProcess | null)?.pid,
    starts: () => starts,
  };
}
