/**
 * The installed kiosk starts through its boot guard (docs/releases.md): install.sh writes `bin/kiosk-boot` outside the
 * slots, the unit's ExecStart names it (under the prefix for a `--prefix` install), and the guard started the way
 * systemd starts it runs the slot's agent with KIOSK_ROOT set — so over-the-air updates and rollback are on.
 * No root needed (a `--prefix` install does no useradd, chown or systemctl).
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, readlink, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { BOOT_GUARD } from '../agent/updater-boot.js';
import { waitFor } from '../server/testing/test-server.js';
import { cachedRelease } from '../tools/release/cached-release.js';
import { cleanupsRunBy } from './helpers/cleanups.js';
import { enrollWithInstalledCli, startInstalledAgent } from './helpers/installed-agent.js';

const run = promisify(execFile);
const cleanups = cleanupsRunBy(afterAll);

const execStart = (unit: string) => /^ExecStart=(.*)$/m.exec(unit)?.[1];

describe('installed kiosk starts through the boot guard', () => {
  it('install.sh writes bin/kiosk-boot, the unit starts it, and it runs the agent with KIOSK_ROOT', async () => {
    const rel = await cachedRelease();
    const prefix = await mkdtemp(join(tmpdir(), 'release-boot-'));
    cleanups.push(() => rm(prefix, { recursive: true, force: true }));
    const home = join(prefix, 'opt/kiosk');
    await run('sh', [rel.installer, '--prefix', prefix], { timeout: 120_000 });

    // The guard: the agent's one definition, executable, outside the slots.
    const guard = join(home, 'bin/kiosk-boot');
    const mode = (await stat(guard)).mode & 0o777;
    expect(mode, `bin/kiosk-boot mode ${mode.toString(8)}`).toBe(0o755);
    expect(await readFile(guard, 'utf8')).toBe(BOOT_GUARD);

    // The unit starts the guard: /opt/kiosk in the release, the prefix's path as installed with --prefix.
    expect(execStart(await readFile(join(rel.dir, 'deploy/kiosk-agent.service'), 'utf8'))).toBe(
      '/opt/kiosk/bin/kiosk-boot --config /etc/kiosk/agent-config.json',
    );
    const unit = await readFile(join(prefix, 'etc/systemd/system/kiosk-agent.service'), 'utf8');
    expect(execStart(unit)).toBe(`${guard} --config ${join(prefix, 'etc/kiosk/agent-config.json')}`);
    expect(unit).toMatch(new RegExp(`^ReadWritePaths=${prefix}/etc/kiosk ${prefix}/opt/kiosk$`, 'm'));
    expect(unit).toMatch(/^Environment=AGENT_UPDATE_HEARTBEAT=1$/m);

    // Enroll with the bundled CLI against a real server, then start the agent as systemd does: through the guard.
    const env = { PATH: process.env.PATH, HOME: prefix };
    const configFile = join(prefix, 'etc/kiosk/agent-config.json');
    const { server } = await enrollWithInstalledCli({
      provision: join(home, 'current/bin/kiosk-provision'),
      prefix,
      env,
      cleanups,
    });
    const { deviceId } = JSON.parse(await readFile(configFile, 'utf8')) as { deviceId: string };

    const installed = await startInstalledAgent({ launcher: guard, configFile, prefix, env: { ...env, KIOSK_ROOT: home } });
    cleanups.push(installed.kill);
    const { child: agent, kioskPort } = installed;
    const stderr = installed.stderr;
    const healthRows = () => server.db.prepare('SELECT count(*) FROM health WHERE device_id = ?').pluck().get(deviceId) as number;
    await waitFor(() => healthRows() >= 1 || agent.exitCode !== null, 'a health sample stored', 30_000);
    expect(agent.exitCode, stderr()).toBeNull();
    // The guard exec'd the slot's agent on the slot's Node (same pid), with the release root in its environment.
    expect(await readlink(`/proc/${agent.pid}/exe`)).toBe(join(home, `releases/${rel.version}/runtime/node`));
    const environ = (await readFile(`/proc/${agent.pid}/environ`, 'utf8')).split('\0');
    expect(environ).toContain(`KIOSK_ROOT=${home}`);
    expect((await fetch(`http://127.0.0.1:${kioskPort}/`)).status).toBe(200);
    agent.kill('SIGTERM');
    await waitFor(() => agent.exitCode !== null, 'agent stopped', 15_000);
    expect(agent.exitCode, stderr()).toBe(0);
  }, 300_000);
});
