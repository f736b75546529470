/**
 * Issue 2/7: the dashboard over HTTPS in real Chromium that trusts the server's own CA (added to a fresh NSS
 * database, as an operator would add it to the department's browsers; no certificate errors ignored), with a
 * Secure session cookie and HSTS on the HTTPS origin only.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Browser, chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, TEST_ADMIN_PASSWORD, type TestServer } from '../server/testing/test-server.js';

let server: TestServer;
let browser: Browser;
let home: string;
beforeAll(async () => {
  server = await startTestServer();
  home = mkdtempSync(join(tmpdir(), 'chromium-home-'));
  const nssdb = join(home, '.pki', 'nssdb');
  execFileSync('mkdir', ['-p', nssdb]);
  execFileSync('certutil', ['-d', `sql:${nssdb}`, '-N', '--empty-password']);
  const caFile = join(home, 'ca.pem');
  if (!server.caPem) throw new Error('the server made no CA');
  writeFileSync(caFile, server.caPem);
  execFileSync('certutil', ['-d', `sql:${nssdb}`, '-A', '-t', 'C,,', '-n', 'fleet-ca', '-i', caFile]);
  browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu'],
    env: { ...process.env, HOME: home },
  });
});
afterAll(async () => {
  await browser?.close();
  await server?.stop();
  if (home) rmSync(home, { recursive: true, force: true });
});

describe('dashboard over HTTPS', () => {
  it('loads in Chromium trusting the CA, logs in with a Secure cookie, and sends HSTS only over HTTPS', async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    const response = await page.goto(`${server.httpsUrl}/`);
    expect(response?.status()).toBe(200);
    expect(response?.headers()['strict-transport-security']).toMatch(/max-age=\d+/);
    expect(response?.headers()['content-security-policy']).toContain("script-src 'self'");

    const login = await page.evaluate(
      async (password) =>
        (
          await fetch('/api/v1/auth/login', {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify({ username: 'admin', password }),
          })
        ).status,
      TEST_ADMIN_PASSWORD,
    );
    expect(login).toBe(200);
    const cookies = await context.cookies(server.httpsUrl);
    expect(cookies.find((c) => c.name === 'fleet_session')?.secure).toBe(true);
    await page.goto(`${server.httpsUrl}/`);
    await page.waitForFunction("document.querySelector('#nav').children.length > 0", undefined, { timeout: 15_000 });
    await context.close();

    // The plain loopback listener carries no HSTS: it would bind every port of the host name.
    const plain = await fetch(`${server.httpUrl}/`);
    expect(plain.headers.get('strict-transport-security')).toBeNull();
  });
});
