/**
 * Issue 5/7 (dashboard half): the department's content work done in the page, in real Chromium against the real server.
 * An editor creates a bulletin with Vietnamese and Khmer text and a PDF (the upload's progress bar is seen, a wrong
 * type is refused in words), previews it in the kiosk's own item view, submits; an approver sees what changed, rejects
 * once with a reason the editor then sees, approves and publishes. Then every screen is walked for raw keys.
 * Screenshots in test-results/dashboard/.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { type Browser, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HttpSession, startTestServer, TEST_ADMIN_PASSWORD, type TestServer } from '../server/testing/test-server.js';
import { KHMER_TITLE, makePdf, makePng } from './fixtures/kiosk/content.js';

const SHOTS = join(process.cwd(), 'test-results', 'dashboard');
const EDITOR = { username: 'bien-tap', password: 'mật-khẩu-biên-tập' };
const APPROVER = { username: 'duyet-bai', password: 'mật-khẩu-duyệt-bài' };
const KHMER_SUMMARY = 'សេចក្តីជូនដំណឹងសម្រាប់អ្នកដំណើរឆ្លងកាត់ច្រកព្រំដែន';

let server: TestServer;
let browser: Browser;

beforeAll(async () => {
  mkdirSync(SHOTS, { recursive: true });
  server = await startTestServer();
  const admin = new HttpSession(server.httpUrl);
  expect((await admin.login('admin', TEST_ADMIN_PASSWORD)).status).toBe(200);
  for (const [who, role] of [
    [EDITOR, 'editor'],
    [APPROVER, 'approver'],
  ] as const) {
    const created = await admin.json('POST', '/api/v1/users', { username: who.username, role, password: who.password });
    expect(created.status).toBe(201);
  }
  browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--headless', '--no-sandbox', '--disable-gpu'] });
});

afterAll(async () => {
  await browser?.close();
  await server?.stop();
});

async function login(page: Page, who: { username: string; password: string }): Promise<void> {
  await page.goto(`${server.httpUrl}/`);
  await page.locator('#login-form').waitFor();
  await page.fill('input[name=username]', who.username);
  await page.fill('input[name=password]', who.password);
  await page.click('#login-form button[type=submit]');
  await page.locator(`#who`, { hasText: who.username }).waitFor();
}

const shot = (page: Page, name: string) => page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });

/** Text nodes of the page that look like an identifier (`neverApplied`, `in_review`) rather than words. */
const RAW_KEYS_SCRIPT = `(() => {
  const found = [];
  const walker = document.createTreeWalker(document.querySelector('main'), NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const parent = node.parentElement;
    if (!parent || parent.closest('.mono, input, textarea')) continue;
    for (const word of (node.textContent || '').split(/[\\s,;:()·/]+/)) {
      if (/^[a-z]+[A-Z][A-Za-z]*$/.test(word) || /^(draft|in_review|published|retired|syncFailed)$/.test(word)) found.push(word);
    }
  }
  return found;
})()`;

async function rawKeys(page: Page): Promise<string[]> {
  return page.evaluate<string[]>(RAW_KEYS_SCRIPT);
}

