/**
 * Issue 16: the dashboard screen where the department enters the kiosk interface's labels for the languages nobody on
 * the team writes (Jrai, Bahnar, Xơ Đăng, Giẻ Triêng, Brâu), in real Chromium against the real server. Every label
 * key of kiosk-ui is listed with its Vietnamese text beside an input per language, what is missing is shown; a wrong
 * placeholder is refused with the server's reason; a Jrai label is saved, is there after a reload, is audited, and
 * reaches a kiosk's signed manifest. Screenshots 40–41 in test-results/dashboard/.
 */
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { labelsFor } from '../kiosk-ui/src/i18n.js';
import { DEPARTMENT_LABEL_LANGS } from '../protocol/api.js';
import { SignedManifest } from '../protocol/index.js';
import { verifyManifestSignature } from '../protocol/signature.js';
import { UI_LABEL_KEYS } from '../protocol/ui-labels.js';
import { loadOrCreateSigningKeys } from '../server/content/signing-keys.js';
import { addDevice, HttpSession, startTestServer, TEST_ADMIN_PASSWORD, type TestServer } from '../server/testing/test-server.js';
import { launchDashboardBrowser, login, rawKeys, shot } from './helpers/dashboard-browser.js';

const DEPARTMENT = { username: 'so-ngoai-vu', password: 'mật-khẩu-sở-ngoại-vụ' };
const APPROVER = { username: 'duyet-nhan', password: 'mật-khẩu-duyệt-nhãn' };
const JRAI_CHOOSE = 'Ruah hiăp';
const JRAI_PAGE = 'Hơdôm {n} / {total}';

let server: TestServer;
let admin: HttpSession;
let browser: Browser;

beforeAll(async () => {
  server = await startTestServer();
  admin = new HttpSession(server.httpUrl);
  expect((await admin.login('admin', TEST_ADMIN_PASSWORD)).status).toBe(200);
  for (const [who, role] of [
    [DEPARTMENT, 'department'],
    [APPROVER, 'approver'],
  ] as const) {
    expect((await admin.json('POST', '/api/v1/users', { username: who.username, role, password: who.password })).status).toBe(
      201,
    );
  }
  browser = await launchDashboardBrowser();
});

afterAll(async () => {
  await browser?.close();
  await server?.stop();
});

const field = (page: Page, lang: string, key: string) =>
  page.locator(`#labels-table input[data-lang="${lang}"][data-key="${key}"]`);
const header = (page: Page, lang: string) => page.locator(`#labels-table th[data-lang="${lang}"]`);

