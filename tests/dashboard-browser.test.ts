/**
 * The department dashboard in real Chromium against the real server (createServer: SQLite file, broker,
 * auth, registry, commands) with the coverage and dashboard route modules. Screenshots go to
 * test-results/dashboard/.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { serve } from '@hono/node-server';
import { parse } from 'csv-parse/sync';
import { Hono } from 'hono';
import { pino } from 'pino';
import { type Browser, type BrowserContext, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it, onTestFailed } from 'vitest';
import { createAudit } from '../server/auth/audit.js';
import { createAuthMiddleware } from '../server/auth/auth-middleware.js';
import { type ServerConfig, testConfig } from '../server/config.js';
import { createContentRoutes } from '../server/content/content-routes.js';
import { createContentServices } from '../server/content/services.js';
import { loadOrCreateSigningKeys } from '../server/content/signing-keys.js';
import { createCoverageRoutes } from '../server/coverage/coverage-routes.js';
import { createServer, type RunningServer } from '../server/create-server.js';
import { createDashboardRoutes } from '../server/dashboard/create-dashboard-routes.js';
import { buildHttpApp, type RouteModule } from '../server/http/app.js';
import { createProvisioningRoutes } from '../server/provisioning/provisioning-routes.js';

const SHOTS = join(process.cwd(), 'test-results', 'dashboard');
const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
];
const MIN = 60_000;
const HOUR = 60 * MIN;
const DAY = 24 * HOUR;
const local = (text: string) => Date.parse(`${text}+07:00`);
const DEPARTMENT = { username: 'phong-so', password: 'mật-khẩu-sở-2026' };
const EDITOR = { username: 'bien-tap', password: 'mật-khẩu-biên-tập' };
const APPROVER = { username: 'duyet-bai', password: 'mật-khẩu-duyệt-bài' };

interface DashboardStack {
  url: string;
  /** Logs in over HTTP; returns the session cookie. */
  login(username: string, password: string): Promise<string>;
  close(): Promise<void>;
}

/**
 * The server as createServer builds it. Route modules it does not mount yet (server/http/routes.ts is
 * wired by its owner) are mounted in front of it, with the server's own auth and error mapping, and every
 * other request is passed through to it unchanged; once they are wired, the server is used directly.
 */
