/**
 * Issue 15 (4/7, dashboard half): the Releases view in real Chromium against the real server. The department uploads a
 * release as its folder (release.json signed through the server's own trust chain, and its files) with a progress bar;
 * a cancelled upload is sent again with only what is missing; a tampered release and a folder without release.json are
 * refused with a sentence. A rollout is created in the page — sites from the searchable list, two phases with their
 * share, soak time and abort threshold — and its phases are seen with their counts as kiosks report over real MQTT;
 * it is paused, resumed and aborted from the page, a kiosk's rollback is shown with its reason, and every step is in
 * the audit log. Screenshots in test-results/dashboard/40-releases-*.png.
 *
 * The page is built from this tree into a temporary folder and served in place of the server's own dashboard files
 * (Playwright routes `/` and `/dashboard/*`; everything else, the API, is the real server's), so the test sees the
 * page of the sources it runs with, not a stale `dashboard-ui/dist`.
 */
import { createHash, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { cp, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { extname, join } from 'node:path';
import type { MqttClient } from 'mqtt';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildDashboardUi } from '../dashboard-ui/build-dashboard-ui.js';
import { type ReleaseReport, type SignedRelease, topics } from '../protocol/index.js';
import { loadOrCreateSigningKeys } from '../server/content/index.js';
import { decommissionDevice } from '../server/registry/devices-repo.js';
import {
  addDevice,
  connectDevice,
  HttpSession,
  startTestServer,
  TEST_ADMIN_PASSWORD,
  type TestServer,
  waitFor,
} from '../server/testing/test-server.js';
import { launchDashboardBrowser, login, rawKeys, shot } from './helpers/dashboard-browser.js';
import { signWithServerKeyring, testReleaseManifest } from './helpers/test-release.js';

const VERSION = '1.0.1';
const RUNTIME_BYTES = 3 * 1024 * 1024;
const sha = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');

/** Kiosks: two under Ia O (the commune and its station), one at the Lệ Thanh gate (under Ia Dom), one at Ia Mơ. */
const KIOSKS = [
  { id: 'k-iao-1', site: 'gl-c-iao' },
  { id: 'k-iao-2', site: 'gl-s-iao' },
  { id: 'k-lethanh-1', site: 'gl-g-lethanh' },
  { id: 'k-iamo-1', site: 'gl-c-iamo' },
] as const;
const TARGETED = ['k-iao-1', 'k-iao-2', 'k-lethanh-1'];

let server: TestServer;
let admin: HttpSession;
let browser: Browser;
let page: Page;
let work: string;
let pageDir: string;
let releaseDir: string;
const secrets = new Map<string, string>();
const clients = new Map<string, MqttClient>();

interface RolloutView {
  id: string;
  state: string;
  phase: number;
  reason: string | null;
  phases: Array<{ devices: number; counts: Record<string, number> }>;
  failures: Array<{ deviceId: string; reason: string | null }>;
}

/** A minimal release folder as `npm run release` lays it out (release.json + files), signed by the server's keyring. */
async function writeRelease(dir: string, version: string): Promise<SignedRelease> {
  const files = new Map<string, Buffer>([
    ['agent/notes.txt', Buffer.from(`agent of ${version}\n`)],
    ['bin/kiosk-agent', Buffer.from('#!/bin/sh\nexec true\n')],
    ['runtime/node', randomBytes(RUNTIME_BYTES)],
  ]);
  const release = testReleaseManifest(version, files);
  const signed = signWithServerKeyring(server, await loadOrCreateSigningKeys(server.dataDir), release);
  for (const [path, bytes] of files) {
    await mkdir(join(dir, path, '..'), { recursive: true });
    await writeFile(join(dir, path), bytes);
  }
  await writeFile(join(dir, 'release.json'), JSON.stringify(signed));
  return signed as SignedRelease;
}

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.woff2': 'font/woff2',
  '.ttf': 'font/ttf',
};

