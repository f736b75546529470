/**
 * The installed kiosk agent as a child process, for the install and boot-guard tests (tests/release-install.test.ts,
 * tests/release-boot.test.ts): started from an installed tree's launcher with its data under the prefix, a free
 * kiosk port, a health sample a second, and its stderr kept for the assertions' messages. Also its enrollment with
 * the installed tree's own provisioning CLI against a real server.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { expect } from 'vitest';
import { HttpSession, startTestServer, TEST_ADMIN_PASSWORD, type TestServer } from '../../server/testing/test-server.js';
import { freePort } from './agent-test-net.js';

export interface InstalledAgent {
  child: ChildProcess;
  kioskPort: number;
  stderr(): string;
  /** SIGKILL if still running (for the test's clean-up list). */
  kill(): Promise<void>;
}

export async function startInstalledAgent(o: {
  launcher: string;
  configFile: string;
  prefix: string;
  env: NodeJS.ProcessEnv;
}): Promise<InstalledAgent> {
  const kioskPort = await freePort();
  const child = spawn(o.launcher, ['--config', o.configFile], {
    env: {
      ...o.env,
      AGENT_DATA_DIR: join(o.prefix, 'var/lib/kiosk/data'),
      AGENT_KIOSK_PORT: String(kioskPort),
      AGENT_HEALTH_INTERVAL_MS: '1000',
      LOG_LEVEL: 'warn',
    },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => {
    stderr += d.toString();
  });
  return {
    child,
    kioskPort,
    stderr: () => stderr,
    kill: async () => {
      if (child.exitCode === null) child.kill('SIGKILL');
    },
  };
}

/**
 * Starts a real server (its stop pushed to `cleanups`), makes an enrollment token for gl-c-iao as its admin, and runs
 * the installed `provision` CLI to enroll into `prefix`/etc/kiosk; resolves with the server and the CLI's output.
 */
export async function enrollWithInstalledCli(o: {
  provision: string;
  prefix: string;
  env: NodeJS.ProcessEnv;
  cleanups: Array<() => Promise<unknown>>;
}): Promise<{ server: TestServer; stdout: string; stderr: string }> {
  const server = await startTestServer();
  o.cleanups.push(() => server.stop());
  const admin = new HttpSession(server.httpUrl);
  expect((await admin.login('admin', TEST_ADMIN_PASSWORD)).status).toBe(200);
  const created = await admin.json<{ tokens: Array<{ token: string }> }>('POST', '/api/v1/enrollment-tokens', {
    siteId: 'gl-c-iao',
  });
  expect(created.status).toBe(201);
  const { stdout, stderr } = await promisify(execFile)(
    o.provision,
    [
      'enroll',
      '--server',
      server.httpUrl,
      '--token',
      created.body.tokens[0]?.token as string,
      '--dir',
      join(o.prefix, 'etc/kiosk'),
    ],
    { env: o.env, timeout: 60_000 },
  );
  return { server, stdout, stderr };
}
