/**
 * Idle RSS of the agent as a kiosk runs it (issue 15: goal ≤ 80 MB): a release built from this tree
 * (tools/release/cached-release.ts), installed with its one file (`install.sh --prefix DIR --no-system`), enrolled
 * against a real server (in this process, port 0) and started the way the unit starts it — the boot guard
 * `opt/kiosk/bin/kiosk-boot`, which execs the slot's `bin/kiosk-agent` on the bundled Node, updates on. Once it is
 * connected, VmRSS (and RssAnon / RssFile) of the agent process is read from
 * /proc every 5 s for `idleS` seconds.
 *
 *   npm run bench -- --only agent-rss [--agent-idle-s 180]
 *   npx tsx bench/agent-rss.ts [idleS]                     # the same, alone
 *
 * The idle figure is the median RSS of the last 60 s; RssFile is the bundled Node's own pages (code, ICU data),
 * about 34 MiB for any script on it; RssAnon is what the agent allocates.
 *
 * `healthIntervalMs` null = the settings' default interval (what an installed kiosk uses).
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { enrollmentKeys } from '../server/content/index.js';
import { addDevice, startTestServer, waitFor } from '../server/testing/test-server.js';
import { cachedRelease } from '../tools/release/cached-release.js';

const run = promisify(execFile);

export interface AgentRssOptions {
  idleS: number;
  healthIntervalMs?: number | null;
  /** The goal the figure is judged against (MiB; 80 MB = 76.3 MiB). */
  goalMiB?: number;
  /** Another release's one file (default: this tree's, cached); extra environment (experiments: NODE_OPTIONS). */
  installer?: string;
  env?: Record<string, string>;
  /** Runs after the install, before the start (experiments: another `bin/kiosk-agent`). */
  afterInstall?: (prefix: string) => Promise<void>;
  log?: (line: string) => void;
}

export interface ProcMemory {
  rssMiB: number;
  anonMiB: number;
  fileMiB: number;
}

export async function procMemory(pid: number): Promise<ProcMemory> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const kb = (name: string) => Number(new RegExp(`${name}:\\s+(\\d+) kB`).exec(status)?.[1] ?? Number.NaN);
  const mib = (k: number) => Math.round((k / 1024) * 10) / 10;
  return { rssMiB: mib(kb('VmRSS')), anonMiB: mib(kb('RssAnon')), fileMiB: mib(kb('RssFile')) };
}

export async function runAgentRss(o: AgentRssOptions) {
  const log = o.log ?? (() => {});
  const goalMiB = o.goalMiB ?? 80_000_000 / 2 ** 20;
  const rel = o.installer ? { installer: o.installer, version: o.installer } : await cachedRelease();
  const dir = await mkdtemp(join(tmpdir(), 'agent-rss-'));
  const server = await startTestServer();
  let agent: ChildProcess | null = null;
  try {
    const t0 = Date.now();
    await run('sh', [rel.installer, '--prefix', dir, '--no-system'], { timeout: 120_000 });
    const installMs = Date.now() - t0;
    await o.afterInstall?.(dir);
    const device = addDevice(server, 'rss-kiosk');
    const config = join(dir, 'etc/kiosk/agent-config.json');
    await writeFile(
      config,
      JSON.stringify({
        deviceId: device.id,
        secret: device.secret,
        siteId: 'gl-c-iao',
        mqttUrl: server.mqttUrl,
        apiUrl: server.httpUrl,
        ...enrollmentKeys(server.db),
        dataDir: join(dir, 'var/lib/kiosk/data'),
        kioskPort: 0,
      }),
      { mode: 0o600 },
    );
    agent = spawn('/bin/sh', [join(dir, 'opt/kiosk/bin/kiosk-boot'), '--config', config], {
      env: {
        PATH: process.env.PATH,
        HOME: dir,
        NODE_ENV: 'production',
        LOG_LEVEL: 'warn',
        ...(o.healthIntervalMs ? { AGENT_HEALTH_INTERVAL_MS: String(o.healthIntervalMs) } : {}),
        ...o.env,
      },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    agent.stderr?.on('data', (d: Buffer) => {
      stderr = (stderr + d.toString()).slice(-4000);
    });
    const a = agent;
    const pid = a.pid as number;
    const rows = () => server.db.prepare('SELECT count(*) FROM health WHERE device_id = ?').pluck().get(device.id) as number;
    const online = () => server.db.prepare('SELECT online FROM devices WHERE id = ?').pluck().get(device.id) === 1;
    await waitFor(() => online() || a.exitCode !== null, 'the agent connected', 60_000, 200);
    if (a.exitCode !== null) throw new Error(`the installed agent exited with ${a.exitCode}: ${stderr}`);
    const exe = await run('readlink', [`/proc/${pid}/exe`]);
    const cmdline = (await readFile(`/proc/${pid}/cmdline`, 'utf8')).split('\0').filter(Boolean).join(' ');
    log(`  agent-rss: ${cmdline} (exe ${exe.stdout.trim()}), enrolled; idle ${o.idleS} s`);
    const samples: Array<{ s: number } & ProcMemory> = [];
    const started = Date.now();
    while (Date.now() - started < o.idleS * 1000) {
      await new Promise((r) => setTimeout(r, 5000));
      if (a.exitCode !== null) throw new Error(`the agent exited with ${a.exitCode} while idle: ${stderr}`);
      samples.push({ s: Math.round((Date.now() - started) / 1000), ...(await procMemory(pid)) });
    }
    const last = samples.at(-1) as ProcMemory;
    const maxRss = Math.max(...samples.map((s) => s.rssMiB));
    // The idle figure: the median of the last minute's samples (the start-up burst is over by then).
    const tail = samples
      .filter((s) => s.s >= o.idleS - 60)
      .map((s) => s.rssMiB)
      .sort((a, b) => a - b);
    const idleRssMiB = tail[Math.floor(tail.length / 2)] ?? last.rssMiB;
    const result = {
      release: rel.version,
      installMs,
      command: cmdline,
      idleS: o.idleS,
      healthIntervalMs: o.healthIntervalMs ?? null,
      healthSamplesStored: rows(),
      idleRssMiB,
      rssMiB: last.rssMiB,
      anonMiB: last.anonMiB,
      fileMiB: last.fileMiB,
      maxRssMiB: maxRss,
      goalMiB: Math.round(goalMiB * 10) / 10,
      withinGoal: idleRssMiB <= goalMiB,
      samples,
    };
    log(
      `  agent-rss: idle RSS ${idleRssMiB} MiB (median of the last 60 s of ${o.idleS} s; last sample anon ` +
        `${last.anonMiB}, file ${last.fileMiB}), max ${maxRss} MiB, goal ${result.goalMiB} MiB (80 MB): ` +
        `${result.withinGoal ? 'met' : 'NOT met'}`,
    );
    return result;
  } finally {
    if (agent && agent.exitCode === null) {
      const gone = new Promise((r) => agent?.once('exit', r));
      agent.kill('SIGTERM');
      await Promise.race([gone, new Promise((r) => setTimeout(r, 10_000))]);
      if (agent.exitCode === null) agent.kill('SIGKILL');
    }
    await server.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

if (process.argv[1]?.endsWith('agent-rss.ts')) {
  const idleS = Number(process.argv[2] ?? 180);
  const result = await runAgentRss({ idleS, log: console.log });
  const { samples, ...summary } = result;
  console.log(JSON.stringify({ ...summary, rssEvery5s: samples.map((s) => s.rssMiB).join(' ') }, null, 2));
  process.exit(0);
}
