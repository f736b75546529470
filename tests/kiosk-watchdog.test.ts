/**
 * The browser watchdog end to end: the real launcher (deploy/kiosk-launcher.sh) runs real Chromium (headless through
 * KIOSK_CHROMIUM_FLAGS) on the real kiosk page served by the agent's real local server; the page beats, the server's
 * watchdog (agent/watchdog.ts) knows. A page hung in `for(;;){}` and a tab whose renderer was SIGKILLed ("Aw, Snap")
 * stop the heartbeat: the launcher must restart Chromium within the bound, and the watchdog reports both episodes.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ContentStore } from '../agent/content-store.js';
import { startLocalServer } from '../agent/local-server.js';
import { BrowserWatchdog } from '../agent/watchdog.js';
import { buildKioskUi } from '../kiosk-ui/build-kiosk-ui.js';
import type { EventMessage } from '../protocol/index.js';
import { waitFor } from './helpers/agent-test-net.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
/** No heartbeat for 3 s = stale; the launcher asks every second once 6 s passed since a launch. */
const STALE_MS = 3000;
/** A hung page must be on screen again within this (stale + poll + stop + 2 s pause + start + first beat). */
const BOUND_MS = 25_000;

let tmp: string;
let profile: string;
let watchdog: BrowserWatchdog;
const events: EventMessage[] = [];
let server: { port: number; close(): Promise<void> };
let launcher: ChildProcess;
let launcherLog = '';

function procs(): Array<{ pid: number; ppid: number; cmd: string }> {
  const out: Array<{ pid: number; ppid: number; cmd: string }> = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      out.push({ pid: Number(name), ppid, cmd: readFileSync(`/proc/${name}/cmdline`, 'utf8').replaceAll('\0', ' ') });
    } catch {}
  }
  return out;
}

/** The Chromium browser process the launcher started (its direct child running chromium), or null. */
function browserPid(): number | null {
  const all = procs();
  const kid = all.find((p) => p.ppid === launcher.pid && p.cmd.includes('chromium') && p.cmd.includes(profile));
  return kid?.pid ?? null;
}

function descendants(pid: number): Array<{ pid: number; cmd: string }> {
  const all = procs();
  const out: Array<{ pid: number; cmd: string }> = [];
  const walk = (p: number) => {
    for (const c of all.filter((x) => x.ppid === p)) {
      out.push(c);
      walk(c.pid);
    }
  };
  walk(pid);
  return out;
}

/** Waits until a browser other than `old` runs and the page beats again after `since`; returns the time taken. */
async function restartedSince(old: number, since: number): Promise<number> {
  const beatsAt = watchdog.status().beats;
  await waitFor(
    () => {
      const now = browserPid();
      return now !== null && now !== old && watchdog.status().state === 'alive' && watchdog.status().beats > beatsAt;
    },
    'the launcher to restart Chromium and the page to beat again',
    BOUND_MS + 5000,
  );
  return Date.now() - since;
}

beforeAll(async () => {
  tmp = mkdtempSync(join(tmpdir(), 'kiosk-watchdog-'));
  profile = join(tmp, 'profile');
  const distDir = join(tmp, 'dist');
  await buildKioskUi(distDir);
  const store = new ContentStore(join(tmp, 'data'));
  await store.init();
  watchdog = new BrowserWatchdog({ beatIntervalMs: 500, staleAfterMs: STALE_MS, startGraceMs: 20_000 });
  watchdog.setPublisher(async (e) => {
    events.push(e);
  });
  watchdog.start();
  server = await startLocalServer(
    {
      deviceId: () => null,
      siteId: () => null,
      online: () => false,
      pairing: () => ({ code: '482913', expiresAt: '2030-01-01T00:00:00Z' }),
      current: () => null,
      clock: Date.now,
      store,
      recordViews: () => {},
      watchdog,
    },
    distDir,
    0,
  );
  launcher = spawn('sh', [join(root, 'deploy', 'kiosk-launcher.sh')], {
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: {
      PATH: process.env.PATH,
      HOME: tmp,
      CHROMIUM: '/usr/bin/chromium',
      KIOSK_URL: `http://127.0.0.1:${server.port}/`,
      KIOSK_PROFILE: profile,
      KIOSK_CHROMIUM_FLAGS: '--headless --no-sandbox --disable-gpu --remote-debugging-port=0',
      KIOSK_WATCHDOG_GRACE_S: '6',
      KIOSK_WATCHDOG_POLL_S: '1',
      KIOSK_MAX_LAUNCHES: '5',
    },
  });
  launcher.stdout?.on('data', () => {});
  launcher.stderr?.on('data', (d: Buffer) => {
    launcherLog += d.toString();
  });
}, 60_000);

