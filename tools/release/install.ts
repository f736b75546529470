/**
 * `installer/install.mjs` of a release (run by install.sh with the bundled Node, from the unpacked payload): verifies
 * the signed release and every file, then installs it as a slot (DESIGN §10). No network is used.
 *
 *   --from DIR          the unpacked release (install.sh passes it)
 *   --prefix DIR        install under DIR instead of / (tests); implies --no-system
 *   --no-system         no useradd, chown or systemctl
 *   --server URL        write /etc/kiosk/agent-config.json for pairing, if no config is there yet
 *   --expect-root ID    refuse unless the release's root key has this id (what the dashboard's keys page shows)
 */
import { execFileSync } from 'node:child_process';
import { constants } from 'node:fs';
import { chmod, copyFile, mkdir, open, readFile, rename, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { parseArgs } from 'node:util';
import { ensureBootGuard } from '../../agent/updater-boot.js';
import { keyIdOf } from '../../protocol/ed25519.js';
import {
  bootstrapTrust,
  checkRelease,
  currentTarget,
  RELEASE_MANIFEST_FILE,
  type ReleaseManifest,
  SignedRelease,
} from '../../protocol/release.js';
import { slotProblem } from './slot-files.js';

/** Where things go, relative to the root (`/` or --prefix). */
export const LAYOUT = {
  home: 'opt/kiosk',
  releases: 'opt/kiosk/releases',
  current: 'opt/kiosk/current',
  bootGuard: 'opt/kiosk/bin/kiosk-boot',
  state: 'var/lib/kiosk',
  config: 'etc/kiosk',
  configFile: 'etc/kiosk/agent-config.json',
  unit: 'etc/systemd/system/kiosk-agent.service',
  user: 'kiosk',
} as const;

/**
 * The unit as installed under `root`: for a `--prefix` install, the absolute paths of the kiosk's folders on its
 * directive lines (ExecStart, ReadWritePaths, …) point into the prefix, so the unit names what was installed there.
 * `paths`: those folders, relative to / (default the kiosk's; the server release passes its own).
 */
export function unitFor(
  unit: string,
  root: string,
  paths: readonly string[] = ['opt/kiosk', 'etc/kiosk', 'var/lib/kiosk'],
): string {
  if (root === '/') return unit;
  const base = root.replace(/\/+$/, '');
  const folders = new RegExp(
    `(?<=[=\\s-])\\/(${paths.map((p) => p.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')).join('|')})(?=[/\\s]|$)`,
    'g',
  );
  return unit
    .split('\n')
    .map((line) => (line.startsWith('#') ? line : line.replace(folders, `${base}/$1`)))
    .join('\n');
}

class Refusal extends Error {}

function run(cmd: string, args: string[]): string {
  return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

function exists(cmd: string): boolean {
  try {
    run('sh', ['-c', `command -v ${cmd}`]);
    return true;
  } catch {
    return false;
  }
}

async function fsyncPath(path: string): Promise<void> {
  const handle = await open(path, constants.O_RDONLY);
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** Copies the verified release into `releases/<version>` (written under a temporary name, then renamed). */
async function writeSlot(from: string, releasesDir: string, release: ReleaseManifest, raw: string): Promise<string> {
  const slot = join(releasesDir, release.version);
  try {
    await stat(slot);
    // Installed before: keep it if it is intact (install twice = same result), replace it otherwise.
    if ((await slotProblem(slot, release)) === null && (await readFile(join(slot, RELEASE_MANIFEST_FILE), 'utf8')) === raw) {
      return slot;
    }
    await rename(slot, join(releasesDir, `.${release.version}.replaced-${process.pid}`));
    await rm(join(releasesDir, `.${release.version}.replaced-${process.pid}`), { recursive: true, force: true });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  const tmp = join(releasesDir, `.${release.version}.partial-${process.pid}`);
  await rm(tmp, { recursive: true, force: true });
  for (const file of release.files) {
    const target = join(tmp, file.path);
    await mkdir(dirname(target), { recursive: true, mode: 0o755 });
    await copyFile(join(from, file.path), target);
    await chmod(target, file.mode);
    await fsyncPath(target);
  }
  await writeFile(join(tmp, RELEASE_MANIFEST_FILE), raw, { mode: 0o644 });
  await fsyncPath(join(tmp, RELEASE_MANIFEST_FILE));
  // What was copied is what was verified: check again before the slot gets its real name.
  const problem = await slotProblem(tmp, release);
  if (problem) throw new Refusal(`copy to ${tmp} failed its check: ${problem}`);
  await rename(tmp, slot);
  await fsyncPath(releasesDir);
  return slot;
}

/** Points `current` at the slot: a new symlink renamed over the old one, so `current` is never missing. */
async function switchCurrent(root: string, version: string): Promise<void> {
  const current = join(root, LAYOUT.current);
  const tmp = `${current}.new-${process.pid}`;
  await rm(tmp, { force: true });
  await symlink(join('releases', version), tmp);
  await rename(tmp, current);
  await fsyncPath(dirname(current));
}

export interface InstallResult {
  version: string;
  arch: string;
  rootKeyId: string;
  slot: string;
  system: boolean;
  notes: string[];
}

export async function install(argv: string[]): Promise<InstallResult> {
  const { values } = parseArgs({
    args: argv,
    options: {
      from: { type: 'string' },
      prefix: { type: 'string' },
      'no-system': { type: 'boolean', default: false },
      server: { type: 'string' },
      'expect-root': { type: 'string' },
    },
    strict: true,
  });
  if (!values.from) throw new Refusal('--from DIR is missing (install.sh passes it; run install.sh, not this file)');
  const from = values.from;
  const root = values.prefix ?? '/';
  const system = !values.prefix && !values['no-system'];
  const notes: string[] = [];

  // 1. The signed release, against the key set the file carries (trust bootstrap, DESIGN §10).
  let raw: string;
  let input: unknown;
  try {
    raw = await readFile(join(from, RELEASE_MANIFEST_FILE), 'utf8');
    input = JSON.parse(raw);
  } catch (err) {
    throw new Refusal(`cannot read the release manifest ${RELEASE_MANIFEST_FILE}: ${(err as Error).message}`);
  }
  const shape = SignedRelease.safeParse(input);
  if (!shape.success)
    throw new Refusal(`the release manifest is malformed: ${shape.error.issues[0]?.message ?? shape.error.message}`);
  const rootKeyId = keyIdOf(shape.data.rootKey);
  if (values['expect-root'] && values['expect-root'] !== rootKeyId) {
    throw new Refusal(
      `this release is signed under root ${rootKeyId}, not the expected ${values['expect-root']}: do not install it`,
    );
  }
  const check = checkRelease(input, { trust: bootstrapTrust(shape.data), target: currentTarget() });
  if (!check.ok) throw new Refusal(`release refused (${check.reason}): ${check.message}`);
  const release = check.signed.release;

  // 2. Every file, by size and sha256; nothing unlisted.
  const problem = await slotProblem(from, release);
  if (problem) throw new Refusal(`release ${release.version} refused: ${problem}`);

  // 3. User, folders, slot, `current`, unit.
  if (system) {
    try {
      run('id', ['-u', LAYOUT.user]);
    } catch {
      run('useradd', [
        '--system',
        '--home-dir',
        `/${LAYOUT.state}`,
        '--no-create-home',
        '--shell',
        '/usr/sbin/nologin',
        LAYOUT.user,
      ]);
      notes.push(`created the system user ${LAYOUT.user}`);
    }
  }
  for (const dir of [LAYOUT.releases, LAYOUT.state, LAYOUT.config]) {
    await mkdir(join(root, dir), { recursive: true, mode: 0o755 });
  }
  await chmod(join(root, LAYOUT.state), 0o700);
  await chmod(join(root, LAYOUT.config), 0o700);
  const slot = await writeSlot(from, join(root, LAYOUT.releases), release, raw);
  await switchCurrent(root, release.version);
  // The boot guard, outside the slots: what the unit starts (docs/releases.md). One definition, the agent's.
  if (await ensureBootGuard(join(root, LAYOUT.home))) notes.push(`wrote the boot guard ${join(root, LAYOUT.bootGuard)}`);
  await mkdir(dirname(join(root, LAYOUT.unit)), { recursive: true });
  const unit = unitFor(await readFile(join(slot, 'deploy', 'kiosk-agent.service'), 'utf8'), root);
  await writeFile(`${join(root, LAYOUT.unit)}.tmp`, unit, { mode: 0o644 });
  await rename(`${join(root, LAYOUT.unit)}.tmp`, join(root, LAYOUT.unit));

  if (values.server) {
    const configFile = join(root, LAYOUT.configFile);
    try {
      await writeFile(
        configFile,
        `${JSON.stringify({ serverUrl: values.server, dataDir: `/${LAYOUT.state}/data` }, null, 2)}\n`,
        {
          mode: 0o600,
          flag: 'wx',
        },
      );
      notes.push(`wrote ${configFile} for pairing with ${values.server}`);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      notes.push(`kept the existing ${configFile}`);
    }
  }

  if (system) {
    // The agent (user kiosk) owns its state, its config and the release folders (the updater adds slots there).
    run('chown', [
      '-R',
      `${LAYOUT.user}:${LAYOUT.user}`,
      join(root, LAYOUT.home),
      join(root, LAYOUT.state),
      join(root, LAYOUT.config),
    ]);
    if (exists('systemctl') && (await stat('/run/systemd/system').catch(() => null))) {
      run('systemctl', ['daemon-reload']);
      run('systemctl', ['enable', 'kiosk-agent.service']);
      let configured = true;
      await stat(join(root, LAYOUT.configFile)).catch(() => {
        configured = false;
      });
      if (configured) {
        run('systemctl', ['restart', 'kiosk-agent.service']);
        notes.push('started kiosk-agent.service');
      } else notes.push('enabled kiosk-agent.service; it starts once the kiosk is enrolled (README)');
    } else notes.push('systemd is not running here: the unit is installed but not enabled');
  }
  return { version: release.version, arch: release.arch, rootKeyId, slot, system, notes };
}

async function main(): Promise<void> {
  const started = Date.now();
  try {
    const result = await install(process.argv.slice(2));
    console.log(
      [
        `kiosk release ${result.version} (${result.arch}) installed in ${result.slot} in ${((Date.now() - started) / 1000).toFixed(1)} s`,
        `signed under root key ${result.rootKeyId} (compare with the dashboard's keys page)`,
        ...result.notes,
      ].join('\n'),
    );
  } catch (err) {
    const message = err instanceof Refusal ? err.message : `install failed: ${(err as Error).message}`;
    console.error(`install.sh: ${message}`);
    process.exitCode = err instanceof Refusal ? 5 : 1;
  }
}

if (process.argv[1] && /install\.(mjs|ts)$/.test(process.argv[1])) await main();
