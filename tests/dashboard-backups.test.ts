/**
 * Issue 17 (6/7): the last backup in the dashboard's admin view (views/admin.ts, GET /api/v1/backups) — time,
 * result, size, age — marked as a warning when it failed or is older than 2 × BACKUP_INTERVAL. Real Chromium
 * (playwright-core, /usr/bin/chromium), real servers with real scheduled backups (one good, one that cannot write).
 * The page is this checkout's dashboard-ui/src, built into a temporary folder and served in front of the server
 * (the server's own static-file module), every other request passed to the server as is.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer as createHttpServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Browser, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildDashboardUi } from '../dashboard-ui/build-dashboard-ui.js';
import { createStaticFiles } from '../server/dashboard/static-files.js';
import { HttpSession, startTestServer, TEST_ADMIN_PASSWORD, type TestServer, waitFor } from '../server/testing/test-server.js';

const DAY = 86_400_000;
const scratch: string[] = [];
const closers: Array<() => Promise<unknown>> = [];
let pageDir: string;
let browser: Browser;

function temp(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  scratch.push(dir);
  return dir;
}

/** The freshly built page in front of `server`; everything that is not a page file goes to the server unchanged. */
async function front(server: TestServer): Promise<string> {
  const files = createStaticFiles(pageDir);
  const target = new URL(server.httpUrl);
  const http: Server = createHttpServer(async (req, res) => {
    const path = (req.url ?? '/').split('?')[0] as string;
    const name = path.startsWith('/dashboard/') ? path.slice('/dashboard/'.length) : null;
    if (req.method === 'GET' && (path === '/' || name !== null)) {
      const file =
        path === '/'
          ? await files.index()
          : name?.startsWith('fonts/')
            ? await files.font(name.slice('fonts/'.length))
            : await files.asset(name as string);
      if (file) {
        res.writeHead(200, { 'content-type': file.type }).end(file.body);
        return;
      }
    }
    const upstream = request(
      { host: target.hostname, port: target.port, method: req.method, path: req.url, headers: req.headers },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    upstream.on('error', () => res.writeHead(502).end());
    req.pipe(upstream);
  });
  await new Promise<void>((r) => http.listen(0, '127.0.0.1', r));
  closers.push(() => new Promise((r) => http.close(r)));
  return `http://127.0.0.1:${(http.address() as AddressInfo).port}`;
}

async function backupCard(url: string, opts: { clockAt?: number } = {}): Promise<{ page: Page; state: string | null }> {
  const context = await browser.newContext({ locale: 'vi-VN' });
  closers.push(() => context.close());
  const page = await context.newPage();
  if (opts.clockAt !== undefined) await page.clock.setFixedTime(opts.clockAt);
  await page.goto(`${url}/`);
  await page.locator('#login-form').waitFor();
  await page.fill('input[name=username]', 'admin');
  await page.fill('input[name=password]', TEST_ADMIN_PASSWORD);
  await page.click('#login-form button[type=submit]');
  await page.locator('#who', { hasText: 'admin' }).waitFor();
  await page.goto(`${url}/#/users`);
  await page.locator('#backup #backup-result').waitFor();
  return { page, state: await page.locator('#backup').getAttribute('data-backup-state') };
}

beforeAll(async () => {
  pageDir = temp('dashboard-backups-page-');
  await buildDashboardUi(pageDir);
  browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--no-first-run'],
  });
}, 120_000);

afterAll(async () => {
  for (const close of closers.reverse()) await close().catch(() => {});
  await browser?.close();
  for (const dir of scratch) rmSync(dir, { recursive: true, force: true });
});

describe('the backup block in the admin view', () => {
  let good: TestServer;
  let goodUrl: string;

  beforeAll(async () => {
    good = await startTestServer({ BACKUP_DIR: join(temp('dashboard-backups-ok-'), 'backups'), BACKUP_INTERVAL: '24h' });
    closers.push(() => good.stop());
    // The first scheduled backup runs at start (there is none yet).
    const admin = new HttpSession(good.httpUrl);
    await admin.login('admin', TEST_ADMIN_PASSWORD);
    await waitFor(
      async () => (await admin.json<{ lastSuccess: unknown }>('GET', '/api/v1/backups')).body.lastSuccess,
      'the first scheduled backup',
      20_000,
    );
    goodUrl = await front(good);
  }, 60_000);

  it('shows the last good backup: time, result, size, age, next, kept — without a warning', async () => {
    const { page, state } = await backupCard(goodUrl);
    expect(state).toBe('ok');
    expect(await page.locator('#backup').getAttribute('class')).not.toContain('backup-warning');
    await expect.poll(() => page.locator('#backup-result').innerText()).toContain('Tốt (đã kiểm tra)');
    expect(await page.locator('#backup-size').innerText()).toMatch(/^\d[\d.,]* (KB|MB)$/);
    expect(await page.locator('#backup-age').innerText()).toMatch(/^\d+ phút$/);
    expect(await page.locator('#backup-kept').innerText()).toBe('1');
    expect(await page.locator('#backup-last').innerText()).not.toBe('—');
    await page.screenshot({ path: join(process.cwd(), 'test-results', 'dashboard', 'backup-ok.png') });
  }, 60_000);

  it('warns when the last good backup is older than 2 × BACKUP_INTERVAL', async () => {
    // The page's clock three days on: the same backup is now 3 × the 24 h interval old.
    const { page, state } = await backupCard(goodUrl, { clockAt: Date.now() + 3 * DAY });
    expect(state).toBe('old');
    expect(await page.locator('#backup').getAttribute('class')).toContain('backup-warning');
    expect(await page.locator('#backup-result').innerText()).toContain('Quá cũ: cũ hơn 2 × chu kỳ sao lưu (24 giờ)');
    expect(await page.locator('#backup-age').innerText()).toMatch(/^3 ngày$/);
    await page.screenshot({ path: join(process.cwd(), 'test-results', 'dashboard', 'backup-old.png') });
  }, 60_000);

  it('warns with the error when the last backup failed', async () => {
    // BACKUP_DIR under a regular file: the backup cannot make its folder and fails at start.
    const blocker = join(temp('dashboard-backups-bad-'), 'not-a-dir');
    writeFileSync(blocker, 'x');
    const bad = await startTestServer({ BACKUP_DIR: join(blocker, 'backups'), BACKUP_INTERVAL: '24h' });
    closers.push(() => bad.stop());
    const admin = new HttpSession(bad.httpUrl);
    await admin.login('admin', TEST_ADMIN_PASSWORD);
    await waitFor(
      async () => (await admin.json<{ lastFailure: unknown }>('GET', '/api/v1/backups')).body.lastFailure,
      'the failed backup',
      20_000,
    );
    const { page, state } = await backupCard(await front(bad));
    expect(state).toBe('failed');
    expect(await page.locator('#backup').getAttribute('class')).toContain('backup-warning');
    const result = await page.locator('#backup-result').innerText();
    expect(result).toMatch(/^Lỗi lúc .+: .*(ENOTDIR|not a directory)/);
    expect(await page.locator('#backup-last').innerText()).toBe('—');
    await page.screenshot({ path: join(process.cwd(), 'test-results', 'dashboard', 'backup-failed.png') });
  }, 60_000);
});