async function startDashboardStack(running: RunningServer, config: ServerConfig): Promise<DashboardStack> {
  const missing = async (path: string, method = 'GET') => (await fetch(`${running.httpUrl}${path}`, { method })).status === 404;
  const modules: RouteModule[] = [];
  const auth = createAuthMiddleware(running.db);
  const audit = createAudit(running.db);
  const keys = await loadOrCreateSigningKeys(config.DATA_DIR);
  const log = pino({ level: 'silent' });
  if (await missing('/api/v1/enrollment-tokens', 'POST')) {
    const urls = { publicUrl: running.httpUrl, mqttUrl: running.mqttUrl };
    const provisioning = createProvisioningRoutes({ db: running.db, log, auth, audit, urls, manifestKey: keys.publicKeyPem });
    modules.push({ path: '/api/v1', app: provisioning as unknown as RouteModule['app'] });
  }
  if (await missing('/api/v1/content')) {
    const services = createContentServices({
      db: running.db,
      dataDir: config.DATA_DIR,
      keys,
      audit,
      notifyManifest: running.notifyManifest,
    });
    modules.push({ path: '/', app: createContentRoutes({ ...services, auth }) });
  }
  if (await missing('/dashboard/app.js'))
    modules.push({ path: '/', app: createDashboardRoutes({ db: running.db, config, auth }) });
  if (await missing('/api/v1/plans')) {
    const coverage = createCoverageRoutes({
      db: running.db,
      requireRole: auth.requireRole,
      offlineAfterMs: config.OFFLINE_AFTER,
    });
    modules.push({ path: '/api/v1', app: coverage as unknown as RouteModule['app'] });
  }
  const loginAt = (url: string) => async (username: string, password: string) => {
    const response = await fetch(`${url}/api/v1/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username, password }),
    });
    expect(response.status).toBe(200);
    return (response.headers.get('set-cookie') ?? '').split(';')[0] as string;
  };
  if (modules.length === 0) return { url: running.httpUrl, login: loginAt(running.httpUrl), close: async () => {} };

  const passThrough = new Hono().all('*', async (c) => {
    const incoming = new URL(c.req.url);
    const headers = new Headers(c.req.raw.headers);
    headers.delete('host');
    headers.delete('connection');
    const hasBody = !['GET', 'HEAD'].includes(c.req.method);
    const answer = await fetch(`${running.httpUrl}${incoming.pathname}${incoming.search}`, {
      method: c.req.method,
      headers,
      body: hasBody ? await c.req.arrayBuffer() : undefined,
      redirect: 'manual',
    });
    const out = new Headers(answer.headers);
    for (const name of ['content-encoding', 'content-length', 'transfer-encoding']) out.delete(name);
    return new Response(answer.body, { status: answer.status, headers: out });
  });
  const app = buildHttpApp(
    [...modules, { path: '/', app: passThrough as unknown as RouteModule['app'] }],
    pino({ level: 'silent' }),
  );
  const front = await new Promise<Server>((resolve) => {
    const s = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }, () => resolve(s as Server));
  });
  const url = `http://127.0.0.1:${(front.address() as AddressInfo).port}`;
  return {
    url,
    login: loginAt(url),
    close: () =>
      new Promise<void>((resolve) => {
        front.closeAllConnections();
        front.close(() => resolve());
      }),
  };
}

let dir: string;
let server: RunningServer;
let stack: DashboardStack;
let browser: Browser;

function seedFleet(now: number): void {
  const db = server.db;
  const insert = db.prepare(
    `INSERT INTO devices (id, site_id, kind, model, serial, status, first_seen, last_seen, online, agent_version, content_seq,
       equipped_at, created_at) VALUES (@id, @site, 'kiosk', 'KIOSK-21', @id, @status, @firstSeen, @lastSeen, @online, '1.0.0',
       @seq, @equippedAt, @firstSeen)`,
  );
  const kiosk = (id: string, site: string, equipped: string | null, lastSeen: number | null, status = 'active') =>
    insert.run({
      id,
      site,
      status,
      firstSeen: equipped ? local(`${equipped}T08:00:00`) : now - DAY,
      lastSeen,
      online: lastSeen !== null && now - lastSeen < 5 * MIN ? 1 : 0,
      seq: equipped ? 12 : null,
      equippedAt: equipped ? local(`${equipped}T09:00:00`) : null,
    });
  // By the phase 1 deadline (2025-12-31): 3 of 7 border communes equipped → 4 required → not met.
  kiosk('kiosk-iao-1', 'gl-c-iao', '2025-03-01', now - 2 * MIN);
  kiosk('kiosk-iachia-1', 'gl-c-iachia', '2025-06-01', now - HOUR);
  kiosk('kiosk-iadom-1', 'gl-c-iadom', '2025-09-01', now - 3 * DAY);
  kiosk('kiosk-ianan-1', 'gl-c-ianan', null, null, 'provisioned');
  kiosk('kiosk-s-iao-1', 'gl-s-iao', '2025-05-01', now - 30 * MIN);
  kiosk('kiosk-lethanh-1', 'gl-g-lethanh', '2025-11-01', now - 10 * MIN);
  // Three communes surveyed with coordinates; the map places them, the others are grouped by district.
  // The seed carries coordinates for every Gia Lai site; here only three are known, so the map shows both its
  // placed sites and the district-grouped fallback.
  db.prepare('UPDATE sites SET lat = NULL, lon = NULL').run();
  const place = db.prepare('UPDATE sites SET lat = ?, lon = ? WHERE id = ?');
  place.run(14.02, 107.45, 'gl-c-iao');
  place.run(13.98, 107.47, 'gl-c-iachia');
  place.run(13.74, 107.52, 'gl-c-iadom');
  // A day of health samples every 30 minutes for the Ia O kiosk, its disk filling up.
  const health = db.prepare(
    `INSERT INTO health (device_id, seq, device_ts, received_ts, cpu_load, mem_used, disk_used, disk_free, temp_c, uptime_s,
       content_seq, queue_depth) VALUES ('kiosk-iao-1', ?, ?, ?, ?, ?, ?, ?, ?, ?, 12, 0)`,
  );
  for (let i = 0; i < 48; i++) {
    const ts = now - (47 - i) * 30 * MIN;
    health.run(i + 1, ts, ts, 20 + (i % 7) * 5, 40 + (i % 5), 70 + i * 0.5, 1e9, 45 + (i % 3), 3600 + i * 1800);
  }
  db.prepare(
    `INSERT INTO device_events (device_id, ts, received_ts, source, type, severity, message)
     VALUES ('kiosk-iao-1', ?, ?, 'server', 'clock_skew', 'warning', 'device clock is 420 s off the server''s')`,
  ).run(now - 3 * HOUR + 7 * MIN, now - 3 * HOUR);
}

async function login(page: Page, who: { username: string; password: string }): Promise<void> {
  await page.goto(`${stack.url}/`);
  await page.locator('#login-form').waitFor();
  await page.fill('input[name=username]', who.username);
  await page.fill('input[name=password]', who.password);
  await page.click('#login-form button[type=submit]');
}

async function shot(page: Page, name: string): Promise<void> {
  await page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });
}

