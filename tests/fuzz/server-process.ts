/** Starts tests/fuzz/child-server.ts as a child process and watches it: exit, output tail, RSS from /proc. */
import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';

const ROOT = resolve(import.meta.dirname, '../..');

export interface ServerUrls {
  httpUrl: string;
  mqttUrl: string;
  wsUrl: string;
}

export interface ServerProcess extends ServerUrls {
  pid: number;
  child: ChildProcess;
  /** Settles when the process exits, for whatever reason. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** The last lines it printed (stdout and stderr), for the report of a crash. */
  tail(): string;
  /** SIGTERM (clean close), SIGKILL after `graceMs`. */
  stop(graceMs?: number): Promise<void>;
}

/** Resident set size of a process in MiB, or null when it is gone. */
export function rssMiB(pid: number): number | null {
  try {
    const match = /VmRSS:\s+(\d+)\s+kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) / 1024 : null;
  } catch {
    return null;
  }
}

/** The fuzzed server's V8 old-space cap (MiB). */
export const SERVER_OLD_SPACE_MIB = 256;

export function startServerProcess(dataDir: string, adminPassword: string, startTimeoutMs = 60_000): Promise<ServerProcess> {
  // The old space is capped so that RSS measures what the server keeps, not how lazily V8 collects: uncapped, V8
  // let a 10 000 + 10 000 run grow to ~600 MiB of garbage; capped at 160 MiB the same run stayed at 318 MiB and
  // passed. A leak now ends in an out-of-memory exit, which the harness reports as a crash.
  const child = spawn(
    process.execPath,
    [`--max-old-space-size=${SERVER_OLD_SPACE_MIB}`, '--import', 'tsx', 'tests/fuzz/child-server.ts'],
    {
      cwd: ROOT,
      env: { ...process.env, FUZZ_DATA_DIR: dataDir, FUZZ_ADMIN_PASSWORD: adminPassword },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  const lines: string[] = [];
  const keep = (chunk: Buffer) => {
    for (const line of chunk.toString('utf8').split('\n')) if (line.trim()) lines.push(line.slice(0, 2000));
    if (lines.length > 60) lines.splice(0, lines.length - 60);
  };
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((done) =>
    child.once('exit', (code, signal) => done({ code, signal })),
  );
  return new Promise((resolvePromise, reject) => {
    let out = '';
    let started = false;
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`the fuzz server did not start in ${startTimeoutMs} ms:\n${lines.join('\n')}`));
    }, startTimeoutMs);
    child.stderr?.on('data', keep);
    child.stdout?.on('data', (chunk: Buffer) => {
      keep(chunk);
      if (started) return;
      out += chunk.toString('utf8');
      const match = /FUZZ_SERVER (\{.*\})/.exec(out);
      if (!match) return;
      clearTimeout(timer);
      started = true;
      const info = JSON.parse(match[1] as string) as ServerUrls & { pid: number };
      resolvePromise({
        ...info,
        child,
        exited,
        tail: () => lines.join('\n'),
        async stop(graceMs = 10_000) {
          if (child.exitCode !== null || child.signalCode !== null) return;
          child.kill('SIGTERM');
          const timeout = setTimeout(() => child.kill('SIGKILL'), graceMs);
          await exited;
          clearTimeout(timeout);
        },
      });
    });
    void exited.then(({ code, signal }) => {
      clearTimeout(timer);
      reject(new Error(`the fuzz server exited during start (code ${code}, signal ${signal}):\n${lines.join('\n')}`));
    });
  });
}
