/**
 * Agent resource use and sync efficiency, on a real agent process (agent/main.ts via tsx, real systeminformation):
 *   1. initial sync of 10 files (CPU, RSS while it runs),
 *   2. idle for IDLE_S seconds with health every 60 s (CPU %, RSS),
 *   3. a content update where 1 of 10 files changed, announced by a `manifest` notice: CPU, RSS, bytes transferred vs changed.
 * Run: npx tsx bench/agent.ts            (IDLE_S=600 FILE_MB=5 by default; results in bench/results/)
 * The broker and the content API are the test stand-ins (tests/helpers), since the bench measures the agent alone.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { topics } from '../protocol/index.js';
import { agentEnv, item } from '../tests/helpers/agent-fixture.js';
import { startBroker, startObserver, waitFor } from '../tests/helpers/agent-test-net.js';

const IDLE_S = Number(process.env.IDLE_S ?? 600);
const FILE_MB = Number(process.env.FILE_MB ?? 5);
const CLK_TCK = 100;

async function treePids(root: number): Promise<number[]> {
  const parents = new Map<number, number>();
  for (const name of await readdir('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = await readFile(`/proc/${name}/stat`, 'utf8');
      const after = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      parents.set(Number(name), Number(after[1]));
    } catch {
      // exited meanwhile
    }
  }
  const out = [root];
  for (let i = 0; i < out.length; i++) for (const [pid, ppid] of parents) if (ppid === out[i]) out.push(pid);
  return out;
}

/** CPU ticks (user+system) and RSS bytes of a process and its children (tsx's esbuild service included). */
async function usage(root: number): Promise<{ ticks: number; rss: number }> {
  let ticks = 0;
  let rss = 0;
  for (const pid of await treePids(root)) {
    try {
      const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      ticks += Number(f[11]) + Number(f[12]);
      const status = await readFile(`/proc/${pid}/status`, 'utf8');
      rss += Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1] ?? 0) * 1024;
    } catch {
      // exited meanwhile
    }
  }
  return { ticks, rss };
}

async function measure(pid: number, until: () => Promise<boolean>, maxMs: number) {
  const t0 = Date.now();
  const u0 = await usage(pid);
  let peakRss = u0.rss;
  const rssSamples: number[] = [];
  while (Date.now() - t0 < maxMs) {
    if (await until()) break;
    await new Promise((r) => setTimeout(r, 1000));
    const u = await usage(pid);
    peakRss = Math.max(peakRss, u.rss);
    rssSamples.push(u.rss);
  }
  const u1 = await usage(pid);
  const seconds = (Date.now() - t0) / 1000;
  const cpuSeconds = (u1.ticks - u0.ticks) / CLK_TCK;
  return {
    seconds: Math.round(seconds * 10) / 10,
    cpuSeconds,
    cpuPercentOfOneCore: Math.round((cpuSeconds / seconds) * 10_000) / 100,
    rssMiB: Math.round((u1.rss / 2 ** 20) * 10) / 10,
    peakRssMiB: Math.round((peakRss / 2 ** 20) * 10) / 10,
  };
}

const env = await agentEnv('kiosk-bench-1');
const broker = await startBroker({ [env.deviceId]: env.secret });
const notifier = await startObserver(broker.url);
const dataDir = join(env.dir, 'data');
const files = Array.from({ length: 10 }, () => env.api.addFile(randomBytes(FILE_MB * 2 ** 20), 'video/mp4'));
env.api.publish(
  1,
  files.map((f, i) => item(`i${i}`, f)),
);
const configPath = join(env.dir, 'agent.json');
await writeFile(configPath, JSON.stringify(env.fileConfig(broker.url)), { mode: 0o600 });
const child = spawn(process.execPath, ['--import', 'tsx', 'agent/main.ts', '--config', configPath], {
  env: { ...process.env, LOG_LEVEL: 'warn', AGENT_UI_DIR: join(env.dir, 'no-ui') },
  stdio: ['ignore', 'ignore', 'inherit'],
});
const pid = child.pid as number;
const seq = async (): Promise<number> => {
  try {
    return (JSON.parse(await readFile(join(dataDir, 'current.json'), 'utf8')) as { signed: { manifest: { seq: number } } }).signed
      .manifest.seq;
  } catch {
    return 0;
  }
};
try {
  const initialSync = await measure(pid, async () => (await seq()) === 1, 300_000);
  console.log('initial sync', initialSync);
  const idle = await measure(pid, async () => false, IDLE_S * 1000);
  console.log(`idle ${IDLE_S}s`, idle);
  const before = env.api.totalBytesServed();
  const changed = env.api.addFile(randomBytes(FILE_MB * 2 ** 20), 'video/mp4');
  const next = [...files];
  next[4] = changed;
  env.api.publish(
    2,
    next.map((f, i) => item(`i${i}`, f)),
  );
  // The server's `manifest` notice: the agent pulls at once, in the same process (no start-up in this figure).
  await notifier.client.publishAsync(topics.manifest(env.deviceId), JSON.stringify({ seq: 2 }), { qos: 1 });
  const updateSync = await measure(pid, async () => (await seq()) === 2, 300_000);
  await waitFor(async () => (await seq()) === 2, 'seq 2', 60_000);
  const transferred = env.api.totalBytesServed() - before;
  const update = { filesTotal: 10, filesChanged: 1, bytesChanged: changed.size, bytesTransferred: transferred, ...updateSync };
  console.log('update 1 of 10', update);
  child.kill('SIGTERM');
  await new Promise((r) => child.once('exit', r));
  const result = { date: new Date().toISOString(), fileMiB: FILE_MB, idleSeconds: IDLE_S, initialSync, idle, update };
  await mkdir('bench/results', { recursive: true });
  await writeFile(`bench/results/agent-${Date.now()}.json`, `${JSON.stringify(result, null, 2)}\n`);
} finally {
  if (child.exitCode === null) child.kill('SIGKILL');
  await notifier.close();
  await broker.close();
  await env.cleanup();
}