beforeAll(async () => {
  mkdirSync(SHOTS, { recursive: true });
  dir = mkdtempSync(join(tmpdir(), 'dashboard-browser-'));
  const config = testConfig({ DATA_DIR: dir, ADMIN_PASSWORD: 'admin-password-for-tests' });
  server = await createServer(config);
  seedFleet(Date.now());
  stack = await startDashboardStack(server, config);
  const admin = await stack.login('admin', 'admin-password-for-tests');
  for (const [user, role] of [
    [DEPARTMENT, 'department'],
    [EDITOR, 'editor'],
    [APPROVER, 'approver'],
  ] as const) {
    const response = await fetch(`${stack.url}/api/v1/users`, {
      method: 'POST',
      headers: { cookie: admin, 'content-type': 'application/json' },
      body: JSON.stringify({ username: user.username, role, password: user.password }),
    });
    expect(response.status).toBe(201);
  }
  browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: CHROMIUM_ARGS });
});

afterAll(async () => {
  await browser?.close();
  await stack?.close();
  await server?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('department dashboard in Chromium', () => {
  let context: BrowserContext;
  let page: Page;
  const pageErrors: string[] = [];

  beforeAll(async () => {
    context = await browser.newContext({ acceptDownloads: true, viewport: { width: 1280, height: 900 }, locale: 'vi-VN' });
    page = await context.newPage();
    page.setDefaultTimeout(10_000);
    page.on('pageerror', (error) => pageErrors.push(error.message));
  });
  afterAll(async () => {
    await context?.close();
  });

  it('asks to log in, then shows Gia Lai coverage per phase with the verdicts and the trend', async () => {
    await page.goto(`${stack.url}/`);
    await page.locator('#login-form').waitFor();
    expect(await page.locator('h1').textContent()).toBe('Đăng nhập');
    await shot(page, '01-login');

    await login(page, DEPARTMENT);
    const communes1 = page.locator('[data-phase="2020-2025"] [data-target="p1-communes"]');
    await communes1.waitFor();
    expect(await page.locator('#plan-doc').textContent()).toContain('2509/KH-UBND');
    expect(await page.locator('[data-phase="2020-2025"] h2').textContent()).toContain('31/12/2025');
    const p1 = await communes1.textContent();
    expect(p1).toContain('50% các xã biên giới');
    expect(p1).toContain('3/7 đơn vị được trang bị, cần 4');
    expect(p1).toContain('Chưa đạt');
    expect(await page.locator('[data-target="p1-gate"]').textContent()).toContain('Đạt');
    expect(await page.locator('[data-target="p2-districts"]').textContent()).toContain('Không có đơn vị trong phạm vi');
    // The trend: the actual line, the straight line to the deadline, and the projection sentence.
    const trend = page.locator('[data-trend="p2-communes"]');
    await trend.waitFor();
    expect(await trend.locator('path.actual-line').count()).toBe(1);
    expect(await trend.locator('line.plan-line').count()).toBe(1);
    expect((await trend.locator('.projection').textContent())?.length).toBeGreaterThan(10);
    await page.locator('#download-csv').waitFor();
    await shot(page, '02-coverage');
  });

  it('opens a commune from the progress table, then one of its devices with health, commands and events', async () => {
    onTestFailed(async () => {
      console.log('page at failure:', page.url(), (await page.locator('main').innerText()).slice(-1500));
    });
    await page
      .locator('section.card a', { hasText: /^Ia O$/ })
      .first()
      .click();
    await page.waitForURL(/#\/site\/gl-c-iao$/);
    await page.locator('h1', { hasText: 'Điểm: Ia O' }).waitFor();
    const deviceLink = page.locator('a', { hasText: 'kiosk-iao-1' });
    await deviceLink.waitFor();
    await shot(page, '03-commune');

    await deviceLink.click();
    await page.locator('h1', { hasText: 'Thiết bị kiosk-iao-1' }).waitFor();
    expect(await page.locator('#device-facts').textContent()).toContain('KIOSK-21');
    // 24 h of raw samples: every chart draws a line.
    await page.locator('#health-charts svg path').first().waitFor();
    expect(await page.locator('#health-charts svg path').count()).toBe(4);
    expect(await page.locator('section.card', { hasText: 'Sự kiện' }).textContent()).toContain('clock_skew');
    await page.selectOption('#command-form select[name=type]', 'sync_now');
    await page.click('#command-form button[type=submit]');
    await page.locator('#command-form ~ div .ok').waitFor();
    const commands = page.locator('section.card', { hasText: 'Lệnh' }).locator('tbody tr', { hasText: 'sync_now' });
    await commands.first().waitFor();
    expect(await commands.first().textContent()).toMatch(/Đang chờ gửi|Đã gửi/);
    await shot(page, '04-device');
    await page.click('button[data-range="7d"]');
    await page.locator('button[data-range="7d"].on').waitFor();
  });

  it('filters, sorts and pages the district → commune → site table', async () => {
    await page.goto(`${stack.url}/#/sites`);
    await page.locator('#site-table tbody tr').first().waitFor();
    expect(await page.locator('#page-info').textContent()).toContain('16');
    await page.fill('#site-filter input[name=q]', 'Lệ Thanh');
    await page.click('#site-filter button[type=submit]');
    await page.waitForURL(/q=/);
    await page.locator('#page-info', { hasText: '1–2 / 2' }).waitFor();
    await page.selectOption('#site-filter select[name=state]', 'operational');
    await page.fill('#site-filter input[name=q]', '');
    await page.click('#site-filter button[type=submit]');
    await page.locator('#page-info', { hasText: '/ 4' }).waitFor();
    await page.click('th button[data-sort="lastSeen"]');
    await page.waitForURL(/sort=lastSeen/);
    await page.locator('#site-table tbody tr').first().waitFor();
    await shot(page, '05-sites');
  });

  it('lists alerts with site and since when, and draws the map grouped by district', async () => {
    await page.goto(`${stack.url}/#/alerts`);
    const table = page.locator('#alert-table');
    await table.waitFor();
    const text = await table.textContent();
    expect(text).toContain('kiosk-iadom-1');
    expect(text).toContain('Ia Dom');
    expect(text).toContain('Lệch đồng hồ');
    await shot(page, '06-alerts');

    await page.goto(`${stack.url}/#/map`);
    onTestFailed(async () => console.log('map at failure:', (await page.locator('main').innerText()).slice(-800)));
    await page.locator('#district-groups rect').first().waitFor();
    expect(await page.locator('#site-map circle').count()).toBe(3);
    expect(await page.locator('#site-map circle[fill="#1b7f3b"]').count()).toBe(2); // Ia O, Ia Chía operational
    expect(await page.locator('#district-groups rect').count()).toBe(13);
    expect(await page.locator('#district-groups figcaption').allTextContents()).toEqual(
      expect.arrayContaining([expect.stringContaining('Đức Cơ'), expect.stringContaining('Chư Prông')]),
    );
    await shot(page, '07-map');

    // Drawn again with nothing changed: the browser revalidates the map with its ETag and gets 304, no body (the
    // page's fetch then sees the cached 200, which is what Playwright reports as the status).
    const seen: Array<{ ifNoneMatch: string | undefined; bodyBytes: number }> = [];
    const onResponse = async (res: import('playwright-core').Response) => {
      if (!res.url().endsWith('/api/v1/dashboard/map')) return;
      await res.finished();
      const request = res.request();
      seen.push({
        ifNoneMatch: (await request.allHeaders())['if-none-match'],
        bodyBytes: (await request.sizes()).responseBodySize,
      });
    };
    page.on('response', onResponse);
    await page.goto(`${stack.url}/#/alerts`);
    await page.locator('#alert-table').waitFor();
    await page.goto(`${stack.url}/#/map`);
    await page.locator('#district-groups rect').first().waitFor();
    await expect.poll(() => seen.length).toBeGreaterThan(0);
    page.off('response', onResponse);
    expect(seen[0]?.ifNoneMatch).toMatch(/^"map-/);
    expect(seen[0]?.bodyBytes).toBe(0);
    expect(await page.locator('#site-map circle').count()).toBe(3);
  });

  it('downloads the CSV report with Vietnamese names intact', async () => {
    onTestFailed(async () => {
      console.log('page at failure:', page.url(), (await page.locator('main').innerText()).slice(-1500));
    });
    await page.goto(`${stack.url}/#/coverage`);
    await page.locator('#download-csv').waitFor();
    const [download] = await Promise.all([page.waitForEvent('download'), page.click('#download-csv')]);
    const bytes = readFileSync((await download.path()) as string);
    expect([...bytes.subarray(0, 3)]).toEqual([0xef, 0xbb, 0xbf]);
    const rows: string[][] = parse(bytes.toString('utf8'), { bom: true, relax_column_count: true, skip_empty_lines: true });
    expect(rows.find((r) => r[0] === 'Kế hoạch / Plan')?.[1]).toBe('2509/KH-UBND');
    const communes = rows.filter((r) => r.length > 10 && /^gl-|^\d{5}$/.test(r[2] ?? ''));
    expect(communes.map((r) => r[1]).sort()).toEqual(['Ia Chía', 'Ia Dom', 'Ia Mơ', 'Ia Nan', 'Ia O', 'Ia Pnôn', 'Ia Púch']);
    expect(communes.find((r) => r[1] === 'Ia O')?.[0]).toBe('Ia Grai');
    expect(communes.find((r) => r[1] === 'Ia Dom')?.[0]).toBe('Đức Cơ');
    expect(communes.find((r) => r[1] === 'Ia O')?.[3]).toBe('Có / Yes');
    expect(communes.find((r) => r[1] === 'Ia Nan')?.[3]).toBe('Chưa / No');
  });

  it('switches to English and back', async () => {
    await page.click('#lang');
    await page.locator('h1', { hasText: 'Coverage against the plan' }).waitFor();
    expect(await page.locator('#nav').textContent()).toContain('Alerts');
    await page.locator('[data-target="p1-communes"]', { hasText: 'Not met' }).waitFor();
    await shot(page, '08-english');
    await page.click('#lang');
    await page.locator('h1', { hasText: 'Độ phủ theo kế hoạch' }).waitFor();
    expect(pageErrors).toEqual([]);
  });
});

describe('admin screens: users, audit, enrollment tokens, pairing, content approval', () => {
  it('creates a user, shows the audit log, makes a token with its QR, claims a pairing code and approves content', async () => {
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    const page = await context.newPage();
    page.setDefaultTimeout(15_000);
    const pageErrors: string[] = [];
    page.on('pageerror', (error) => pageErrors.push(error.message));
    try {
      // Content written and submitted by the editor over the API, to be approved in the browser.
      const editor = await stack.login(EDITOR.username, EDITOR.password);
      const json = { cookie: editor, 'content-type': 'application/json' };
      const created = await fetch(`${stack.url}/api/v1/content`, {
        method: 'POST',
        headers: json,
        body: JSON.stringify({ kind: 'bulletin' }),
      });
      expect(created.status).toBe(201);
      const item = (await created.json()) as { id: string };
      const translation = await fetch(`${stack.url}/api/v1/content/${item.id}/translations/vi`, {
        method: 'PUT',
        headers: json,
        body: JSON.stringify({ title: 'Bản tin biên giới tháng 11', summary: 'Tóm tắt', body: 'Nội dung bản tin.' }),
      });
      expect(translation.status).toBe(200);
      expect(
        (await fetch(`${stack.url}/api/v1/content/${item.id}/submit`, { method: 'POST', headers: json, body: '{}' })).status,
      ).toBe(200);
      // A kiosk asks for a pairing code and shows it on its screen.
      const pairing = await fetch(`${stack.url}/api/v1/pairing`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ facts: { serial: 'SN-77', model: 'KIOSK-21', mac: '02:00:00:00:00:77', hostname: 'kiosk-77' } }),
      });
      expect(pairing.status).toBe(201);
      const { code } = (await pairing.json()) as { code: string };

      await login(page, { username: 'admin', password: 'admin-password-for-tests' });
      await page.locator('#who[data-role="admin"]').waitFor();

      await page.goto(`${stack.url}/#/users`);
      await page.locator('td', { hasText: 'phong-so' }).waitFor();
      await page.fill('form.inline input[name=username]', 'ky-thuat-1');
      await page.selectOption('form.inline select[name=role] >> nth=0', 'technician');
      await page.click('form.inline button[type=submit]');
      await page.locator('td', { hasText: 'ky-thuat-1' }).waitFor();
      await shot(page, '10-users');

      await page.goto(`${stack.url}/#/audit`);
      await page.locator('td', { hasText: 'user.create' }).first().waitFor();
      await shot(page, '11-audit');

      await page.goto(`${stack.url}/#/tokens?site=gl-c-iapuch`);
      await page.fill('form.inline input[name=count]', '2');
      await page.click('form.inline button[type=submit]');
      const qr = page.locator('#tokens img');
      await qr.first().waitFor();
      expect(await qr.count()).toBe(2);
      // The QR images load (same origin, with the session) and are real pictures.
      await page.waitForFunction("[...document.querySelectorAll('#tokens img')].every((i) => i.complete && i.naturalWidth > 0)");
      await shot(page, '12-tokens');

      await page.goto(`${stack.url}/#/pairing`);
      await page.fill('form.inline input[name=code]', 'NOSUCH');
      await page.fill('form.inline input[name=siteId]', 'gl-c-iapuch');
      await page.click('form.inline button[type=submit]');
      await page.locator('.error-box').waitFor();
      await page.fill('form.inline input[name=code]', code.toLowerCase());
      await page.click('form.inline button[type=submit]');
      const claimed = page.locator('p.ok');
      await claimed.waitFor();
      expect(await claimed.textContent()).toMatch(/Đã nhận thiết bị \S+/);
      await shot(page, '13-pairing');

      await page.goto(`${stack.url}/#/content`);
      const row = page.locator('#review tr', { hasText: 'Bản tin biên giới tháng 11' });
      await row.waitFor();
      // The admin is not the approver the workflow asks for: the page says so and stays usable.
      await row.locator('button[data-action="approve"]').click();
      await page.locator('.error-box', { hasText: '403' }).waitFor();
      await page.click('#logout');
      await page.locator('#login-form').waitFor();
      await page.fill('input[name=username]', APPROVER.username);
      await page.fill('input[name=password]', APPROVER.password);
      await page.click('#login-form button[type=submit]');
      await page.locator('#who[data-role="approver"]', { hasText: 'duyet-bai' }).waitFor();
      await page.goto(`${stack.url}/#/content`);
      await row.locator('button[data-action="approve"]').click();
      await page.locator('p.ok', { hasText: 'Xong.' }).waitFor();
      const state = await fetch(`${stack.url}/api/v1/content/${item.id}`, { headers: { cookie: editor } });
      expect(((await state.json()) as { current: { approvedBy: string | null } }).current.approvedBy).toBe('duyet-bai');
      await shot(page, '14-content');
      expect(pageErrors).toEqual([]);
    } catch (error) {
      console.log('page at failure:', page.url(), (await page.locator('main').innerText()).slice(-1500));
      throw error;
    } finally {
      await context.close();
    }
  });
});

describe('a user without the right role', () => {
  it('gets a clear 403 screen, not a crash', async () => {
    const context = await browser.newContext({ viewport: { width: 1100, height: 700 } });
    const page = await context.newPage();
    const pageErrors: string[] = [];
    page.on('pageerror', (error) => pageErrors.push(error.message));
    try {
      await login(page, EDITOR);
      await page.locator('#who[data-role="editor"]', { hasText: 'bien-tap' }).waitFor();
      // Fleet screens are not in an editor's menu; typed by hand, the page says why it shows nothing.
      expect(await page.locator('#nav').textContent()).not.toContain('Cảnh báo');
      await page.goto(`${stack.url}/#/alerts`);
      const screen = page.locator('#forbidden');
      await screen.waitFor();
      expect(await screen.textContent()).toContain('403');
      expect(await screen.textContent()).toContain('Không có quyền truy cập');
      const status = await page.evaluate(async () => (await fetch('/api/v1/alerts')).status);
      expect(status).toBe(403);
      await shot(page, '09-forbidden');
      expect(pageErrors).toEqual([]);
    } finally {
      await context.close();
    }
  });
});
