/**
 * First install from the one file (DESIGN §10), with the network cut (`unshare -n`), into a temp prefix; then the
 * installed tree alone — its bundled Node, its bundled provisioning CLI and agent — enrolls against a real server and
 * reports health into its SQLite, and serves the kiosk page. Needs root (unshare); skipped with the reason otherwise.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, readlink, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { waitFor } from '../server/testing/test-server.js';
import { cachedRelease } from '../tools/release/cached-release.js';
import { cleanupsRunBy } from './helpers/cleanups.js';
import { enrollWithInstalledCli, startInstalledAgent } from './helpers/installed-agent.js';
import { canUnshare } from './helpers/net-namespace.js';

const unshareWorks = await canUnshare();

const run = promisify(execFile);
const cleanups = cleanupsRunBy(afterAll);

function rssKb(pid: number): Promise<number> {
  return readFile(`/proc/${pid}/status`, 'utf8').then((s) => Number(/VmRSS:\s+(\d+)/.exec(s)?.[1]));
}

describe.skipIf(!unshareWorks)(
  `install from one file with no network${unshareWorks ? '' : ' (skipped: needs root and unshare -n)'}`,
  () => {
    it('installs with the network cut; the installed agent enrolls and reports against a real server', async () => {
      const rel = await cachedRelease();
      const prefix = await mkdtemp(join(tmpdir(), 'release-install-'));
      cleanups.push(() => rm(prefix, { recursive: true, force: true }));

      // The network is cut for the whole install: only a down loopback exists in the new namespace.
      const links = await run('unshare', ['-n', 'sh', '-c', 'cat /proc/net/dev']);
      expect(links.stdout).not.toMatch(/^\s*(eth|en|wl)/m);
      const t0 = Date.now();
      const installed = await run('unshare', ['-n', 'sh', rel.installer, '--prefix', prefix], { timeout: 120_000 });
      const installMs = Date.now() - t0;
      expect(installed.stdout).toContain(`kiosk release ${rel.version} (${rel.arch}) installed`);
      expect(await readlink(join(prefix, 'opt/kiosk/current'))).toBe(`releases/${rel.version}`);
      for (const dir of ['var/lib/kiosk', 'etc/kiosk']) expect((await stat(join(prefix, dir))).mode & 0o777).toBe(0o700);
      // The unit starts the boot guard (docs/releases.md), under the prefix (tests/release-boot.test.ts runs it).
      expect(await readFile(join(prefix, 'etc/systemd/system/kiosk-agent.service'), 'utf8')).toContain(
        `ExecStart=${prefix}/opt/kiosk/bin/kiosk-boot --config ${prefix}/etc/kiosk/agent-config.json`,
      );
      // Installing the same file again changes nothing and still succeeds.
      await run('unshare', ['-n', 'sh', rel.installer, '--prefix', prefix], { timeout: 120_000 });
      const current = join(prefix, 'opt/kiosk/current');

      // Enroll with the bundled CLI, as the technician does, against a real server (outside the cut namespace).
      const env = { PATH: process.env.PATH, HOME: prefix };
      const { server, ...enrolled } = await enrollWithInstalledCli({
        provision: join(current, 'bin/kiosk-provision'),
        prefix,
        env,
        cleanups,
      });
      expect(enrolled.stdout + enrolled.stderr).toMatch(/enrolled|kiosk/i);
      const config = JSON.parse(await readFile(join(prefix, 'etc/kiosk/agent-config.json'), 'utf8')) as { deviceId: string };

      // Start the installed agent from the installed tree with its bundled Node.
      const running = await startInstalledAgent({
        launcher: join(current, 'bin/kiosk-agent'),
        configFile: join(prefix, 'etc/kiosk/agent-config.json'),
        prefix,
        env,
      });
      cleanups.push(running.kill);
      const { child: agent, kioskPort } = running;
      const stderr = running.stderr;
      const healthRows = () =>
        server.db.prepare('SELECT count(*) FROM health WHERE device_id = ?').pluck().get(config.deviceId) as number;
      await waitFor(() => healthRows() >= 2 || agent.exitCode !== null, 'two health samples stored', 30_000);
      expect(agent.exitCode, stderr()).toBeNull();
      const page = await fetch(`http://127.0.0.1:${kioskPort}/`);
      expect(page.status).toBe(200);
      expect(await page.text()).toContain('<html');
      const exe = await readlink(`/proc/${agent.pid}/exe`);
      expect(exe).toBe(join(prefix, `opt/kiosk/releases/${rel.version}/runtime/node`));

      // Idle RSS after the start-up burst (several health cycles).
      await new Promise((r) => setTimeout(r, 4000));
      const rss = await rssKb(agent.pid as number);
      console.log(`release install: ${installMs} ms under unshare -n; installed agent RSS ${(rss / 1024).toFixed(1)} MiB`);
      expect(rss / 1024).toBeLessThan(120);
      agent.kill('SIGTERM');
      await waitFor(() => agent.exitCode !== null, 'agent stopped', 15_000);
      expect(agent.exitCode).toBe(0);
    }, 300_000);
  },
);
