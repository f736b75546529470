/**
 * The real health source on this machine: plausible readings, and no process started to get them (a health sample
 * every minute on a kiosk must not fork the agent; systeminformation's currentLoad ran `sh -c 'cat /proc/stat | grep
 * cpu'` each time). Counted with strace in a child process; skipped with the reason when strace is missing.
 */
import { execFile, execFileSync } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { parseMeminfo, parseProcStat, systemHealthSource } from './health-source.js';

const run = promisify(execFile);
const REPO = join(import.meta.dirname, '..');
let strace: string | null = null;
try {
  execFileSync('strace', ['-V'], { stdio: 'ignore' });
  strace = 'strace';
} catch {
  console.warn('agent/health-source.test.ts: the no-process check is skipped: strace is not installed');
}

describe('system health source', () => {
  it('reads plausible values from /proc and statfs', async () => {
    const source = systemHealthSource(tmpdir());
    const first = await source.read();
    await new Promise((r) => setTimeout(r, 200));
    const second = await source.read();
    for (const r of [first, second]) {
      for (const pct of [r.cpuLoad, r.memUsed, r.diskUsed]) {
        expect(pct).toBeGreaterThanOrEqual(0);
        expect(pct).toBeLessThanOrEqual(100);
      }
      expect(r.memUsed).toBeGreaterThan(0);
      expect(r.diskFree).toBeGreaterThan(0);
      expect(r.uptimeS).toBeGreaterThan(0);
    }
  });

  it('parses the cpu line of /proc/stat and MemAvailable of /proc/meminfo', () => {
    expect(parseProcStat('cpu  100 0 50 800 50 0 0 0 0 0\ncpu0 1 2 3 4\n')).toEqual({ busy: 150, total: 1000 });
    expect(parseProcStat('intr 1 2 3\n')).toBeNull();
    expect(parseMeminfo('MemTotal:       1000 kB\nMemFree:  100 kB\nMemAvailable:    250 kB\n')).toBe(75);
    expect(parseMeminfo('MemTotal: 1000 kB\n')).toBeNull();
  });

  it.skipIf(strace === null)(
    `starts no process to take a reading${strace ? '' : ' (skipped: strace not installed)'}`,
    async () => {
      const dir = await mkdtemp(join(tmpdir(), 'health-source-'));
      try {
        const trace = join(dir, 'trace.txt');
        const script = `import { systemHealthSource } from ${JSON.stringify(join(REPO, 'agent', 'health-source.ts'))};
const s = systemHealthSource(${JSON.stringify(dir)});
for (let i = 0; i < 5; i++) { await s.read(); await new Promise((r) => setTimeout(r, 50)); }
console.log('read 5');`;
        const out = await run(
          'strace',
          [
            '-f',
            '-qq',
            '-e',
            'trace=execve',
            '-o',
            trace,
            process.execPath,
            '--import',
            'tsx',
            '--input-type=module',
            '-e',
            script,
          ],
          { cwd: REPO, timeout: 60_000 },
        );
        expect(out.stdout).toContain('read 5');
        // tsx starts esbuild (one execve); the node itself is the first. Anything else came from the readings.
        const execs = (await readFile(trace, 'utf8'))
          .split('\n')
          .filter((l) => l.includes('execve(') && !l.includes('esbuild') && !l.includes(process.execPath));
        expect(execs).toEqual([]);
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    },
    60_000,
  );
});
