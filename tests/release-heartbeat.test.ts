/**
 * The browser's heartbeat as one of a new release's proofs (AGENT_UPDATE_HEARTBEAT=1, docs/releases.md "Prove"),
 * end to end: a real server (in process), two kiosks as real agent processes started through the boot guard
 * (`bin/kiosk-boot`) by a supervisor playing systemd (Restart=always), each serving the real kiosk page
 * (kiosk-ui/dist) on a fixed local port. Kiosk "dark" has no browser: its update to 1.0.1 is connected, acknowledged
 * and served, yet never sees a heartbeat, so it must be rolled back with that reason reported to the server. Kiosk
 * "lit" has real Chromium (playwright-core, /usr/bin/chromium, headless) on its kiosk page, which beats the old agent
 * and then the new one: its update must commit. The slots are minimal releases built here (bin/kiosk-agent runs this
 * tree's agent with tsx), signed with the server's keyring.
 */
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, readlink, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Browser, chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SignedRelease } from '../protocol/index.js';
import { enrollmentKeys, loadOrCreateSigningKeys } from '../server/content/index.js';
import {
  addDevice,
  HttpSession,
  startTestServer,
  TEST_ADMIN_PASSWORD,
  type TestServer,
  waitFor,
} from '../server/testing/test-server.js';
import { freePort } from './helpers/agent-test-net.js';
import {
  installReleaseSlot,
  putMissingFiles,
  signWithServerKeyring,
  superviseBootGuard,
  testReleaseManifest,
} from './helpers/test-release.js';

const REPO = join(import.meta.dirname, '..');
const UI_DIR = join(REPO, 'kiosk-ui', 'dist');
const CHROMIUM = '/usr/bin/chromium';
const unavailable = !existsSync(CHROMIUM)
  ? `${CHROMIUM} is missing (tools/ensure-system-packages.sh installs it)`
  : !existsSync(join(UI_DIR, 'index.html'))
    ? 'kiosk-ui/dist is not built (npm run build:kiosk-ui)'
    : null;
if (unavailable) console.warn(`tests/release-heartbeat.test.ts skipped: ${unavailable}`);
const PROVE_S = 30;

let server: TestServer;
let admin: HttpSession;
let work: string;
let browser: Browser | null = null;
const stops: Array<() => Promise<void>> = [];

async function makeRelease(version: string): Promise<{ signed: SignedRelease; files: Map<string, Buffer> }> {
  const files = new Map<string, Buffer>([
    ['agent/notes.txt', Buffer.from(`agent of ${version}\n`)],
    [
      'bin/kiosk-agent',
      Buffer.from(`#!/bin/sh\ncd ${REPO}\nexec ${process.execPath} --import tsx ${join(REPO, 'agent', 'main.ts')} "$@"\n`),
    ],
    ['runtime/node', randomBytes(4096)],
  ]);
  const initial = await loadOrCreateSigningKeys(server.dataDir);
  return { signed: signWithServerKeyring(server, initial, testReleaseManifest(version, files)), files };
}

async function upload(rel: { signed: SignedRelease; files: Map<string, Buffer> }): Promise<void> {
  const up = await admin.json<{ missing: string[] }>('POST', '/api/v1/releases', rel.signed);
  expect(up.status, JSON.stringify(up.body)).toBe(201);
  await putMissingFiles(server, admin, rel.files, up.body.missing);
}

/** A kiosk on `installed`: its release root, a config with a fixed kiosk port, and a supervisor restarting the guard. */
async function startKiosk(id: string, installed: { signed: SignedRelease; files: Map<string, Buffer> }) {
  const dir = await mkdtemp(join(work, `${id}-`));
  const root = join(dir, 'opt-kiosk');
  await installReleaseSlot(root, installed.signed, installed.files);
  const device = addDevice(server, id);
  const kioskPort = await freePort();
  const config = join(dir, 'agent.json');
  await writeFile(
    config,
    JSON.stringify({
      deviceId: id,
      secret: device.secret,
      siteId: 'gl-c-iao',
      mqttUrl: server.mqttUrl,
      apiUrl: server.httpUrl,
      ...enrollmentKeys(server.db),
      dataDir: join(dir, 'data'),
      kioskPort,
    }),
  );
  const guard = superviseBootGuard(root, config, () => ({
    cwd: REPO,
    env: {
      ...process.env,
      LOG_LEVEL: 'silent',
      AGENT_UI_DIR: UI_DIR,
      AGENT_HEALTH_INTERVAL_MS: '500',
      AGENT_RECONNECT_CAP_S: '1',
      AGENT_UPDATE_PROVE_S: String(PROVE_S),
      AGENT_UPDATE_HEARTBEAT: '1',
    },
    stdio: 'ignore',
  }));
  stops.push(guard.stop);
  return {
    id,
    url: `http://127.0.0.1:${kioskPort}/`,
    current: async () => (await readlink(join(root, 'current'))).split('/').pop(),
  };
}

