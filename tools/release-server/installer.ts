/**
 * `installer/fleet-server-installer.mjs` of a server release (run by the install file with the bundled Node, from the unpacked
 * payload): checks the manifest and every file, then installs the release as `/opt/fleet-server/releases/<version>`
 * with `/opt/fleet-server/current` pointing at it, the `fleet-server` user, its data and backup folders and the
 * systemd unit. No network is used. Installing the same file twice changes nothing; a newer one is an upgrade (the
 * old release stays beside it, `current` moves, a running server is restarted onto it).
 *
 *   --from DIR      the unpacked release (the install file passes it)
 *   --prefix DIR    install under DIR instead of / (tests); implies --no-system
 *   --no-system     no useradd, chown or systemctl
 */
import { execFileSync } from 'node:child_process';
import { chmod, mkdir, readFile, readlink, rename, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { parseArgs } from 'node:util';
import { unitFor } from '../release/install.js';
import { slotProblem } from '../release/slot-files.js';
import { SERVER_ENTRY_POINTS, ServerReleaseManifest, serverTargetMismatch } from './manifest.js';

/** Where things go, relative to the root (`/` or --prefix); the unit (deploy/fleet-server.service) names the same. */
export const SERVER_LAYOUT = {
  home: 'opt/fleet-server',
  releases: 'opt/fleet-server/releases',
  current: 'opt/fleet-server/current',
  data: 'var/lib/fleet-server',
  backups: 'var/backups/fleet-server',
  unit: 'etc/systemd/system/fleet-server.service',
  user: 'fleet-server',
} as const;

/** The folders of the unit's directive lines that move into a --prefix. */
const UNIT_PATHS = [SERVER_LAYOUT.home, SERVER_LAYOUT.data, SERVER_LAYOUT.backups, 'etc/fleet-server.env'];

class Refusal extends Error {}

function run(cmd: string, args: string[]): string {
  return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

function succeeds(cmd: string, args: string[]): boolean {
  try {
    run(cmd, args);
    return true;
  } catch {
    return false;
  }
}

export interface ServerInstallResult {
  version: string;
  arch: string;
  releaseDir: string;
  /** The release `current` pointed at before, if another. */
  previous: string | null;
  notes: string[];
}

/** Copies the checked release into `releases/<version>` under a temporary name, checks the copy, renames it. */
async function writeRelease(from: string, releasesDir: string, manifest: ServerReleaseManifest, raw: string): Promise<string> {
  const dir = join(releasesDir, manifest.version);
  const present = await readFile(join(dir, 'release.json'), 'utf8').catch(() => null);
  if (present === raw && (await slotProblem(dir, manifest)) === null) return dir;
  const tmp = join(releasesDir, `.${manifest.version}.partial-${process.pid}`);
  await rm(tmp, { recursive: true, force: true });
  await mkdir(tmp, { recursive: true, mode: 0o755 });
  // cp keeps the modes of the files checked in --from; the copy is checked again below.
  run('cp', ['-a', '--no-preserve=ownership', `${from}/.`, tmp]);
  await writeFile(join(tmp, 'release.json'), raw, { mode: 0o644 });
  const problem = await slotProblem(tmp, manifest);
  if (problem) throw new Refusal(`the copy in ${tmp} failed its check: ${problem}`);
  if (present !== null) await rm(dir, { recursive: true, force: true });
  await rename(tmp, dir);
  return dir;
}

export async function installServer(argv: string[]): Promise<ServerInstallResult> {
  const { values } = parseArgs({
    args: argv,
    options: { from: { type: 'string' }, prefix: { type: 'string' }, 'no-system': { type: 'boolean', default: false } },
    strict: true,
  });
  if (!values.from) throw new Refusal('--from DIR is missing (the install file passes it; run the .install.sh file)');
  const from = values.from;
  const root = values.prefix ?? '/';
  const system = !values.prefix && !values['no-system'];
  const notes: string[] = [];

  let raw: string;
  let manifest: ServerReleaseManifest;
  try {
    raw = await readFile(join(from, 'release.json'), 'utf8');
    manifest = ServerReleaseManifest.parse(JSON.parse(raw));
  } catch (err) {
    throw new Refusal(`the release manifest release.json is missing or malformed: ${(err as Error).message}`);
  }
  const mismatch = serverTargetMismatch(manifest);
  if (mismatch) throw new Refusal(mismatch);
  const problem = await slotProblem(from, manifest);
  if (problem) throw new Refusal(`fleet server release ${manifest.version} refused: ${problem}`);

  if (system && !succeeds('id', ['-u', SERVER_LAYOUT.user])) {
    run('useradd', [
      '--system',
      '--user-group',
      '--home-dir',
      `/${SERVER_LAYOUT.data}`,
      '--no-create-home',
      '--shell',
      '/usr/sbin/nologin',
      SERVER_LAYOUT.user,
    ]);
    notes.push(`created the system user ${SERVER_LAYOUT.user}`);
  }
  await mkdir(join(root, SERVER_LAYOUT.releases), { recursive: true, mode: 0o755 });
  for (const dir of [SERVER_LAYOUT.data, SERVER_LAYOUT.backups]) {
    await mkdir(dirname(join(root, dir)), { recursive: true, mode: 0o755 });
    await mkdir(join(root, dir), { recursive: true, mode: 0o700 });
    await chmod(join(root, dir), 0o700);
  }
  const releaseDir = await writeRelease(from, join(root, SERVER_LAYOUT.releases), manifest, raw);

  // `current`: a new symlink renamed over the old one, so it is never missing.
  const current = join(root, SERVER_LAYOUT.current);
  const before = await readlink(current).catch(() => null);
  const tmpLink = `${current}.new-${process.pid}`;
  await rm(tmpLink, { force: true });
  await symlink(join('releases', manifest.version), tmpLink);
  await rename(tmpLink, current);
  const previous = before && before !== join('releases', manifest.version) ? before : null;

  const unitFile = join(root, SERVER_LAYOUT.unit);
  await mkdir(join(root, 'etc/systemd/system'), { recursive: true });
  const unit = unitFor(await readFile(join(releaseDir, SERVER_ENTRY_POINTS.unit), 'utf8'), root, UNIT_PATHS);
  await writeFile(`${unitFile}.tmp`, unit, { mode: 0o644 });
  await rename(`${unitFile}.tmp`, unitFile);

  if (system) {
    // The server owns its data and backups; the release stays root's (it only reads it).
    run('chown', [
      '-R',
      `${SERVER_LAYOUT.user}:${SERVER_LAYOUT.user}`,
      join(root, SERVER_LAYOUT.data),
      join(root, SERVER_LAYOUT.backups),
    ]);
    if (succeeds('sh', ['-c', 'command -v systemctl']) && (await stat('/run/systemd/system').catch(() => null))) {
      run('systemctl', ['daemon-reload']);
      run('systemctl', ['enable', 'fleet-server.service']);
      if (succeeds('systemctl', ['is-active', '--quiet', 'fleet-server.service'])) {
        run('systemctl', ['restart', 'fleet-server.service']);
        notes.push('restarted fleet-server.service on the new release');
      } else notes.push('enabled fleet-server.service; start it: systemctl start fleet-server');
    } else notes.push('systemd is not running here: the unit is installed but not enabled');
  }
  return { version: manifest.version, arch: manifest.arch, releaseDir, previous, notes };
}

async function main(): Promise<void> {
  const started = Date.now();
  try {
    const result = await installServer(process.argv.slice(2));
    console.log(
      [
        `fleet server release ${result.version} (${result.arch}) installed in ${result.releaseDir} in ${((Date.now() - started) / 1000).toFixed(1)} s`,
        ...(result.previous ? [`upgraded from ${result.previous} (kept; to go back, point current at it again)`] : []),
        ...result.notes,
      ].join('\n'),
    );
  } catch (err) {
    const message = err instanceof Refusal ? err.message : `install failed: ${(err as Error).message}`;
    console.error(`install: ${message}`);
    process.exitCode = err instanceof Refusal ? 5 : 1;
  }
}

// Not named install.mjs: tools/release/install.ts (imported for unitFor) runs its own main for that name.
if (process.argv[1] && /fleet-server-installer\.(mjs|ts)$|release-server[\\/]installer\.ts$/.test(process.argv[1])) await main();
