/**
 * The provisioning CLI run as a technician would run it (`tsx provisioning/cli.ts`, a separate process), for the
 * tests that drive it against a real server.
 */
import { spawn } from 'node:child_process';

/** Runs the CLI with `args`, PATH and `env` as its whole environment; rejects if it has not finished in 60 s. */
export function runProvisioningCli(
  args: string[],
  env: Record<string, string>,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'provisioning/cli.ts', ...args], {
      cwd: process.cwd(),
      env: { PATH: process.env.PATH ?? '', ...env },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => {
      stdout += d;
    });
    child.stderr.on('data', (d) => {
      stderr += d;
    });
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`CLI ${args.join(' ')} did not finish in 60 s\n${stdout}\n${stderr}`));
    }, 60_000);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}
