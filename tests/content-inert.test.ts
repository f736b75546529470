/**
 * Issue 1/7: an editor's `webpage` item (text/html) served from the dashboard's own origin must not run as an
 * active document there. In real Chromium, with an admin's session cookie, the page's script would otherwise
 * create an admin of its own.
 */
import { type Browser, chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HttpSession, startTestServer, TEST_ADMIN_PASSWORD, type TestServer } from '../server/testing/test-server.js';

const EVIL_PAGE = `<!doctype html><html><head><meta charset="utf-8"><title>Thông báo</title></head><body>
<p>Thông báo của xã</p>
<script>
document.title = 'script ran';
fetch('/api/v1/users', { method: 'POST', headers: { 'content-type': 'application/json' },
  body: JSON.stringify({ username: 'intruder', role: 'admin' }) });
</script></body></html>`;

let server: TestServer;
let browser: Browser;
beforeAll(async () => {
  server = await startTestServer();
  browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--headless', '--no-sandbox', '--disable-gpu'] });
});
afterAll(async () => {
  await browser?.close();
  await server?.stop();
});

async function tokenFor(admin: HttpSession, username: string, role: string): Promise<string> {
  const created = await admin.json<{ password: string }>('POST', '/api/v1/users', { username, role });
  expect(created.status).toBe(201);
  const person = new HttpSession(server.httpUrl);
  expect((await person.login(username, created.body.password)).status).toBe(200);
  const token = await person.json<{ token: string }>('POST', '/api/v1/auth/tokens', { name: 'test' });
  expect(token.status).toBe(201);
  return token.body.token;
}

describe('stored HTML is inert on the server origin', () => {
  it('serves a webpage file sandboxed, nosniff, as a download; its script never runs with the admin cookie', async () => {
    const admin = new HttpSession(server.httpUrl);
    const login = await admin.login('admin', TEST_ADMIN_PASSWORD);
    const cookie = (login.headers.get('set-cookie') ?? '').split(';')[0] as string;
    const editor = await tokenFor(admin, 'bien-tap', 'editor');
    const asEditor = (method: string, path: string, body?: string, type = 'application/json') =>
      fetch(`${server.httpUrl}${path}`, { method, body, headers: { authorization: `Bearer ${editor}`, 'content-type': type } });

    const created = await asEditor('POST', '/api/v1/content', JSON.stringify({ kind: 'webpage' }));
    expect(created.status).toBe(201);
    const { id } = (await created.json()) as { id: string };
    expect((await asEditor('PUT', `/api/v1/content/${id}/translations/vi`, JSON.stringify({ title: 'Trang' }))).status).toBe(200);
    const upload = await asEditor('PUT', `/api/v1/content/${id}/translations/vi/file`, EVIL_PAGE, 'text/html');
    expect(upload.status).toBe(201);
    const { file } = (await upload.json()) as { file: { sha256: string } };
    const fileUrl = `${server.httpUrl}/api/v1/content/files/${file.sha256}`;

    const served = await fetch(fileUrl, { headers: { cookie } });
    expect(served.status).toBe(200);
    expect(served.headers.get('x-content-type-options')).toBe('nosniff');
    expect(served.headers.get('content-security-policy')).toMatch(/^sandbox;/);
    expect(served.headers.get('content-disposition')).toBe('attachment');

    const context = await browser.newContext({ acceptDownloads: false });
    const { hostname } = new URL(server.httpUrl);
    const [name, value] = cookie.split('=') as [string, string];
    await context.addCookies([{ name, value, domain: hostname, path: '/', httpOnly: true, sameSite: 'Lax' }]);
    const page = await context.newPage();
    // Opened in a frame of a dashboard page too, the way an embed would try it.
    await page.goto(`${server.httpUrl}/`);
    await page.evaluate(
      `document.body.append(Object.assign(document.createElement('iframe'), { src: ${JSON.stringify(fileUrl)} }))`,
    );
    await page.goto(fileUrl).catch(() => {}); // a download aborts the navigation
    await page.waitForTimeout(1500);
    expect(await page.title()).not.toBe('script ran');
    await context.close();

    const users = await admin.json<{ users: Array<{ username: string }> }>('GET', '/api/v1/users');
    expect(users.body.users.map((u) => u.username)).not.toContain('intruder');
  });

  it('gives the dashboard a CSP (own scripts only, no framing) under which it still renders without violations', async () => {
    const page = await fetch(`${server.httpUrl}/`);
    const csp = page.headers.get('content-security-policy') ?? '';
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain("frame-ancestors 'none'");
    expect(page.headers.get('x-content-type-options')).toBe('nosniff');

    const admin = new HttpSession(server.httpUrl);
    const login = await admin.login('admin', TEST_ADMIN_PASSWORD);
    const [name, value] = ((login.headers.get('set-cookie') ?? '').split(';')[0] as string).split('=') as [string, string];
    const context = await browser.newContext();
    await context.addCookies([{ name, value, domain: new URL(server.httpUrl).hostname, path: '/', httpOnly: true }]);
    const tab = await context.newPage();
    const violations: string[] = [];
    tab.on('console', (message) => {
      if (/Content Security Policy/i.test(message.text())) violations.push(message.text());
    });
    await tab.goto(`${server.httpUrl}/`);
    await tab.waitForFunction("document.querySelector('#nav').children.length > 0", undefined, { timeout: 15_000 });
    await tab.waitForTimeout(500);
    expect(violations).toEqual([]);
    await context.close();
  });
});