const versionOf = (id: string) =>
  (server.db.prepare('SELECT agent_version FROM devices WHERE id = ?').pluck().get(id) as string | null) ?? null;

interface RolloutView {
  state: string;
  reason: string | null;
  failures: Array<{ deviceId: string; state: string; reason: string }>;
}

beforeAll(async () => {
  if (unavailable) return;
  work = await mkdtemp(join(tmpdir(), 'release-heartbeat-'));
  server = await startTestServer();
  admin = new HttpSession(server.httpUrl);
  await admin.login('admin', TEST_ADMIN_PASSWORD);
}, 30_000);

afterAll(async () => {
  await browser?.close().catch(() => {});
  for (const s of stops) await s().catch(() => {});
  await server?.stop();
  if (work) await rm(work, { recursive: true, force: true });
});

describe.skipIf(unavailable !== null)(
  `a new release proves itself with the browser's heartbeat${unavailable ? ` (skipped: ${unavailable})` : ''}`,
  () => {
    it('rolls back an update no browser beats for, with the reason on the server; commits the one a real Chromium page beats', async () => {
      const n = await makeRelease('1.0.0');
      const n1 = await makeRelease('1.0.1');
      const dark = await startKiosk('hb-dark', n);
      const lit = await startKiosk('hb-lit', n);
      await waitFor(() => versionOf(dark.id) === '1.0.0' && versionOf(lit.id) === '1.0.0', 'kiosks online on 1.0.0', 60_000, 200);

      // The lit kiosk's screen: real Chromium on the real kiosk page, which posts /local/heartbeat by itself.
      browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--headless', '--no-sandbox', '--disable-gpu'] });
      const page = await browser.newPage();
      await page.goto(lit.url);
      await waitFor(
        async () => ((await (await fetch(`${lit.url}local/watchdog`)).json()) as { state: string }).state === 'alive',
        'the page beating the 1.0.0 agent',
        30_000,
        250,
      );

      await upload(n1);
      const rollout = async (deviceId: string) => {
        const ro = await admin.json<{ id: string }>('POST', '/api/v1/rollouts', {
          version: '1.0.1',
          target: { scope: 'devices', deviceIds: [deviceId] },
          phases: [{ count: 1, soakS: 0, abortShare: 0 }],
        });
        expect(ro.status, JSON.stringify(ro.body)).toBe(201);
        return ro.body.id;
      };
      const roDark = await rollout(dark.id);
      const roLit = await rollout(lit.id);
      const settled = (id: string, state: string) =>
        waitFor(
          async () => {
            const v = await admin.json<RolloutView>('GET', `/api/v1/rollouts/${id}`);
            return v.body.state === state ? v.body : null;
          },
          `rollout ${id} ${state}`,
          PROVE_S * 1000 + 120_000,
          500,
        );
      const [darkView, litView] = await Promise.all([settled(roDark, 'stopped'), settled(roLit, 'completed')]);

      // Dark: the new version was up (connected, health acknowledged, page served) but no heartbeat came; the guard
      // brought 1.0.0 back and 1.0.0 reported why.
      expect(darkView.failures).toHaveLength(1);
      expect(darkView.failures[0]).toMatchObject({ deviceId: dark.id, state: 'rolled_back' });
      expect(darkView.failures[0]?.reason).toBe(`not proven within ${PROVE_S} s: no heartbeat from the browser`);
      expect(darkView.reason).toContain('no heartbeat from the browser');
      await waitFor(() => versionOf(dark.id) === '1.0.0', 'the dark kiosk reporting 1.0.0 again', 60_000, 200);
      expect(await dark.current()).toBe('1.0.0');

      // Lit: committed on the page's heartbeat, and the page beats the new agent.
      expect(litView.failures).toEqual([]);
      expect(versionOf(lit.id)).toBe('1.0.1');
      expect(await lit.current()).toBe('1.0.1');
      const states = server.db
        .prepare(`SELECT state FROM release_reports WHERE device_id = ? AND version = '1.0.1' ORDER BY ts`)
        .pluck()
        .all(lit.id);
      expect(states).toContain('committed');
      expect(states).not.toContain('rolled_back');
      const watchdog = (await (await fetch(`${lit.url}local/watchdog`)).json()) as { state: string; beats: number };
      expect(watchdog.state).toBe('alive');
      expect(watchdog.beats).toBeGreaterThan(0);
    }, 240_000);
  },
);