/** Serves the page built from this tree for `/` and `/dashboard/*`, with the server's own headers (CSP and all). */
async function serveFreshPage(p: Page): Promise<void> {
  const base = server.httpUrl;
  await p.route(
    (url) => url.origin === new URL(base).origin && (url.pathname === '/' || url.pathname.startsWith('/dashboard/')),
    async (route) => {
      const { pathname } = new URL(route.request().url());
      const file = pathname === '/' ? join(pageDir, 'index.html') : join(pageDir, pathname.slice('/dashboard/'.length));
      if (pathname.includes('..') || !existsSync(file)) return route.continue();
      const original = await route.fetch();
      const headers: Record<string, string> = {
        ...original.headers(),
        'content-type': TYPES[extname(file)] ?? 'application/octet-stream',
      };
      delete headers['content-length'];
      delete headers['content-encoding'];
      delete headers.etag;
      return route.fulfill({ status: 200, headers, body: await readFile(file) });
    },
  );
}

async function rollouts(): Promise<RolloutView[]> {
  const res = await admin.json<{ rollouts: RolloutView[] }>('GET', '/api/v1/rollouts');
  expect(res.status).toBe(200);
  return res.body.rollouts;
}

function report(id: string, message: Omit<ReleaseReport, 'ts' | 'running'> & { running?: string }): Promise<void> {
  const client = clients.get(id) as MqttClient;
  const body: ReleaseReport = { running: '1.0.0', ts: Date.now(), ...message };
  return new Promise((resolve, reject) =>
    client.publish(topics.release(id), JSON.stringify(body), { qos: 1 }, (error) => (error ? reject(error) : resolve())),
  );
}

/** The release a kiosk is told to run, asked the way the agent asks it (device auth). */
async function targetOf(id: string): Promise<string | null> {
  const auth = Buffer.from(`${id}:${secrets.get(id)}`).toString('base64');
  const res = await fetch(`${server.httpUrl}/api/v1/devices/${id}/release`, { headers: { authorization: `Basic ${auth}` } });
  expect(res.status).toBe(200);
  return ((await res.json()) as { version: string | null }).version;
}

/** Opens the Releases view afresh (a reload when the page is on it already: the same hash would not redraw it). */
async function openReleases(): Promise<void> {
  if (page.url().endsWith('#/releases')) await page.reload();
  else await page.goto(`${server.httpUrl}/#/releases`);
  await page.locator('#release-upload').waitFor();
}

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'dashboard-releases-'));
  pageDir = join(work, 'page');
  const built = buildDashboardUi(pageDir);
  server = await startTestServer();
  admin = new HttpSession(server.httpUrl);
  expect((await admin.login('admin', TEST_ADMIN_PASSWORD)).status).toBe(200);
  for (const k of KIOSKS) {
    const device = addDevice(server, k.id, k.site);
    secrets.set(k.id, device.secret);
    const client = await connectDevice(server.mqttUrl, k.id, device.secret);
    clients.set(k.id, client);
    const status = { online: true, ts: Date.now(), agentVersion: '1.0.0', bootId: `boot-${k.id}` };
    await client.publishAsync(topics.status(k.id), JSON.stringify(status), { qos: 1, retain: true });
  }
  releaseDir = join(work, 'out', `${VERSION}-${process.arch}`);
  await writeRelease(releaseDir, VERSION);
  await built;
  browser = await launchDashboardBrowser();
  page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  page.setDefaultTimeout(15_000);
  await serveFreshPage(page);
  await login(page, server.httpUrl, { username: 'admin', password: TEST_ADMIN_PASSWORD });
}, 90_000);

afterAll(async () => {
  await browser?.close();
  for (const c of clients.values()) await c.endAsync().catch(() => {});
  await server?.stop();
  if (work) await rm(work, { recursive: true, force: true });
});