afterAll(async () => {
  watchdog?.stop();
  if (launcher?.pid && launcher.exitCode === null) {
    const exited = new Promise((r) => launcher.once('exit', r));
    process.kill(-launcher.pid, 'SIGTERM');
    await Promise.race([exited, new Promise((r) => setTimeout(r, 15_000))]);
    try {
      process.kill(-launcher.pid, 'SIGKILL');
    } catch {}
  }
  await server?.close();
  if (tmp) rmSync(tmp, { recursive: true, force: true });
}, 30_000);

describe('browser watchdog (launcher + agent + real Chromium)', () => {
  it('restarts Chromium when the page hangs and when its renderer dies, within the bound, and reports both', async () => {
    await waitFor(() => watchdog.status().state === 'alive' && browserPid() !== null, 'the first heartbeat', 30_000);
    const res = await fetch(`http://127.0.0.1:${server.port}/local/watchdog`);
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ state: 'alive', page: { uptimeS: expect.any(Number) } });

    // 1. The page hangs: its JavaScript never returns.
    const first = browserPid() as number;
    const port = Number(readFileSync(join(profile, 'DevToolsActivePort'), 'utf8').split('\n')[0]);
    const cdp = await chromium.connectOverCDP(`http://127.0.0.1:${port}`);
    const page = cdp
      .contexts()[0]
      ?.pages()
      .find((p) => p.url().includes(`:${server.port}`));
    expect(page).toBeDefined();
    const hungAt = Date.now();
    void page?.evaluate('setTimeout(() => { for (;;) {} }, 0)').catch(() => {});
    await waitFor(async () => (await fetch(`http://127.0.0.1:${server.port}/local/watchdog`)).status === 503, 'stale', 10_000);
    const hangMs = await restartedSince(first, hungAt);
    void cdp.close().catch(() => {});

    // 2. The renderer is killed: Chromium itself lives on, showing a dead tab.
    const second = browserPid() as number;
    const renderers = descendants(second).filter((p) => p.cmd.includes('--type=renderer'));
    expect(renderers.length).toBeGreaterThan(0);
    const killedAt = Date.now();
    for (const r of renderers) process.kill(r.pid, 'SIGKILL');
    const crashMs = await restartedSince(second, killedAt);

    console.log(
      'kiosk watchdog',
      JSON.stringify({ staleAfterMs: STALE_MS, hangToBeatingAgainMs: hangMs, crashToBeatingAgainMs: crashMs }),
    );
    expect(hangMs).toBeLessThan(BOUND_MS);
    expect(crashMs).toBeLessThan(BOUND_MS);
    expect(launcherLog).toContain('no heartbeat from the kiosk page; restarting chromium');
    expect(events.filter((e) => e.type === 'screen_unresponsive')).toHaveLength(2);
    expect(events.filter((e) => e.type === 'screen_recovered')).toHaveLength(2);
    expect(events[0]?.message).toMatch(/last heartbeat \d{4}-\d\d-\d\dT/);
    expect(watchdog.status().staleEpisodes).toBe(2);
  }, 90_000);
});
