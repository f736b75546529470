/** The device's deployment files: the systemd unit's essentials, and the Chromium launcher restarting a crashed browser. */
import { execFile } from 'node:child_process';
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const root = join(import.meta.dirname, '..');
const run = promisify(execFile);

describe('deploy files', () => {
  it('the unit restarts the agent always, as an unprivileged user, on the repo entry point', async () => {
    const unit = await readFile(join(root, 'deploy', 'kiosk-agent.service'), 'utf8');
    const lines = unit.split('\n').filter((l) => !l.startsWith('#'));
    const value = (key: string): string | undefined => lines.find((l) => l.startsWith(`${key}=`))?.slice(key.length + 1);
    expect(value('Restart')).toBe('always');
    expect(value('User')).toBeDefined();
    expect(value('User')).not.toBe('root');
    expect(value('ExecStart')).toMatch(/agent\/main\.ts --config \S+$/);
    expect(value('NoNewPrivileges')).toBe('yes');
    await readFile(join(root, 'agent', 'main.ts'));
  });

  it('the launcher starts Chromium in kiosk mode on the local page and restarts it when it exits', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'launcher-'));
    const server = createServer((_req, res) => res.end('{}'));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const url = `http://127.0.0.1:${(server.address() as { port: number }).port}/`;
      const fake = join(dir, 'fake-chromium');
      const log = join(dir, 'launches.log');
      // A browser that "crashes" at once: the launcher must start it again.
      await writeFile(fake, `#!/bin/sh\necho "$*" >> ${log}\nexit 134\n`);
      await chmod(fake, 0o755);
      await run('sh', [join(root, 'deploy', 'kiosk-launcher.sh')], {
        env: { PATH: process.env.PATH, HOME: dir, CHROMIUM: fake, KIOSK_URL: url, KIOSK_MAX_LAUNCHES: '5' },
        // 2 s between launches: 8 s. A launcher whose watcher missed its TERM (it arrived before the new subshell set
        // its trap) waited out the watchdog's 90-s grace before the next launch; under load that was 1 run in 25 of
        // two launches: this times out (the timeout's SIGTERM ends the launcher cleanly, with launches missing).
        timeout: 45_000,
      });
      const launches = (await readFile(log, 'utf8')).trim().split('\n');
      expect(launches).toHaveLength(5);
      for (const args of launches) {
        expect(args).toContain(`--kiosk ${url}`);
        for (const flag of ['--no-first-run', '--disable-pinch', '--disable-translate', '--disable-session-crashed-bubble']) {
          expect(args).toContain(flag);
        }
      }
    } finally {
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await rm(dir, { recursive: true, force: true });
    }
  }, 90_000);
});
