/**
 * Starts the real server (`tsx server/main.ts`) as a child process on a data directory, every listener on
 * 127.0.0.1 port 0, and resolves with its MQTT URL once it printed where it listens. `wrap` runs it under
 * another program (strace, faketime): given node's argv, it returns the command to spawn.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { resolve } from 'node:path';

const ROOT = resolve(import.meta.dirname, '..', '..');

export interface ServerProcessOptions {
  dataDir: string;
  adminPassword: string;
  env?: Record<string, string>;
  wrap?: (argv: string[]) => [string, string[]];
  timeoutMs?: number;
}

export function startServerProcess(o: ServerProcessOptions): Promise<{ child: ChildProcess; mqttUrl: string }> {
  const argv = [process.execPath, '--import', 'tsx', 'server/main.ts'];
  const [command, args] = o.wrap ? o.wrap(argv) : [argv[0] as string, argv.slice(1)];
  const child = spawn(command, args, {
    cwd: ROOT,
    env: {
      ...process.env,
      DATA_DIR: o.dataDir,
      HTTP_HOST: '127.0.0.1',
      HTTP_PORT: '0',
      MQTT_HOST: '127.0.0.1',
      MQTT_PORT: '0',
      MQTTS_PORT: '0',
      HTTPS_PORT: '0',
      ADMIN_PASSWORD: o.adminPassword,
      LOG_LEVEL: 'warn',
      ...o.env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return new Promise((resolvePromise, reject) => {
    let out = '';
    let err = '';
    const timer = setTimeout(() => reject(new Error(`server did not start in time:\n${out}\n${err}`)), o.timeoutMs ?? 30_000);
    child.stderr?.on('data', (chunk: Buffer) => {
      err += chunk.toString();
    });
    child.stdout?.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      const match = /MQTT \(TCP\)\s+(mqtt:\/\/\S+)/.exec(out);
      if (match) {
        clearTimeout(timer);
        resolvePromise({ child, mqttUrl: match[1] as string });
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`server exited with ${code}:\n${out}\n${err}`));
    });
  });
}
