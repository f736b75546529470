/**
 * The kiosk page (issue 6/8) in real Chromium against a stand-in for the agent's local server
 * (tests/fixtures/kiosk/local-server.ts: same paths and schemas as DESIGN §8 / protocol/local.ts), with real files.
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildKioskUi } from '../kiosk-ui/build-kiosk-ui.js';
import type { ManifestItem } from '../protocol/manifest.js';
import {
  fontsCheck,
  fontsReady,
  launchChromium,
  loadedFamilies,
  saveShot,
  shotWithAndWithoutBundledFonts,
} from './fixtures/kiosk/browser.js';
import { JRAI_TEXT, LAO_TITLE, localManifest, makeKioskContent, storeInDir } from './fixtures/kiosk/content.js';
import { type KioskFixtureServer, startKioskFixtureServer } from './fixtures/kiosk/local-server.js';

const PORTRAIT = { width: 1080, height: 1920 };
const LANDSCAPE = { width: 1920, height: 1080 };

let tmp: string;
let items: ManifestItem[];
let server: KioskFixtureServer;
let browser: Browser;

beforeAll(async () => {
  tmp = mkdtempSync(join(tmpdir(), 'kiosk-ui-'));
  const distDir = join(tmp, 'dist');
  const filesDir = join(tmp, 'files');
  // Built into a temp dir from the current source, so the test never races another test reading kiosk-ui/dist.
  await buildKioskUi(distDir);
  mkdirSync(filesDir);
  items = makeKioskContent(storeInDir(filesDir));
  server = await startKioskFixtureServer({ distDir, filesDir, manifest: localManifest(items) });
  browser = await launchChromium();
});

afterAll(async () => {
  await browser?.close();
  await server?.close();
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

async function openPage(viewport = LANDSCAPE, query = ''): Promise<{ context: BrowserContext; page: Page }> {
  const context = await browser.newContext({ viewport });
  const page = await context.newPage();
  await page.goto(`${server.url}/${query}`);
  return { context, page };
}

async function screenName(page: Page): Promise<string | undefined> {
  return page
    .locator('#app')
    .getAttribute('data-screen')
    .then((v) => v ?? undefined);
}

describe('kiosk page', () => {
  it('shows the language chooser, each language in its own script, with rendered glyphs in both orientations', async () => {
    server.setManifest(localManifest(items));
    for (const [name, viewport] of [
      ['portrait', PORTRAIT],
      ['landscape', LANDSCAPE],
    ] as const) {
      const { context, page } = await openPage(viewport);
      await page.locator('main[data-screen="languages"]').waitFor();
      const names = await page.locator('.language').allTextContents();
      expect(names).toEqual(['Tiếng Việt', 'Jrai', 'Bahnar', 'Xơ Đăng', 'Giẻ Triêng', 'Brâu', 'English', 'ພາສາລາວ', 'ភាសាខ្មែរ']);
      const tags = await page.locator('.language').evaluateAll((els) => els.map((e) => e.getAttribute('lang')));
      expect(tags).toEqual(['vi', 'jra', 'bdq', 'sed', 'jeh', 'brb', 'en', 'lo', 'km']);
      for (const box of await page
        .locator('button')
        .evaluateAll((els) => els.map((e) => e.getBoundingClientRect().toJSON() as { width: number; height: number }))) {
        expect(box.height).toBeGreaterThanOrEqual(48);
        expect(box.width).toBeGreaterThanOrEqual(48);
      }
      // Nothing may overflow the screen sideways.
      expect(await page.evaluate<number>('document.documentElement.scrollWidth')).toBeLessThanOrEqual(viewport.width);
      await fontsReady(page);
      saveShot(`language-chooser-${name}.png`, await page.screenshot());
      expect(await fontsCheck(page, '700 32px "Kiosk Noto Sans Lao"', 'ພາສາລາວ')).toBe(true);
      expect(await fontsCheck(page, '700 32px "Kiosk Noto Sans Khmer"', 'ភាសាខ្មែរ')).toBe(true);
      expect(await loadedFamilies(page)).toEqual(
        expect.arrayContaining(['Kiosk Noto Sans', 'Kiosk Noto Sans Lao', 'Kiosk Noto Sans Khmer']),
      );
      for (const tag of ['lo', 'km', 'vi']) {
        const { withFonts, without } = await shotWithAndWithoutBundledFonts(page, `.language[lang="${tag}"]`);
        expect(withFonts.equals(without), `${tag} renders the same without the bundled font`).toBe(false);
      }
      await context.close();
    }
  }, 60_000);

  it('in Khmer, offline: opens a PDF page by page and seeks a video; shows the fallback badge', async () => {
    server.setManifest(localManifest(items, { online: false }));
    const { context, page } = await openPage(PORTRAIT);
    await expect.poll(() => page.locator('[data-testid="offline"]').isVisible()).toBe(true);
    await page.locator('.language[lang="km"]').click();
    await page.locator('main[data-screen="browse"]').waitFor();
    await expect.poll(() => page.locator('[data-testid="offline"]').isVisible()).toBe(true);

    // The document has a Khmer translation: its Khmer title is shown, no badge.
    await page.locator('.card[data-item="doc-border-law"]').click();
    const article = page.locator('article.item');
    expect(await article.getAttribute('data-shown-lang')).toBe('km');
    expect(await page.locator('[data-testid="fallback"]').count()).toBe(0);
    const canvas = page.locator('[data-testid="pdf-canvas"]');
    await expect.poll(() => canvas.getAttribute('data-rendered-page'), { timeout: 15_000 }).toBe('1');
    const page1 = await canvas.evaluate((c) => (c as unknown as { toDataURL(): string }).toDataURL());
    await page.locator('[data-testid="pdf-next"]').click();
    await expect.poll(() => canvas.getAttribute('data-rendered-page'), { timeout: 15_000 }).toBe('2');
    expect(await page.locator('[data-testid="pdf-page-label"]').textContent()).toContain('2 / 3');
    const page2 = await canvas.evaluate((c) => (c as unknown as { toDataURL(): string }).toDataURL());
    expect(page2).not.toBe(page1);
    // Page 2 has ink on it (text and a filled rectangle), not a blank canvas.
    const inked = await canvas.evaluate((el) => {
      // Typed by hand: the tests' tsconfig has no DOM library.
      const c = el as unknown as {
        width: number;
        height: number;
        getContext(k: '2d'): { getImageData(x: number, y: number, w: number, h: number): { data: Uint8ClampedArray } };
      };
      const data = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
      let dark = 0;
      for (let i = 0; i < data.length; i += 4) if ((data[i] as number) < 128) dark += 1;
      return dark;
    });
    expect(inked).toBeGreaterThan(1000);
    saveShot('pdf-page-2-khmer.png', await page.screenshot());

    // The video has no Khmer translation: shown in Vietnamese with the badge.
    await page.locator('[data-testid="home"]').click();
    await page.locator('.card[data-item="video-crossing"]').click();
    await expect.poll(() => page.locator('[data-testid="fallback"]').textContent()).toContain('Tiếng Việt');
    const video = page.locator('[data-testid="video"]');
    await expect
      .poll(() => video.evaluate((v) => (v as unknown as { readyState: number }).readyState), { timeout: 15_000 })
      .toBeGreaterThanOrEqual(1);
    expect(await video.evaluate((v) => (v as unknown as { duration: number }).duration)).toBeGreaterThan(3);
    const seekedTo = await video.evaluate((el) => {
      const v = el as unknown as { currentTime: number; addEventListener(e: string, f: () => void, o: object): void };
      return new Promise<number>((resolve) => {
        v.addEventListener('seeked', () => resolve(v.currentTime), { once: true });
        v.currentTime = 3;
      });
    });
    expect(seekedTo).toBeCloseTo(3, 0);
    await context.close();
  }, 60_000);

  it('goes idle back to the attract loop of featured items, and posts the views counted', async () => {
    server.setManifest(localManifest(items));
    const before = server.views.length;
    const { context, page } = await openPage(LANDSCAPE, '?idle=5');
    await page.locator('.language[lang="en"]').click();
    await page.locator('.card[data-item="bulletin-jrai"]').click();
    await page.locator('article.item').waitFor();
    await expect.poll(() => screenName(page), { timeout: 15_000 }).toBe('attract');
    const slide = await page.locator('.slide').getAttribute('data-item');
    expect(['video-crossing', 'bulletin-jrai']).toContain(slide);
    await expect.poll(() => server.views.length, { timeout: 10_000 }).toBeGreaterThan(before);
    expect(server.views.slice(before)).toContainEqual(expect.objectContaining({ itemId: 'bulletin-jrai', lang: 'vi' }));
    saveShot('attract-loop.png', await page.screenshot());
    // A touch anywhere starts a new visit at the language chooser.
    await page.mouse.click(200, 200);
    await expect.poll(() => screenName(page)).toBe('languages');
    await context.close();
  }, 60_000);

  it('keeps views when a post fails and sends them later', async () => {
    server.setManifest(localManifest(items));
    server.failStats = true;
    const before = server.views.length;
    const { context, page } = await openPage(LANDSCAPE, '?idle=5&stats=1');
    await page.locator('.language[lang="lo"]').click();
    await page.locator('.card[data-item="poster-lao"]').click();
    await expect.poll(() => screenName(page), { timeout: 15_000 }).toBe('attract');
    // Let at least one flush fail.
    await page.waitForTimeout(1500);
    expect(server.views.length).toBe(before);
    server.failStats = false;
    await expect.poll(() => server.views.length, { timeout: 10_000 }).toBeGreaterThan(before);
    expect(server.views.slice(before)).toContainEqual(expect.objectContaining({ itemId: 'poster-lao', lang: 'lo' }));
    await context.close();
  }, 60_000);

  it('renders a Jrai item (stacked breve) and a Lao item with the bundled fonts', async () => {
    server.setManifest(localManifest(items));
    const { context, page } = await openPage(PORTRAIT);
    await page.locator('.language[lang="jra"]').click();
    await page.locator('.card[data-item="bulletin-jrai"]').click();
    await expect.poll(() => page.locator('.bulletin-body').textContent()).toBe(JRAI_TEXT);
    await fontsReady(page);
    saveShot('item-jrai.png', await page.screenshot());
    // U+0306 is only in the full Noto Sans: the page must have loaded it to draw Ư̆ and Ơ̆.
    expect(await loadedFamilies(page)).toEqual(expect.arrayContaining(['Kiosk Noto Sans', 'Kiosk Sans Full']));
    const jrai = await shotWithAndWithoutBundledFonts(page, '.bulletin-body');
    expect(jrai.withFonts.equals(jrai.without)).toBe(false);

    await page.locator('[data-testid="change-language"]').click();
    await page.locator('.language[lang="lo"]').click();
    await page.locator('.card[data-item="poster-lao"]').click();
    await expect.poll(() => page.locator('.top-title').textContent()).toBe(LAO_TITLE);
    await page.locator('img.poster').evaluate((img) => (img as unknown as { decode(): Promise<void> }).decode());
    await fontsReady(page);
    saveShot('item-lao.png', await page.screenshot());
    expect(await fontsCheck(page, '700 32px "Kiosk Noto Sans Lao"', LAO_TITLE)).toBe(true);
    const lao = await shotWithAndWithoutBundledFonts(page, '.top-title');
    expect(lao.withFonts.equals(lao.without)).toBe(false);
    await context.close();
  }, 60_000);

  it('shows a friendly screen when there is no content, and the pairing code while unenrolled', async () => {
    server.setManifest(localManifest([], { online: true }));
    const { context, page } = await openPage(PORTRAIT, '?poll=1');
    await page.locator('main[data-screen="no-content"]').waitFor();
    expect(await page.locator('main h1').textContent()).toBe('Chào mừng bạn!');
    saveShot('no-content.png', await page.screenshot());

    server.setManifest(
      localManifest([], { deviceId: null, siteId: null, pairing: { code: '482913', expiresAt: '2026-11-23T10:00:00Z' } }),
    );
    await expect.poll(() => screenName(page), { timeout: 10_000 }).toBe('pairing');
    expect(await page.locator('[data-testid="pairing-code"]').textContent()).toBe('482913');
    saveShot('pairing.png', await page.screenshot());

    // Content arrives: the kiosk starts at the language chooser by itself.
    server.setManifest(localManifest(items));
    await expect.poll(() => screenName(page), { timeout: 10_000 }).toBe('languages');
    await context.close();
  }, 60_000);

  it('plays audio with seeking and keeps a web bundle sandboxed; no context menu, no selection', async () => {
    server.setManifest(localManifest(items));
    const { context, page } = await openPage(LANDSCAPE);
    await page.locator('.language[lang="vi"]').click();
    // Browse by topic, then by kind within it.
    const shownIds = () => page.locator('.card').evaluateAll((els) => els.map((e) => e.getAttribute('data-item')));
    await page.locator('[data-topic="xuat-nhap-canh"]').click();
    await expect.poll(shownIds).toEqual(['video-crossing', 'poster-lao', 'web-map']);
    expect(await page.locator('[data-topic="xuat-nhap-canh"]').textContent()).toBe('Xuat nhap canh');
    await page.locator('[data-kind-filter="video"]').click();
    await expect.poll(shownIds).toEqual(['video-crossing']);
    await page.locator('.chip', { hasText: 'Tất cả chủ đề' }).click();
    await page.locator('.chip', { hasText: 'Tất cả loại' }).click();
    await expect.poll(shownIds).toHaveLength(items.length);
    await page.locator('.card[data-item="audio-notice"]').click();
    const audio = page.locator('[data-testid="audio"]');
    await expect
      .poll(() => audio.evaluate((a) => (a as unknown as { readyState: number }).readyState), { timeout: 15_000 })
      .toBeGreaterThanOrEqual(1);
    const seekedTo = await audio.evaluate((el) => {
      const a = el as unknown as { currentTime: number; addEventListener(e: string, f: () => void, o: object): void };
      return new Promise<number>((resolve) => {
        a.addEventListener('seeked', () => resolve(a.currentTime), { once: true });
        a.currentTime = 0.5;
      });
    });
    expect(seekedTo).toBeCloseTo(0.5, 1);

    await page.locator('[data-testid="home"]').click();
    await page.locator('.card[data-item="web-map"]').click();
    const frame = page.locator('[data-testid="web-bundle"]');
    const sandbox = (await frame.getAttribute('sandbox')) ?? '';
    expect(sandbox.split(/\s+/)).toEqual(['allow-scripts', 'allow-forms']);
    await expect.poll(() => page.frameLocator('[data-testid="web-bundle"]').locator('h1').textContent()).toBe('Bản đồ cửa khẩu');

    const blocked = await page.evaluate<boolean>(
      "(() => { const e = new MouseEvent('contextmenu', { bubbles: true, cancelable: true }); document.body.dispatchEvent(e); return e.defaultPrevented; })()",
    );
    expect(blocked).toBe(true);
    expect(await page.evaluate<string>('getComputedStyle(document.body).userSelect')).toBe('none');
    expect(await page.locator('a[href]').count()).toBe(0);

    // Leaving the page (here a reload) still reports the view on screen, by beacon.
    const before = server.views.length;
    await page.reload();
    await expect.poll(() => server.views.slice(before).map((v) => v.itemId), { timeout: 10_000 }).toContain('web-map');
    await context.close();
  }, 60_000);

  it('is keyboard usable: Tab reaches the language buttons and Enter picks one', async () => {
    server.setManifest(localManifest(items));
    const { context, page } = await openPage(LANDSCAPE);
    await page.locator('main[data-screen="languages"]').waitFor();
    await page.keyboard.press('Tab');
    expect(await page.evaluate<string | null>("document.activeElement?.getAttribute('lang') ?? null")).toBe('vi');
    await page.keyboard.press('Enter');
    await expect.poll(() => screenName(page)).toBe('browse');
    expect(await page.evaluate<string>('document.documentElement.lang')).toBe('vi');
    // Focus moved to the new screen's heading; Tab then walks its controls, and Enter opens an item.
    expect(await page.evaluate<string | null>('document.activeElement?.tagName ?? null')).toBe('H1');
    let reached = false;
    for (let i = 0; i < 30 && !reached; i++) {
      await page.keyboard.press('Tab');
      reached = await page.evaluate<boolean>("document.activeElement?.getAttribute('data-item') === 'bulletin-jrai'");
    }
    expect(reached).toBe(true);
    await page.keyboard.press('Enter');
    await expect.poll(() => screenName(page)).toBe('item');
    await context.close();
  }, 60_000);
});