describe('kiosk interface labels in the dashboard', () => {
  it('lists every key beside its Vietnamese, saves a Jrai label that survives a reload and reaches the signed manifest', async () => {
    const context = await browser.newContext({ viewport: { width: 1500, height: 1000 }, locale: 'vi-VN' });
    const page = await context.newPage();
    page.setDefaultTimeout(15_000);
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    try {
      await login(page, server.httpUrl, DEPARTMENT);
      await page.click('#nav a[href="#/labels"]');
      await page.locator('#labels-table').waitFor();

      // Every key of kiosk-ui, each with the kiosk's own Vietnamese (a template's placeholders written {name}).
      expect(await page.locator('#labels-table tbody tr').count()).toBe(UI_LABEL_KEYS.length);
      const vi = labelsFor('vi');
      const viText = (key: string) => page.locator(`#labels-table tr[data-key="${key}"] td[lang="vi"]`).textContent();
      expect(await viText('chooseLanguage')).toBe(vi.chooseLanguage);
      expect(await viText('kind.bulletin')).toBe(vi.kind.bulletin);
      expect(await viText('page')).toBe('Trang {n} / {total}');
      // An input per language, each column saying how much is missing; an empty input shows the Vietnamese fallback.
      for (const lang of DEPARTMENT_LABEL_LANGS) {
        expect(await page.locator(`#labels-table input[data-lang="${lang}"]`).count()).toBe(UI_LABEL_KEYS.length);
        expect(await header(page, lang).textContent()).toContain(`Thiếu ${UI_LABEL_KEYS.length}/${UI_LABEL_KEYS.length}`);
      }
      expect(await field(page, 'jra', 'home').getAttribute('placeholder')).toBe(`↳ ${vi.home}`);
      expect(await field(page, 'jra', 'home').getAttribute('lang')).toBe('jra');

      // A placeholder left out is refused with the server's reason; nothing is saved.
      await field(page, 'jra', 'chooseLanguage').fill(JRAI_CHOOSE);
      await field(page, 'jra', 'page').fill('Hơdôm {n}');
      await page.click('#labels-save');
      await page.locator('[data-refusal="jra"]').waitFor();
      expect(await page.locator('#labels-status').textContent()).toContain('page must contain {total}');
      expect((await admin.json<{ labels: object }>('GET', '/api/v1/ui-labels/jra')).body.labels).toEqual({});

      // Fixed and saved.
      await field(page, 'jra', 'page').fill(JRAI_PAGE);
      await page.click('#labels-save');
      await page.locator('#labels-status [data-saved]').waitFor();
      expect(await page.locator('#labels-status').textContent()).toContain('Jrai');
      expect(await header(page, 'jra').textContent()).toContain(`Thiếu ${UI_LABEL_KEYS.length - 2}/${UI_LABEL_KEYS.length}`);
      await shot(page, '40-labels');

      // After a reload the page shows what the server holds.
      await page.reload();
      await page.locator('#labels-table').waitFor();
      expect(await field(page, 'jra', 'chooseLanguage').inputValue()).toBe(JRAI_CHOOSE);
      expect(await field(page, 'jra', 'page').inputValue()).toBe(JRAI_PAGE);
      expect(await field(page, 'jra', 'home').inputValue()).toBe('');
      expect(await header(page, 'jra').textContent()).toContain(DEPARTMENT.username);
      expect(await header(page, 'bdq').textContent()).toContain(`Thiếu ${UI_LABEL_KEYS.length}/${UI_LABEL_KEYS.length}`);
      expect(await rawKeys(page)).toEqual([]);

      // Audited (once: the refused attempt left no entry), by the department's user.
      const audit = await admin.json<{ entries: Array<{ actor: string; target: string | null; detail: unknown }> }>(
        'GET',
        '/api/v1/audit?action=ui_labels.update',
      );
      expect(audit.status).toBe(200);
      expect(audit.body.entries).toHaveLength(1);
      expect(audit.body.entries[0]).toMatchObject({ actor: DEPARTMENT.username, target: 'jra' });

      // In a kiosk's manifest, covered by the signature.
      const device = addDevice(server, 'kiosk-labels-ui-1');
      const res = await fetch(`${server.httpUrl}/api/v1/devices/${device.id}/manifest`, {
        headers: { authorization: `Basic ${Buffer.from(`${device.id}:${device.secret}`).toString('base64')}` },
      });
      expect(res.status).toBe(200);
      const signed = SignedManifest.parse(await res.json());
      expect(signed.manifest.uiLabels?.jra).toEqual({ chooseLanguage: JRAI_CHOOSE, page: JRAI_PAGE });
      const keys = await loadOrCreateSigningKeys(server.dataDir);
      expect(verifyManifestSignature(signed, keys.publicKey)).toBe(true);
      expect(errors).toEqual([]);
    } finally {
      await context.close();
    }
  });

  it('lets an approver read the labels but not change them', async () => {
    const context = await browser.newContext({ viewport: { width: 1500, height: 1000 }, locale: 'vi-VN' });
    const page = await context.newPage();
    page.setDefaultTimeout(15_000);
    try {
      await login(page, server.httpUrl, APPROVER);
      await page.goto(`${server.httpUrl}/#/labels`);
      await page.locator('#labels-table').waitFor();
      expect(await field(page, 'jra', 'chooseLanguage').inputValue()).toBe(JRAI_CHOOSE);
      expect(await field(page, 'jra', 'chooseLanguage').isDisabled()).toBe(true);
      expect(await page.locator('#labels-save').count()).toBe(0);
      await shot(page, '41-labels-read-only');
    } finally {
      await context.close();
    }
  });
});
