/**
 * Issue 5/7 (dashboard half): the department's content work done in the page, in real Chromium against the real server.
 * An editor creates a bulletin with Vietnamese and Khmer text and a PDF (the upload's progress bar is seen, a wrong
 * type is refused in words), previews it in the kiosk's own item view, submits; an approver sees what changed, rejects
 * once with a reason the editor then sees, approves and publishes. A real agent, enrolled with a token, is told of the
 * publication and syncs it; its kiosk page shows the bulletin in Khmer with the Khmer interface labels; opening it is
 * a play that reaches the server; the item's screen then shows the kiosk holding it and the play in its chart. Then
 * every screen is walked for raw keys. Screenshots in test-results/dashboard/.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildKioskUi } from '../kiosk-ui/build-kiosk-ui.js';
import { labelsFor } from '../kiosk-ui/src/i18n.js';
import type { ContentHolders } from '../protocol/api.js';
import { HttpSession, startTestServer, TEST_ADMIN_PASSWORD, type TestServer, waitFor } from '../server/testing/test-server.js';
import { KHMER_TITLE, makePdf, makePng } from './fixtures/kiosk/content.js';
import { DASHBOARD_SHOTS, launchDashboardBrowser, login as loginAt, rawKeys, shot } from './helpers/dashboard-browser.js';
import { type EnrolledAgent, startEnrolledAgent } from './helpers/enrolled-agent.js';

const EDITOR = { username: 'bien-tap', password: 'mật-khẩu-biên-tập' };
const APPROVER = { username: 'duyet-bai', password: 'mật-khẩu-duyệt-bài' };
const KHMER_SUMMARY = 'សេចក្តីជូនដំណឹងសម្រាប់អ្នកដំណើរឆ្លងកាត់ច្រកព្រំដែន';
const KIOSK_SITE = 'gl-c-iao';

let server: TestServer;
let admin: HttpSession;
let browser: Browser;
let uiDir: string;
let kiosk: EnrolledAgent;
/** How far the agent's clock runs ahead of the real one: moved past midnight to make today a finished day. */
let agentAheadMs = 0;
/** The bulletin the first test publishes (the kiosk test follows it). */
let publishedId: string | null = null;

beforeAll(async () => {
  server = await startTestServer();
  admin = new HttpSession(server.httpUrl);
  expect((await admin.login('admin', TEST_ADMIN_PASSWORD)).status).toBe(200);
  for (const [who, role] of [
    [EDITOR, 'editor'],
    [APPROVER, 'approver'],
  ] as const) {
    const created = await admin.json('POST', '/api/v1/users', { username: who.username, role, password: who.password });
    expect(created.status).toBe(201);
  }
  // A kiosk at the commune, online before anything is published: the publication reaches it as a notice.
  uiDir = mkdtempSync(join(tmpdir(), 'dashboard-kiosk-ui-'));
  await buildKioskUi(uiDir);
  kiosk = await startEnrolledAgent(server, admin, {
    siteId: KIOSK_SITE,
    serial: 'SN-DASHBOARD-1',
    uiDir,
    clock: () => Date.now() + agentAheadMs,
  });
  await waitFor(() => kiosk.agent.online(), 'the kiosk agent online', 15_000);
  browser = await launchDashboardBrowser();
});

afterAll(async () => {
  await browser?.close();
  await kiosk?.close();
  await server?.stop();
  if (uiDir) rmSync(uiDir, { recursive: true, force: true });
});

const login = (page: Parameters<typeof loginAt>[0], who: { username: string; password: string }) =>
  loginAt(page, server.httpUrl, who);

/** An uncaught error of a page with where it was thrown (its first stack frames). */
const pageError = (e: Error) => `${e.message} @ ${(e.stack ?? '').split('\n').slice(1, 4).join(' | ')}`;

/** Milliseconds from now to one minute past the next local midnight. */
function pastMidnightMs(): number {
  const now = new Date();
  return new Date(now.getFullYear(), now.getMonth(), now.getDate() + 1, 0, 1).getTime() - now.getTime();
}

