/**
 * `npm run release:server` (issue 17, docs/deployment.md "Install"): the server release built once per source tree
 * (cached in the temp folder), installed from its one file with the network cut (`unshare -n`) into a temp prefix;
 * then the installed tree alone — its bundled Node, server, backup CLI — starts on free ports with its own data
 * directory, answers /healthz, takes an enrolled kiosk's MQTT connection and makes a checked backup.
 * Needs root (unshare); skipped with the reason otherwise.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { cp, mkdtemp, readFile, readlink, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectDevice } from '../server/testing/test-server.js';
import { slotProblem } from '../tools/release/slot-files.js';
import { SERVER_WORKER_ENTRIES } from '../tools/release-server/build.js';
import { type CachedServerRelease, cachedServerRelease } from '../tools/release-server/cached.js';
import { SERVER_ENTRY_POINTS } from '../tools/release-server/manifest.js';
import { setUpFleet } from './fuzz/enroll.js';
import { cleanupsRunBy } from './helpers/cleanups.js';
import { canUnshare } from './helpers/net-namespace.js';

const unshareWorks = await canUnshare();

const run = promisify(execFile);
const cleanups = cleanupsRunBy(afterAll);

async function temp(prefix: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/** Runs a command; resolves with its exit code and output instead of throwing. */
async function outcome(cmd: string, args: string[], env: NodeJS.ProcessEnv = process.env) {
  try {
    const { stdout, stderr } = await run(cmd, args, { env, timeout: 120_000 });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

let rel: CachedServerRelease;
beforeAll(async () => {
  rel = await cachedServerRelease();
}, 300_000);

describe('npm run release:server', () => {
  it('builds one folder with the bundled server, its workers, CLIs, migrations, page, native binding, Node and unit, each file hashed', async () => {
    expect(rel.manifest.version).toBe(rel.version);
    expect(rel.manifest.runtime).toEqual({ name: 'node', version: process.versions.node, modules: process.versions.modules });
    expect(await slotProblem(rel.dir, rel.manifest)).toBeNull();
    const paths = rel.manifest.files.map((f) => f.path);
    for (const p of [
      ...Object.values(SERVER_ENTRY_POINTS),
      'server/server.mjs',
      'server/start.mjs',
      'server/backup-cli.mjs',
      'server/db/migrations/001-core.sql',
      'dashboard-ui/dist/index.html',
      'node_modules/better-sqlite3/build/Release/better_sqlite3.node',
      'node_modules/world-atlas/countries-10m.json',
      // Worker threads from their own file, bundled beside the module that starts them (.mjs).
      ...SERVER_WORKER_ENTRIES.map((w) => w.replace(/\.ts$/, '.mjs')),
    ]) {
      expect(paths, p).toContain(p);
    }
    // No TypeScript and no tsx: the release runs on the bundled Node alone.
    expect(paths.filter((p) => p.endsWith('.ts') || p.includes('node_modules/tsx/'))).toEqual([]);
    const unit = await readFile(join(rel.dir, SERVER_ENTRY_POINTS.unit), 'utf8');
    expect(unit).toContain('ExecStart=/bin/sh /opt/fleet-server/current/bin/fleet-server');
    expect(unit).toContain('User=fleet-server');
    const version = await outcome(join(rel.dir, SERVER_ENTRY_POINTS.server), ['--version']);
    expect(version.stdout).toBe(`fleet-server ${rel.version} (linux-${rel.arch}, Node ${process.versions.node})\n`);
  });

  it('refuses a release folder with a changed file, naming it', async () => {
    const copy = await temp('release-server-bad-');
    await cp(rel.dir, copy, { recursive: true });
    await writeFile(join(copy, 'server/server.mjs'), '// changed\n', { flag: 'a' });
    const prefix = await temp('release-server-badprefix-');
    const refused = await outcome(join(copy, 'runtime/node'), [
      join(copy, SERVER_ENTRY_POINTS.installer),
      '--from',
      copy,
      '--prefix',
      prefix,
    ]);
    expect(refused.code).toBe(5);
    expect(refused.stderr).toMatch(
      /server\/server\.mjs has \d+ bytes, the signed manifest says \d+|server\/server\.mjs does not match/,
    );
    await expect(stat(join(prefix, 'opt/fleet-server/current'))).rejects.toThrow();
  });
});

describe.skipIf(!unshareWorks)(
  `install the server from one file with no network${unshareWorks ? '' : ' (skipped: needs root and unshare -n)'}`,
  () => {
    it('installs with the network cut; the installed server starts, answers /healthz, takes an MQTT kiosk and backs up', async () => {
      const prefix = await temp('release-server-install-');
      const links = await run('unshare', ['-n', 'sh', '-c', 'cat /proc/net/dev']);
      expect(links.stdout).not.toMatch(/^\s*(eth|en|wl)/m);
      const installed = await run('unshare', ['-n', 'sh', rel.installer, '--prefix', prefix], { timeout: 120_000 });
      expect(installed.stdout).toContain(`fleet server release ${rel.version} (${rel.arch}) installed`);
      expect(await readlink(join(prefix, 'opt/fleet-server/current'))).toBe(`releases/${rel.version}`);
      for (const dir of ['var/lib/fleet-server', 'var/backups/fleet-server'])
        expect((await stat(join(prefix, dir))).mode & 0o777).toBe(0o700);
      const unit = await readFile(join(prefix, 'etc/systemd/system/fleet-server.service'), 'utf8');
      expect(unit).toContain(`ExecStart=/bin/sh ${prefix}/opt/fleet-server/current/bin/fleet-server`);
      expect(unit).toContain(`Environment=DATA_DIR=${prefix}/var/lib/fleet-server`);
      expect(unit).toContain(`ReadWritePaths=-${prefix}/var/backups/fleet-server`);
      // Installing the same file again changes nothing and still succeeds.
      await run('unshare', ['-n', 'sh', rel.installer, '--prefix', prefix], { timeout: 120_000 });

      const current = join(prefix, 'opt/fleet-server/current');
      const dataDir = join(prefix, 'var/lib/fleet-server');
      const adminPassword = 'release-server-admin-password';
      const env = {
        PATH: process.env.PATH,
        DATA_DIR: dataDir,
        HTTP_HOST: '127.0.0.1',
        HTTP_PORT: '0',
        MQTT_HOST: '127.0.0.1',
        MQTT_PORT: '0',
        HTTPS_PORT: '0',
        MQTTS_PORT: '0',
        ADMIN_PASSWORD: adminPassword,
        LOG_LEVEL: 'warn',
      };
      // What the unit runs, in the installed tree's folder, with nothing of the checkout on its path.
      const child: ChildProcess = spawn('/bin/sh', [join(current, 'bin/fleet-server')], {
        cwd: current,
        env,
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      cleanups.push(async () => {
        if (child.exitCode === null) {
          child.kill('SIGKILL');
          await new Promise((r) => child.once('exit', r));
        }
      });
      let out = '';
      let err = '';
      child.stderr?.on('data', (c: Buffer) => {
        err += c.toString();
      });
      const httpUrl = await new Promise<string>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`the installed server did not start in 60 s:\n${out}\n${err}`)), 60_000);
        child.once('exit', (code) => reject(new Error(`the installed server exited with ${code}:\n${out}\n${err}`)));
        child.stdout?.on('data', (c: Buffer) => {
          out += c.toString();
          const url = /HTTP API and dashboard\s+(\S+)/.exec(out)?.[1];
          if (url && /CA fingerprint/.test(out)) {
            clearTimeout(timer);
            resolve(url);
          }
        });
      });
      expect(out.split('\n')[0]).toBe(
        `fleet-server ${rel.version} from ${join(prefix, 'opt/fleet-server/releases', rel.version)}`,
      );
      const mqttUrl = /MQTT \(TCP\)\s+(\S+)/.exec(out)?.[1] as string;

      const health = await fetch(`${httpUrl}/healthz`);
      expect(health.status).toBe(200);
      const page = await fetch(`${httpUrl}/`);
      expect(page.status).toBe(200);
      expect(await page.text()).toContain('<html');

      // A kiosk enrolled over the installed server's API connects over MQTT with its credentials.
      const fleet = await setUpFleet(httpUrl, adminPassword);
      const client = await connectDevice(mqttUrl, fleet.good.id, fleet.good.secret);
      expect(client.connected).toBe(true);
      await client.endAsync();

      // The installed backup CLI, while the server runs (online backup), then its check.
      const backupDir = await temp('release-server-backups-');
      const backup = await outcome('/bin/sh', [join(current, 'bin/fleet-server-backup'), 'backup', '--to', backupDir], env);
      expect(backup.code, backup.stderr).toBe(0);
      expect(backup.stdout).toMatch(/^Backup \S+ done and checked/);
      expect(backup.stdout).toContain('integrity_check ok');
      const verify = await outcome('/bin/sh', [join(current, 'bin/fleet-server-backup'), 'verify', backupDir], env);
      expect(verify.code, verify.stderr).toBe(0);
      expect(verify.stdout).toMatch(/is whole/);

      child.kill('SIGTERM');
      const code = await new Promise<number | null>((r) => child.once('exit', r));
      expect(code).toBe(0);
      expect(err).not.toMatch(/Error|could not start/);
    }, 180_000);
  },
);
