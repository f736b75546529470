/**
 * The kiosk screen under field conditions (issue 3/7, part C), in real Chromium against the REAL local server of the
 * agent (agent/local-server.ts on 127.0.0.1, real content store on disk): a link flap redraws only the status bar;
 * touches inside a web bundle keep the visit alive; a large PDF is read by range, not whole; the page reloads
 * itself when idle and old enough. The server's responses are counted byte by byte on their way out.
 *
 * KIOSK_PDF_MIB sets the size of the large PDF (default 64; the figures in docs/kiosk-ui.md use 200).
 */
import { createHash, randomFillSync } from 'node:crypto';
import { closeSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, writeSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { serve } from '@hono/node-server';
import { type Browser, type BrowserServer, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ContentStore, type CurrentManifest } from '../agent/content-store.js';
import { createLocalApp } from '../agent/local-server.js';
import { BrowserWatchdog } from '../agent/watchdog.js';
import { buildKioskUi } from '../kiosk-ui/build-kiosk-ui.js';
import type { ManifestFile, ManifestItem } from '../protocol/manifest.js';
import { makeKioskContent, storeInDir } from './fixtures/kiosk/content.js';

const PDF_MIB = Number(process.env.KIOSK_PDF_MIB ?? 64);
const LANDSCAPE = { width: 1920, height: 1080 };

/**
 * A PDF of `pages` pages, each an uncompressed 1 MiB noise image (RGB 600×582) plus a line of text: `pages` MiB
 * that cannot be compressed away. Written straight to `path`; returns its manifest entry.
 */
function writeBigPdf(path: string, pages: number): ManifestFile {
  const fd = openSync(path, 'w');
  const hash = createHash('sha256');
  let offset = 0;
  const offsets: number[] = [];
  const put = (chunk: Buffer | string) => {
    const buf = typeof chunk === 'string' ? Buffer.from(chunk, 'latin1') : chunk;
    writeSync(fd, buf);
    hash.update(buf);
    offset += buf.length;
  };
  const W = 600;
  const H = 582;
  const image = Buffer.alloc(W * H * 3);
  const obj = (id: number, body: string | Buffer[]) => {
    offsets[id] = offset;
    put(`${id} 0 obj\n`);
    if (typeof body === 'string') put(body);
    else for (const b of body) put(b);
    put('\nendobj\n');
  };
  put('%PDF-1.4\n%\xe2\xe3\xcf\xd3\n');
  const pageId = (i: number) => 4 + i * 3;
  obj(1, '<< /Type /Catalog /Pages 2 0 R >>');
  obj(2, `<< /Type /Pages /Kids [${Array.from({ length: pages }, (_, i) => `${pageId(i)} 0 R`).join(' ')}] /Count ${pages} >>`);
  obj(3, '<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>');
  for (let i = 0; i < pages; i++) {
    const id = pageId(i);
    obj(
      id,
      `<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents ${id + 1} 0 R /Resources << /Font << /F1 3 0 R >> /XObject << /Im0 ${id + 2} 0 R >> >> >>`,
    );
    const content = `q 540 524 0 0 36 200 cm /Im0 Do Q BT /F1 36 Tf 72 740 Td (Page ${i + 1}) Tj ET`;
    obj(id + 1, `<< /Length ${content.length} >>\nstream\n${content}\nendstream`);
    randomFillSync(image);
    obj(id + 2, [
      Buffer.from(
        `<< /Type /XObject /Subtype /Image /Width ${W} /Height ${H} /ColorSpace /DeviceRGB /BitsPerComponent 8 /Length ${image.length} >>\nstream\n`,
        'latin1',
      ),
      image,
      Buffer.from('\nendstream', 'latin1'),
    ]);
  }
  const size = pageId(pages);
  const xref = offset;
  let table = `xref\n0 ${size}\n0000000000 65535 f \n`;
  for (let id = 1; id < size; id++) table += `${String(offsets[id]).padStart(10, '0')} 00000 n \n`;
  put(`${table}trailer\n<< /Size ${size} /Root 1 0 R >>\nstartxref\n${xref}\n%%EOF\n`);
  closeSync(fd);
  return { sha256: hash.digest('hex'), size: offset, mime: 'application/pdf' };
}

let tmp: string;
let store: ContentStore;
let items: ManifestItem[];
let online = true;
let appliedAt = '2026-11-20T01:30:00.000Z';
let bigPdf: ManifestFile;
/** Bytes of response bodies sent, per path; and the Range headers asked for the big PDF. */
const sent = new Map<string, number>();
const bigRanges: string[] = [];
const bigSent: number[] = [];
let pageLoads = 0;
let url: string;
let httpServer: ReturnType<typeof serve>;
let browserServer: BrowserServer;
let browser: Browser;

function current(): CurrentManifest {
  return {
    signed: { manifest: { v: 1, deviceId: 'kiosk-screen-1', seq: 3, issuedAt: '2026-11-20T01:00:00.000Z', items } },
    appliedAt,
  } as unknown as CurrentManifest;
}

beforeAll(async () => {
  tmp = mkdtempSync(join(tmpdir(), 'kiosk-screen-'));
  const distDir = join(tmp, 'dist');
  await buildKioskUi(distDir);
  store = new ContentStore(join(tmp, 'data'));
  await store.init();
  const base = makeKioskContent(storeInDir(store.contentDir));
  bigPdf = writeBigPdf(join(store.contentDir, 'big.tmp'), PDF_MIB);
  const { renameSync } = await import('node:fs');
  renameSync(join(store.contentDir, 'big.tmp'), store.filePath(bigPdf.sha256));
  const bulletin = base.find((i) => i.id === 'bulletin-jrai') as ManifestItem;
  // Enough cards that the browse screen scrolls.
  const extra = Array.from({ length: 40 }, (_, i) => ({
    ...bulletin,
    id: `bulletin-extra-${i}`,
    featured: false,
    translations: { vi: { title: `Bản tin số ${i + 1}`, summary: 'Tin địa phương', body: `Nội dung ${i + 1}` } },
  }));
  items = [
    ...base,
    {
      ...(base[0] as ManifestItem),
      id: 'doc-big',
      translations: { vi: { title: 'Tài liệu rất lớn', summary: `${PDF_MIB} MiB`, file: bigPdf } },
    },
    ...extra,
  ];
  for (const name of readdirSync(store.contentDir)) expect(await store.verify(name)).toBe(true);

  const app = createLocalApp(
    {
      deviceId: () => 'kiosk-screen-1',
      siteId: () => 'site-1',
      online: () => online,
      pairing: () => null,
      current,
      clock: Date.now,
      store,
      recordViews: () => {},
      watchdog: new BrowserWatchdog({ beatIntervalMs: 1000 }),
    },
    distDir,
  );
  // The real app, with each response body counted as it leaves.
  const counted = async (req: Request): Promise<Response> => {
    const path = new URL(req.url).pathname;
    if (path === '/' && req.method === 'GET') pageLoads += 1;
    const big = path.endsWith(bigPdf.sha256) ? bigRanges.push(req.headers.get('range') ?? 'whole') - 1 : -1;
    const res = await app.fetch(req);
    if (!res.body) return res;
    const body = res.body.pipeThrough(
      new TransformStream<Uint8Array, Uint8Array>({
        transform(chunk, ctl) {
          sent.set(path, (sent.get(path) ?? 0) + chunk.byteLength);
          if (big >= 0) bigSent[big] = (bigSent[big] ?? 0) + chunk.byteLength;
          ctl.enqueue(chunk);
        },
      }),
    );
    return new Response(body, { status: res.status, headers: res.headers });
  };
  await new Promise<void>((resolve) => {
    httpServer = serve({ fetch: counted, hostname: '127.0.0.1', port: 0 }, (info: AddressInfo) => {
      url = `http://127.0.0.1:${info.port}`;
      resolve();
    });
  });
  browserServer = await chromium.launchServer({
    executablePath: '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--no-first-run'],
  });
  browser = await chromium.connect(browserServer.wsEndpoint());
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await browserServer?.close();
  await new Promise<void>((resolve) => (httpServer ? httpServer.close(() => resolve()) : resolve()));
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

async function openPage(query = ''): Promise<Page> {
  const context = await browser.newContext({ viewport: LANDSCAPE });
  const page = await context.newPage();
  await page.goto(`${url}/${query}`);
  await page.locator('main[data-screen="languages"]').waitFor();
  return page;
}

const screenName = (page: Page) => page.locator('#app').getAttribute('data-screen');

/** Resident memory (KiB) of the browser's renderer processes (the page and its pdf.js worker live there). */
function rendererRssKiB(): number {
  const root = browserServer.process().pid as number;
  const children = new Map<number, number[]>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      children.set(ppid, [...(children.get(ppid) ?? []), Number(name)]);
    } catch {}
  }
  let total = 0;
  const walk = (pid: number) => {
    for (const child of children.get(pid) ?? []) {
      try {
        if (readFileSync(`/proc/${child}/cmdline`, 'utf8').includes('--type=renderer')) {
          const m = /VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${child}/status`, 'utf8'));
          total += Number(m?.[1] ?? 0);
        }
      } catch {}
      walk(child);
    }
  };
  walk(root);
  return total;
}

describe('kiosk screen in the field', () => {
  it('a link flap changes only the status indicator: the browse screen, its scroll and the open item stay', async () => {
    online = true;
    const page = await openPage('?poll=1');
    await page.locator('.language[lang="vi"]').click();
    await page.locator('main[data-screen="browse"]').waitFor();
    // Mark the browse screen's element and scroll it: a re-render would replace the one and reset the other.
    await page.evaluate(`(() => { document.querySelector('main').dataset.mark = 'kept'; window.scrollTo(0, 700); })()`);
    const scrolled = await page.evaluate<number>('window.scrollY');
    expect(scrolled).toBeGreaterThan(300);
    await page.locator('[data-testid="online"]').waitFor();

    for (let flap = 0; flap < 2; flap++) {
      online = false;
      await page.locator('[data-testid="offline"]').waitFor({ timeout: 10_000 });
      online = true;
      appliedAt = new Date(Date.UTC(2026, 10, 21 + flap, 2)).toISOString();
      await page.locator('[data-testid="online"]').waitFor({ timeout: 10_000 });
    }
    await expect.poll(() => page.locator('[data-testid="updated"]').textContent()).toContain('22');
    expect(await page.evaluate<string | null>(`document.querySelector('main').dataset.mark ?? null`)).toBe('kept');
    expect(await page.evaluate<number>('window.scrollY')).toBe(scrolled);

    // An open PDF on page 2 stays on page 2 through a flap.
    await page.locator('.card[data-item="doc-border-law"]').click();
    const canvas = page.locator('[data-testid="pdf-canvas"]');
    await expect.poll(() => canvas.getAttribute('data-rendered-page'), { timeout: 15_000 }).toBe('1');
    await page.locator('[data-testid="pdf-next"]').click();
    await expect.poll(() => canvas.getAttribute('data-rendered-page'), { timeout: 15_000 }).toBe('2');
    online = false;
    await page.locator('[data-testid="offline"]').waitFor({ timeout: 10_000 });
    online = true;
    await page.locator('[data-testid="online"]').waitFor({ timeout: 10_000 });
    expect(await canvas.getAttribute('data-rendered-page')).toBe('2');
    expect(await screenName(page)).toBe('item');
    await page.context().close();
  }, 60_000);

  it('touches inside a web bundle keep the visit alive; when they stop, the kiosk goes idle', async () => {
    const page = await openPage('?idle=3');
    await page.locator('.language[lang="vi"]').click();
    await page.locator('.card[data-item="web-map"]').click();
    const frame = page.locator('[data-testid="web-bundle"]');
    await expect.poll(() => page.frameLocator('[data-testid="web-bundle"]').locator('h1').textContent()).toBe('Bản đồ cửa khẩu');
    const box = (await frame.boundingBox()) as { x: number; y: number; width: number; height: number };
    // 7 s of real pointer input inside the frame (the idle timeout is 3 s): still on the item.
    const t0 = Date.now();
    for (let i = 0; Date.now() - t0 < 7000; i++) {
      await page.mouse.move(box.x + 50 + (i % 10) * 20, box.y + 80 + (i % 7) * 15);
      if (i % 3 === 0) await page.mouse.down().then(() => page.mouse.up());
      await page.waitForTimeout(400);
      expect(await screenName(page)).toBe('item');
    }
    await expect.poll(() => screenName(page), { timeout: 10_000 }).toBe('attract');
    await page.context().close();

    // The bundle as served carries the activity script; a heartbeat from the bundle's opaque origin is refused.
    const html = await (
      await fetch(`${url}/local/files/${items.find((i) => i.id === 'web-map')?.translations.vi?.file?.sha256}`)
    ).text();
    expect(html).toMatch(/^<!doctype html><script>.*kioskActivity.*<\/script><meta charset="utf-8"><h1>/);
    const forged = await fetch(`${url}/local/heartbeat`, {
      method: 'POST',
      headers: { origin: 'null', 'content-type': 'application/json' },
      body: JSON.stringify({ uptimeS: 1 }),
    });
    expect(forged.status).toBe(403);
  }, 60_000);

  it(`reads a ${PDF_MIB} MiB PDF by range: a few chunks per page, bounded renderer memory`, async () => {
    const page = await openPage();
    await page.locator('.language[lang="vi"]').click();
    // A small PDF first, so the baseline already holds pdf.js, its worker and a page canvas: the growth is the file's.
    await page.locator('.card[data-item="doc-border-law"]').click();
    const canvas = page.locator('[data-testid="pdf-canvas"]');
    await expect.poll(() => canvas.getAttribute('data-rendered-page'), { timeout: 15_000 }).toBe('1');
    await page.locator('[data-testid="home"]').click();
    await page.waitForTimeout(1000);
    const rssBefore = rendererRssKiB();
    const path = `/local/files/${bigPdf.sha256}`;
    sent.delete(path);
    bigRanges.length = 0;
    bigSent.length = 0;
    const t0 = Date.now();
    await page.locator('.card[data-item="doc-big"]').click();
    await expect.poll(() => canvas.getAttribute('data-rendered-page'), { timeout: 60_000 }).toBe('1');
    const firstPageMs = Date.now() - t0;
    await page.locator('[data-testid="pdf-next"]').click();
    await expect.poll(() => canvas.getAttribute('data-rendered-page'), { timeout: 30_000 }).toBe('2');
    // Anything still fetched in the background would arrive now.
    await page.waitForTimeout(3000);
    const rssAfter = rendererRssKiB();
    const bytes = sent.get(path) ?? 0;
    const heap = await page.evaluate<number>('performance.memory.usedJSHeapSize');
    const figures = {
      pdfBytes: bigPdf.size,
      servedBytes: bytes,
      requests: bigRanges.length,
      firstPageMs,
      rendererRssBeforeMiB: Math.round(rssBefore / 1024),
      rendererRssAfterMiB: Math.round(rssAfter / 1024),
      rendererRssGrowthMiB: Math.round((rssAfter - rssBefore) / 1024),
      pageJsHeapMiB: Math.round(heap / 2 ** 20),
    };
    console.log('kiosk big PDF', JSON.stringify(figures));
    if (process.env.KIOSK_PDF_DEBUG) console.log(bigRanges.map((r, i) => `${r}:${bigSent[i]}`).join(' '));
    // Two pages of ~1 MiB each, plus one 64 KiB piece per page dictionary (pdf.js walks this flat page tree to check
    // the last page), plus what the first, whole request delivered before pdf.js cancelled it (socket buffers: a few MiB).
    expect(bytes).toBeLessThan(Math.min(bigPdf.size / 4, PDF_MIB * 64 * 1024 + 12 * 2 ** 20));
    expect(bigRanges.filter((r) => r !== 'whole').length).toBeGreaterThan(0);
    await page.context().close();
  }, 120_000);

  it('reloads itself when idle and old enough, never while someone uses it', async () => {
    const page = await openPage('?idle=2&reload=4');
    await page.evaluate('window.kioskMarker = 1');
    const loads = pageLoads;
    // Someone using the kiosk for 7 s: no reload, though the page is older than 4 s.
    await page.locator('.language[lang="vi"]').click();
    const t0 = Date.now();
    for (let i = 0; Date.now() - t0 < 7000; i++) {
      await page.mouse.move(300 + (i % 5) * 30, 300);
      await page.waitForTimeout(300);
    }
    expect(await page.evaluate('window.kioskMarker ?? null')).toBe(1);
    // Left alone: idle after 2 s, then reloaded.
    await expect.poll(() => pageLoads, { timeout: 15_000 }).toBeGreaterThan(loads);
    await page.locator('main[data-screen="languages"]').waitFor();
    expect(await page.evaluate('window.kioskMarker ?? null')).toBe(null);
    expect(await page.evaluate<string>(`performance.getEntriesByType('navigation')[0].type`)).toBe('reload');
    await page.context().close();
  }, 60_000);
});