describe('authoring a bulletin in the dashboard', () => {
  it('editor writes vi + km with a PDF, previews, submits; approver rejects with a reason, then approves and publishes', async () => {
    const editorCtx = await browser.newContext({ viewport: { width: 1400, height: 1000 }, locale: 'vi-VN' });
    const page = await editorCtx.newPage();
    page.setDefaultTimeout(15_000);
    const errors: string[] = [];
    const cspViolations: string[] = [];
    page.on('pageerror', (e) => errors.push(pageError(e)));
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
      review.on('pageerror', (e) => errors.push(pageError(e)));
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
      publishedId = id;
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
  }, 60_000);

  it('a real agent syncs it; the kiosk shows it in Khmer with Khmer labels; the item screen shows the holder and its first play', async () => {
    const id = publishedId;
    if (!id) throw new Error('needs the bulletin published by the test before');
    const agent = kiosk.agent;
    const deviceId = kiosk.enrollment.deviceId;
    // The publication's notice made the agent sync (nothing forced here): the bulletin and its PDF are on the kiosk.
    await waitFor(
      () => agent.current()?.signed.manifest.items.some((i) => i.id === id),
      'the agent applying the manifest with the bulletin',
      30_000,
      100,
    );

    // The kiosk page on the agent's local server; `?stats=1` posts the page's view counts every second.
    const kioskCtx = await browser.newContext({ viewport: { width: 1080, height: 1920 } });
    const screen = await kioskCtx.newPage();
    screen.setDefaultTimeout(15_000);
    const kioskErrors: string[] = [];
    screen.on('pageerror', (e) => kioskErrors.push(pageError(e)));
    try {
      await screen.goto(`${kiosk.kioskUrl}/?stats=1`);
      await screen.locator('main[data-screen="languages"]').waitFor();
      await screen.locator('.language[lang="km"]').click();
      const card = screen.locator(`.card[data-item="${id}"]`);
      await card.waitFor();
      // Khmer interface labels (kiosk-ui/src/i18n.ts), and the item's Khmer title.
      const km = labelsFor('km');
      expect(await screen.locator('html').getAttribute('lang')).toBe('km');
      expect(await screen.locator('#topics-h').textContent()).toBe(km.topics);
      expect(await screen.locator('#kinds-h').textContent()).toBe(km.kinds);
      expect(await screen.locator('[data-testid="home"]').textContent()).toBe(km.home);
      expect(await screen.locator('[data-testid="online"]').textContent()).toBe(km.online);
      expect(await card.locator('.card-kind').textContent()).toBe(km.kind.bulletin);
      expect(await card.locator('.card-title').textContent()).toBe(KHMER_TITLE);
      expect(await card.locator('.card-title').getAttribute('lang')).toBe('km');
      await shot(screen, '30-kiosk-km');

      // Opening it is a play: shown in Khmer with its PDF; leaving it ends the view, which the page posts to the agent.
      await card.click();
      await screen.locator(`article.item[data-item="${id}"][data-shown-lang="km"]`).waitFor();
      expect(await screen.locator('h1.top-title').textContent()).toBe(KHMER_TITLE);
      await screen.locator('[data-testid="pdf-canvas"][data-rendered-page="1"]').waitFor();
      await shot(screen, '31-kiosk-item-km');
      const posted = screen.waitForResponse((r) => r.url().endsWith('/local/stats') && r.status() === 204);
      await screen.locator('[data-testid="home"]').click();
      await posted;
      expect(kioskErrors).toEqual([]);
    } finally {
      await kioskCtx.close();
    }

    // The agent sends only finished days (agent/view-stats.ts): its clock is moved past midnight, and the next
    // health tick (what its timer does) sends today's count.
    agentAheadMs = pastMidnightMs();
    const plays = await waitFor(
      async () => {
        await agent.collectHealth();
        const stats = await admin.json<{ days: Array<{ lang: string; views: number }> }>(
          'GET',
          `/api/v1/content/${encodeURIComponent(id)}/stats`,
        );
        return stats.body.days.find((d) => d.lang === 'km' && d.views >= 1);
      },
      'the play reaching the server',
      20_000,
      250,
    );
    const holders = await waitFor(
      async () => {
        const res = await admin.json<ContentHolders>('GET', `/api/v1/content/${encodeURIComponent(id)}/holders`);
        return res.body.devices.find((d) => d.deviceId === deviceId && d.holds && d.syncState === 'applied');
      },
      'the kiosk reported holding the bulletin',
      15_000,
      100,
    );
    expect(holders.siteId).toBe(KIOSK_SITE);

    // Back in the dashboard: the item's screen lists the kiosk holding it with its sync state, and the play.
    const ctx = await browser.newContext({ viewport: { width: 1400, height: 1000 }, locale: 'vi-VN' });
    const page = await ctx.newPage();
    page.setDefaultTimeout(15_000);
    try {
      await login(page, APPROVER);
      await page.goto(`${server.httpUrl}/#/item/${encodeURIComponent(id)}`);
      const row = page.locator('#holders tbody tr', { hasText: deviceId });
      await row.waitFor();
      expect(await row.textContent()).toContain('Đã có trên ki-ốt');
      expect(await row.locator('td').nth(3).textContent()).not.toBe('—');
      const bar = page.locator('#plays-chart rect[data-lang="km"]');
      await bar.waitFor();
      expect(Number(await bar.getAttribute('data-views'))).toBe(plays.views);
      // The two cards in view (the whole item page is long): which kiosks hold it, and its plays.
      await page.locator('#holders').scrollIntoViewIfNeeded();
      await page.screenshot({ path: join(DASHBOARD_SHOTS, '32-item-holders.png') });
      expect(await rawKeys(page)).toEqual([]);
    } finally {
      await ctx.close();
    }
  }, 90_000);

  it('shows no raw key on any screen of the Vietnamese interface', async () => {
    const ctx = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    const page = await ctx.newPage();
    page.setDefaultTimeout(15_000);
    try {
      await login(page, { username: 'admin', password: TEST_ADMIN_PASSWORD });
      for (const screen of ['coverage', 'sites', 'alerts', 'map', 'content', 'labels', 'users', 'audit', 'site/gl-c-iao']) {
        await page.goto(`${server.httpUrl}/#/${screen}`);
        // Every card loaded: a condition, bounded (a screen's first request can take seconds on a loaded machine).
        // (the page's own "loading" line, not the kiosk's word for it on the labels screen)
        const loading = page.locator('main p.muted', { hasText: 'Đang tải' });
        await expect.poll(() => loading.count(), { timeout: 30_000, message: `${screen} still loading` }).toBe(0);
        const found = await rawKeys(page);
        expect({ screen, found }).toEqual({ screen, found: [] });
      }
      await shot(page, '24-users');
    } finally {
      await ctx.close();
    }
  }, 60_000);
});