describe('the Releases view (issue 15, dashboard)', () => {
  it('refuses a folder without release.json and a tampered release with a sentence, nothing stored', async () => {
    await openReleases();
    const empty = join(work, 'not-a-release');
    await mkdir(empty, { recursive: true });
    await writeFile(join(empty, 'notes.txt'), 'hello');
    await page.setInputFiles('input[name=release-dir]', empty);
    await page.click('[data-release-upload]');
    expect(await page.locator('[data-release-refused]').textContent()).toContain('release.json');

    const tampered = join(work, 'tampered', `${VERSION}-${process.arch}`);
    await cp(releaseDir, tampered, { recursive: true });
    const signed = JSON.parse(await readFile(join(tampered, 'release.json'), 'utf8')) as SignedRelease;
    signed.release.files[0] = { ...(signed.release.files[0] as SignedRelease['release']['files'][number]), size: 999 };
    await writeFile(join(tampered, 'release.json'), JSON.stringify(signed));
    await page.setInputFiles('input[name=release-dir]', tampered);
    await page.click('[data-release-upload]');
    const refused = page.locator('[data-release-refused]', { hasText: 'signature does not verify' });
    await refused.waitFor();
    expect(await refused.textContent()).toContain(`release ${VERSION}: signature does not verify`);
    await shot(page, '40-releases-tampered-refused');
    const listed = await admin.json<{ releases: unknown[] }>('GET', '/api/v1/releases');
    expect(listed.body.releases).toEqual([]);
  });

  it('uploads the release folder with a progress bar; a cancelled upload sends only what is missing', async () => {
    await openReleases();
    // The upload slowed down (1 MiB/s) so that it can be seen in progress and cancelled.
    const cdp = await page.context().newCDPSession(page);
    await cdp.send('Network.enable');
    await cdp.send('Network.emulateNetworkConditions', {
      offline: false,
      latency: 0,
      downloadThroughput: -1,
      uploadThroughput: 1024 * 1024,
    });
    await page.setInputFiles('input[name=release-dir]', releaseDir);
    await page.click('[data-release-upload]');
    const progress = page.locator('[data-release-progress]');
    await expect
      .poll(async () => Number((await progress.getAttribute('data-sent')) ?? 0), { timeout: 10_000, interval: 50 })
      .toBeGreaterThan(256 * 1024);
    expect(await progress.isVisible()).toBe(true);
    await shot(page, '40-releases-upload-progress');
    await page.click('[data-release-cancel]');
    await page.locator('[data-release-cancelled]').waitFor();
    const half = await admin.json<{ complete: boolean; missing: string[] }>('GET', `/api/v1/releases/${VERSION}`);
    expect(half.body.complete).toBe(false);
    expect(half.body.missing).toContain(sha(await readFile(join(releaseDir, 'runtime', 'node'))));
    await shot(page, '40-releases-upload-cancelled');

    await cdp.send('Network.emulateNetworkConditions', {
      offline: false,
      latency: 0,
      downloadThroughput: -1,
      uploadThroughput: -1,
    });
    await page.setInputFiles('input[name=release-dir]', releaseDir);
    await page.click('[data-release-upload]');
    await page.locator(`[data-release-uploaded="${VERSION}"]`).waitFor();
    // Only the files still missing went the second time (the runtime at least; never more than the release has).
    const files = Number(/\((\d+)/.exec((await page.locator('[data-release-uploaded]').textContent()) ?? '')?.[1]);
    expect(files).toBeGreaterThanOrEqual(1);
    expect(files).toBeLessThanOrEqual(half.body.missing.length);
    expect(await page.locator(`#release-list [data-release="${VERSION}"]`).count()).toBe(1);
    const full = await admin.json<{ complete: boolean }>('GET', `/api/v1/releases/${VERSION}`);
    expect(full.body.complete).toBe(true);
    await shot(page, '40-releases-uploaded');
  });

  it('creates a rollout to sites from the list in two phases; pause, resume, a rollback with its reason, abort — audited', async () => {
    await openReleases();
    await page.selectOption('select[name=rollout-version]', VERSION);
    await page.check('input[name=rollout-scope][value=sites]');
    for (const [q, site] of [
      ['Ia O', 'gl-c-iao'],
      ['Ia Dom', 'gl-c-iadom'],
    ] as const) {
      await page.fill('input[name=site-q]', q);
      await page.check(`[data-site="${site}"]`);
    }
    expect(await page.locator('#sites-chosen').textContent()).toBe('gl-c-iao, gl-c-iadom');
    // Pilot (1 kiosk, no soak, no failure allowed), then all (abort above 50 %): the 10 % and 50 % rows removed.
    await page.click('[data-phase-remove="1"]');
    await page.click('[data-phase-remove="1"]');
    expect(await page.locator('[data-phase-row]').count()).toBe(2);
    await page.fill('tr[data-phase-row="0"] input[name=phase-soak]', '0');
    await page.fill('tr[data-phase-row="1"] input[name=phase-abort]', '50');
    await shot(page, '40-releases-rollout-form');
    await page.click('[data-rollout-create]');
    const card = page.locator('[data-rollout]');
    await card.waitFor();

    const [created] = await rollouts();
    expect(created?.state).toBe('active');
    expect(created?.phases.map((p) => p.devices)).toEqual([1, 2]);
    // The page shows the phases with their counts: 1 pilot kiosk pending, 2 in the last phase.
    const rows = card.locator('tbody tr');
    expect(await rows.count()).toBe(2);
    expect(await rows.nth(0).textContent()).toContain('pilot');
    const told = await Promise.all(KIOSKS.map(async (k) => [k.id, await targetOf(k.id)] as const));
    const pilots = told.filter(([, v]) => v === VERSION).map(([id]) => id);
    expect(pilots).toHaveLength(1);
    const pilot = pilots[0] as string;
    expect(TARGETED).toContain(pilot);
    await shot(page, '40-releases-rollout-created');

    await card.locator('[data-action=pause]').click();
    await page.locator('[data-rollout][data-state=paused]').waitFor();
    const rolloutId = created?.id as string;
    for (const state of ['downloading', 'installed', 'switched'] as const)
      await report(pilot, { version: VERSION, rolloutId, state });
    await report(pilot, { version: VERSION, rolloutId, state: 'committed', running: VERSION });
    const status = { online: true, ts: Date.now(), agentVersion: VERSION, bootId: `boot-${pilot}-2` };
    await clients.get(pilot)?.publishAsync(topics.status(pilot), JSON.stringify(status), { qos: 1, retain: true });
    await waitFor(
      async () =>
        (
          await admin.json<{ devices: Array<{ id: string; version: string | null }> }>('GET', '/api/v1/releases/fleet')
        ).body.devices.some((d) => d.id === pilot && d.version === VERSION),
      'the pilot reporting the new version',
      10_000,
    );
    await waitFor(async () => (await rollouts())[0]?.phases[0]?.counts.committed === 1, 'the pilot committed', 10_000);
    // Paused: the pilot settled, but the second phase does not open.
    await new Promise((r) => setTimeout(r, 2_500));
    expect((await rollouts())[0]?.phase).toBe(1);
    await openReleases();
    expect(await page.locator('[data-rollout] tbody tr').nth(0).locator('td').nth(6).textContent()).toBe('1');
    // The version column: the pilot reports running the new release.
    await page.locator('tr', { hasText: pilot }).locator('td', { hasText: VERSION }).waitFor();
    await shot(page, '40-releases-paused');

    await page.locator('[data-rollout] [data-action=resume]').click();
    await page.locator('[data-rollout][data-state=active]').waitFor();
    await waitFor(async () => (await rollouts())[0]?.phase === 2, 'the second phase open', 10_000);
    const second = TARGETED.filter((id) => id !== pilot);
    for (const id of second) expect(await targetOf(id)).toBe(VERSION);
    expect(await targetOf('k-iamo-1')).toBeNull();
    const reason = 'started 3 times without proving itself (it exits or hangs at start)';
    await report(second[0] as string, { version: VERSION, rolloutId, state: 'rolled_back', reason });
    await waitFor(async () => (await rollouts())[0]?.failures.length === 1, 'the rollback reported', 10_000);
    // One of two is 50 %, not over the threshold: the rollout goes on, the failure is shown with the kiosk's reason.
    expect((await rollouts())[0]?.state).toBe('active');
    await openReleases();
    const failure = page.locator('[data-rollout] table').nth(1);
    expect(await failure.textContent()).toContain(second[0] as string);
    expect(await failure.textContent()).toContain(reason);
    expect(await rawKeys(page)).toEqual([]);
    await shot(page, '40-releases-failure-reason');

    // Abort asks first: dismissed, nothing happens; accepted with a reason, the reason is the rollout's.
    page.once('dialog', (dialog) => void dialog.dismiss());
    await page.locator('[data-rollout] [data-action=abort]').click();
    expect((await rollouts())[0]?.state).toBe('active');
    const why = 'k-iao-1 rolled back: hold the update until the agent is fixed';
    page.once('dialog', (dialog) => void dialog.accept(why));
    await page.locator('[data-rollout] [data-action=abort]').click();
    await page.locator('[data-rollout][data-state=aborted]').waitFor();
    expect(await page.locator('[data-rollout] [data-reason]').textContent()).toBe(why);
    expect(await targetOf(second[1] as string)).toBeNull();
    await shot(page, '40-releases-aborted');

    const audit = await admin.json<{ entries: Array<{ actor: string; action: string; target: string | null }> }>(
      'GET',
      '/api/v1/audit?limit=100',
    );
    const steps = audit.body.entries
      .filter((e) => e.action.startsWith('release.') || e.action.startsWith('rollout.'))
      .map((e) => `${e.actor} ${e.action}`);
    for (const step of [
      'admin release.refused',
      'admin release.uploaded',
      'admin rollout.created',
      'admin rollout.paused',
      'admin rollout.resumed',
      `device:${second[0]} release.rolled_back`,
      'system rollout.phase_opened',
      'admin rollout.aborted',
    ]) {
      expect(steps).toContain(step);
    }
  }, 60_000);
});

/**
 * The rollout's target is content's targeting rule (server/content/targeting.ts, one definition): a site reaches
 * everything under it, a kind is the kind of the kiosk's own site, `all` includes a kiosk without a site, a
 * decommissioned kiosk is never reached; `sites` (the page's list) is several sites at once.
 */
describe('rollout targets (the one targeting rule)', () => {
  const VERSION_T = '1.0.2';
  const EXTRA = [
    { id: 't-iao', site: 'gl-c-iao' },
    { id: 't-iamo-st', site: 'gl-s-iamo' },
    { id: 't-nosite', site: null },
    { id: 't-gone', site: 'gl-c-iao' },
  ] as const;

  beforeAll(async () => {
    for (const k of EXTRA) secrets.set(k.id, addDevice(server, k.id, k.site).secret);
    expect(decommissionDevice(server.db, 't-gone')).toBe(true);
    const dir = join(work, 'out', `${VERSION_T}-${process.arch}`);
    const signed = await writeRelease(dir, VERSION_T);
    const up = await admin.json<{ missing: string[] }>('POST', '/api/v1/releases', signed);
    expect(up.status).toBe(201);
    for (const f of signed.release.files) {
      if (!up.body.missing.includes(f.sha256)) continue;
      const put = await fetch(`${server.httpUrl}/api/v1/releases/files/${f.sha256}`, {
        method: 'PUT',
        headers: { cookie: (admin as unknown as { cookie: string }).cookie },
        body: await readFile(join(dir, f.path)),
      });
      expect(put.status).toBe(201);
    }
  });

  /** The kiosks a one-phase rollout of `target` tells to update (asked as each kiosk asks), then it is aborted. */
  async function reach(target: unknown): Promise<string[]> {
    const ro = await admin.json<{ id: string; phases: Array<{ devices: number }> }>('POST', '/api/v1/rollouts', {
      version: VERSION_T,
      target,
      phases: [{ share: 1, soakS: 0, abortShare: 1 }],
    });
    expect(ro.status, JSON.stringify(ro.body)).toBe(201);
    // A decommissioned kiosk cannot even ask (its credentials are refused): it counts by the rollout's size.
    const ids = [...KIOSKS, ...EXTRA].map((k) => k.id).filter((id) => id !== 't-gone');
    const told = [];
    for (const id of ids) if ((await targetOf(id)) === VERSION_T) told.push(id);
    expect(ro.body.phases[0]?.devices).toBe(told.length);
    expect((await admin.json('POST', `/api/v1/rollouts/${ro.body.id}/abort`, {})).status).toBe(200);
    return told.sort();
  }

  it('reaches by all, site kind, a site with its subtree, several sites and listed kiosks', async () => {
    expect(await reach({ scope: 'all' })).toEqual(
      ['k-iamo-1', 'k-iao-1', 'k-iao-2', 'k-lethanh-1', 't-iamo-st', 't-iao', 't-nosite'].sort(),
    );
    expect(await reach({ scope: 'site_kind', kind: 'station' })).toEqual(['k-iao-2', 't-iamo-st']);
    expect(await reach({ scope: 'site', siteId: 'gl-d-iagrai' })).toEqual(['k-iao-1', 'k-iao-2', 't-iao']);
    expect(await reach({ scope: 'sites', siteIds: ['gl-c-iadom', 'gl-c-iamo'] })).toEqual([
      'k-iamo-1',
      'k-lethanh-1',
      't-iamo-st',
    ]);
    expect(await reach({ scope: 'devices', deviceIds: ['t-nosite'] })).toEqual(['t-nosite']);
  });
});