describe('authoring a bulletin in the dashboard', () => {
  it('editor writes vi + km with a PDF, previews, submits; approver rejects with a reason, then approves and publishes', async () => {
    const editorCtx = await browser.newContext({ viewport: { width: 1400, height: 1000 }, locale: 'vi-VN' });
    const page = await editorCtx.newPage();
    page.setDefaultTimeout(15_000);
    const errors: string[] = [];
    const cspViolations: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    page.on('console', (m) => {
      if (/Content Security Policy/i.test(m.text())) cspViolations.push(m.text());
    });
    try {
      await login(page, EDITOR);
      await page.goto(`${server.httpUrl}/#/content`);
      await page.click('#new-item');
      await page.selectOption('#new-item-form select[name=kind]', 'bulletin');
      await page.click('#new-item-form button[type=submit]');
      await page.waitForURL(/#\/item\//);
      const id = decodeURIComponent(page.url().split('#/item/')[1] as string);

      // Vietnamese and Khmer text, each in its own block labelled in its own script.
      const vi = page.locator('section.translation[data-lang="vi"]');
      await vi.locator('input[name=title]').fill('Thông báo cửa khẩu Lệ Thanh');
      await vi.locator('textarea[name=summary]').fill('Giờ mở cửa mới từ tháng 12');
      await vi.locator('textarea[name=body]').fill('Cửa khẩu mở từ 7 giờ đến 19 giờ hằng ngày.');
      await vi.locator('button[data-save="vi"]').click();
      await page.locator('section.translation[data-lang="vi"] input[name=title]').waitFor();
      await page.locator('#item-fields').waitFor();
      const km = page.locator('section.translation[data-lang="km"]');
      expect(await km.locator('h3').textContent()).toBe('ភាសាខ្មែរ');
      await km.locator('input[name=title]').fill(KHMER_TITLE);
      await km.locator('textarea[name=summary]').fill(KHMER_SUMMARY);
      await km.locator('button[data-save="km"]').click();
      await page.locator('section.translation[data-lang="km"] a[data-has-file]').count();
      await page.locator('section.translation[data-lang="km"] input[name=title]').waitFor();
      expect(await page.locator('section.translation[data-lang="km"] input[name=title]').inputValue()).toBe(KHMER_TITLE);

      // A wrong type is refused in words; the PDF uploads with its progress bar.
      const kmBlock = page.locator('section.translation[data-lang="km"]');
      await kmBlock.locator('input[type=file]').setInputFiles({ name: 'anh.png', mimeType: 'image/png', buffer: makePng(8, 8) });
      await kmBlock.locator('button[data-upload="km"]').click();
      const refusal = page.locator('[data-refusal="km"]');
      await refusal.waitFor();
      expect(await refusal.textContent()).toContain('không dùng được cho loại nội dung này');
      // Padding after %%EOF makes the body large enough for the browser to report upload progress.
      const pdf = Buffer.concat([makePdf(['Thong bao - trang 1']), Buffer.alloc(6 * 1024 * 1024, 0x20)]);
      await kmBlock
        .locator('input[type=file]')
        .setInputFiles({ name: 'thong-bao.pdf', mimeType: 'application/pdf', buffer: pdf });
      await kmBlock.locator('button[data-upload="km"]').click();
      await page.locator('[data-uploaded="km"]').waitFor();
      const progress = page.locator('progress[data-progress="km"]');
      expect(await progress.isVisible()).toBe(true);
      expect(Number(await progress.getAttribute('data-sent'))).toBe(pdf.length);
      await page.locator('section.translation[data-lang="km"] a[data-has-file]').waitFor();
      await shot(page, '20-editor');

      // The preview is the kiosk's item screen, in Khmer, with the kiosk's own fonts.
      const frame = page.frameLocator('#kiosk-preview');
      await page.selectOption('select[name=preview-lang]', 'km');
      await frame.locator('article.item[data-shown-lang="km"]').waitFor();
      expect(await frame.locator('h1.top-title').textContent()).toBe(KHMER_TITLE);
      expect(await frame.locator('.summary').textContent()).toBe(KHMER_SUMMARY);
      await frame.locator('[data-testid="pdf-canvas"][data-rendered-page="1"]').waitFor();
      const khmerFont = await frame
        .locator('h1.top-title')
        .evaluate(`document.fonts.ready.then(() => document.fonts.check("16px 'Kiosk Noto Sans Khmer'", 'ព'))`);
      expect(khmerFont).toBe(true);
      await shot(page, '21-preview');

      await page.click('#item-actions button[data-action="submit"]');
      await page.locator('#item-head', { hasText: 'Chờ duyệt' }).waitFor();

      // The approver sees what changed, rejects once with a reason.
      const approverCtx = await browser.newContext({ viewport: { width: 1400, height: 1000 }, locale: 'vi-VN' });
      const review = await approverCtx.newPage();
      review.setDefaultTimeout(15_000);
      review.on('pageerror', (e) => errors.push(e.message));
      await login(review, APPROVER);
      await review.goto(`${server.httpUrl}/#/item/${encodeURIComponent(id)}`);
      const changes = review.locator('#changes');
      await changes.waitFor();
      expect(await changes.textContent()).toContain(KHMER_TITLE);
      expect(await changes.textContent()).toContain('application/pdf');
      await review.fill('#reject-form textarea[name=reason]', 'Thiếu giờ mở cửa trong bản tiếng Khmer.');
      await review.click('#reject-form button[type=submit]');
      await review.locator('#item-head', { hasText: 'Bản nháp' }).waitFor();
      await shot(review, '22-review');

      // The editor sees the reason (when the server sends it: protocol/api.ts ContentRejection), fixes, resubmits.
      await page.reload();
      await page.locator('#item-head', { hasText: 'Bản nháp' }).waitFor();
      const rejection = page.locator('#rejection');
      if ((await rejection.count()) > 0) expect(await rejection.textContent()).toContain('Thiếu giờ mở cửa');
      await page.locator('section.translation[data-lang="km"] textarea[name=body]').fill('ម៉ោង ៧ ដល់ ១៩');
      await page.click('button[data-save="km"]');
      await page.locator('section.translation[data-lang="km"] textarea[name=body]').waitFor();
      await page.click('#item-actions button[data-action="submit"]');
      await page.locator('#item-head', { hasText: 'Chờ duyệt' }).waitFor();

      await review.reload();
      await review.click('#item-actions button[data-action="approve"]');
      await review.locator('#item-actions button[data-action="publish"]').click();
      await review.locator('#item-head', { hasText: 'Đã xuất bản' }).waitFor();
      await review.locator('#plays-none, #plays-chart').first().waitFor();
      await shot(review, '23-published');
      expect(await rawKeys(review)).toEqual([]);
      await approverCtx.close();
      expect(errors).toEqual([]);
      expect(cspViolations).toEqual([]);
    } catch (error) {
      console.log('page at failure:', page.url(), (await page.locator('main').innerText()).slice(-1500));
      throw error;
    } finally {
      await editorCtx.close();
    }
  });

  it('shows no raw key on any screen of the Vietnamese interface', async () => {
    const ctx = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    const page = await ctx.newPage();
    page.setDefaultTimeout(15_000);
    try {
      await login(page, { username: 'admin', password: TEST_ADMIN_PASSWORD });
      for (const screen of ['coverage', 'sites', 'alerts', 'map', 'content', 'users', 'audit', 'site/gl-c-iao']) {
        await page.goto(`${server.httpUrl}/#/${screen}`);
        // Every card loaded (bounded: 15 s).
        const loading = page.locator('main', { hasText: 'Đang tải' });
        for (let i = 0; i < 150 && (await loading.count()) > 0; i++) await page.waitForTimeout(100);
        expect(await loading.count()).toBe(0);
        const found = await rawKeys(page);
        expect({ screen, found }).toEqual({ screen, found: [] });
      }
      await shot(page, '24-users');
    } finally {
      await ctx.close();
    }
  });
});
