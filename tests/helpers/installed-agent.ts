/**
 * The installed kiosk agent as a child process, for the install and boot-guard tests (tests/release-install.test.ts,
 * tests/release-boot.test.ts): started from an installed tree's launcher with its data under the prefix, a free
 * kiosk port, a health sample a second, and its stderr kept for the assertions' messages.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
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
