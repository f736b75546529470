/**
 * The kiosk page's server, on 127.0.0.1 only: the UI's static files, the manifest of items valid now, the cached
 * files (with Range for video seeking and PDFs read in chunks) and anonymous view counts, plus the page's heartbeat
 * for the browser watchdog (agent/watchdog.ts). Answers from disk alone, so it works offline.
 */
import { createReadStream, existsSync } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { basename, resolve, sep } from 'node:path';
import { Readable } from 'node:stream';
import { serve } from '@hono/node-server';
import { type Context, Hono } from 'hono';
import { getMimeType } from 'hono/utils/mime';
import {
  LocalHeartbeat,
  type LocalHeartbeatReply,
  type LocalManifest,
  LocalViews,
  type ManifestItem,
  manifestFiles,
  Sha256Hex,
} from '../protocol/index.js';
import type { ContentStore, CurrentManifest } from './content-store.js';
import { BrowserWatchdog } from './watchdog.js';

export interface LocalServerState {
  deviceId: () => string | null;
  siteId: () => string | null;
  online: () => boolean;
  pairing: () => LocalManifest['pairing'];
  current: () => CurrentManifest | null;
  /** The wall clock (the watchdog's, when the server keeps its own). */
  clock: () => number;
  /**
   * The server-time estimate (agent/clock.ts `serverNow`): an item's validity is judged on it, not on the kiosk's wall
   * clock, which may be a year off or in 1970. Without it, `clock`.
   */
  serverNow?: () => number;
  store: ContentStore;
  recordViews: (views: LocalViews) => void;
  /** The agent's watchdog (it reports stale screens); without one the server keeps its own. */
  watchdog?: BrowserWatchdog;
}

/** Items valid at `now`, without translations whose file is not (or no longer) verified on disk. */
export function itemsValidNow(current: CurrentManifest | null, now: number, isGood: (sha: string) => boolean): ManifestItem[] {
  if (!current) return [];
  const out: ManifestItem[] = [];
  for (const item of current.signed.manifest.items) {
    if (item.validFrom && Date.parse(item.validFrom) > now) continue;
    if (item.validTo && Date.parse(item.validTo) <= now) continue;
    const translations = Object.fromEntries(
      Object.entries(item.translations).filter(([, t]) => !t.file || isGood(t.file.sha256)),
    );
    if (Object.keys(translations).length > 0) out.push({ ...item, translations });
  }
  return out;
}

/** True when `If-None-Match` names `etag` (or `*`); weak comparison, as RFC 9110 asks for GET. */
export function etagMatches(ifNoneMatch: string | undefined, etag: string): boolean {
  if (!ifNoneMatch) return false;
  const bare = etag.replace(/^W\//, '');
  return ifNoneMatch.split(',').some((t) => {
    const tag = t.trim();
    return tag === '*' || tag.replace(/^W\//, '') === bare;
  });
}

/**
 * Put into every web bundle (HTML) the page shows: the bundle runs in a sandboxed frame of its own (opaque) origin,
 * so the kiosk page cannot listen to it; this reports touches and keys to the page, which resets its idle timer.
 * At most one message per 500 ms; it carries nothing of what was touched.
 */
export const BUNDLE_ACTIVITY_SCRIPT =
  '<script>(()=>{let t=-1e9;const p=()=>{const n=performance.now();if(n-t<500)return;t=n;try{parent.postMessage({kioskActivity:1},"*")}catch(e){}};' +
  'for(const e of ["pointerdown","pointermove","keydown","wheel","touchstart"])addEventListener(e,p,{capture:true,passive:true})})()</script>';

/** Bundles larger than this are served as they are (no activity script): no HTML page of a kiosk is that big. */
const MAX_INJECT_BYTES = 8 * 2 ** 20;

/** The bundle's HTML with the activity script first in <head> (before any CSP meta of the bundle), never before the doctype. */
export function injectActivityScript(html: string): string {
  for (const re of [/<head(\s[^>]*)?>/i, /<html(\s[^>]*)?>/i, /<!doctype[^>]*>/i]) {
    const m = re.exec(html);
    if (m) {
      const at = m.index + m[0].length;
      return html.slice(0, at) + BUNDLE_ACTIVITY_SCRIPT + html.slice(at);
    }
  }
  return BUNDLE_ACTIVITY_SCRIPT + html;
}

/** A build that puts a content hash in a name (`app.3f9a1c2e.js`, `app-3f9a1c2e.js`) never changes that file. */
const HASHED_NAME = /[.-][0-9a-f]{8,}\.[a-z0-9]+$/i;

/** Cache-Control for a UI file: hashed names are immutable; everything else (index.html first) revalidates. */
export function uiCacheControl(path: string): string {
  const name = basename(path);
  if (name !== 'index.html' && HASHED_NAME.test(name)) return 'public, max-age=31536000, immutable';
  // no-cache = may be stored, but must be revalidated (a cheap 304) before use: a new agent's UI shows at once.
  return 'no-cache';
}

/**
 * The UI's static files with strong validators: ETag from size and mtime (a rebuilt file changes both or at
 * least its mtime), `If-None-Match` → 304. Unknown paths get index.html (single-page UI).
 */
function uiFiles(uiDir: string) {
  const root = resolve(uiDir);
  async function find(path: string): Promise<{ path: string; size: number; mtimeMs: number } | null> {
    const abs = resolve(root, `.${path}`);
    if (abs !== root && !abs.startsWith(root + sep)) return null;
    const file = abs === root || path.endsWith('/') ? resolve(abs, 'index.html') : abs;
    const st = await stat(file).catch(() => null);
    return st?.isFile() ? { path: file, size: st.size, mtimeMs: st.mtimeMs } : null;
  }
  return async (c: Context): Promise<Response> => {
    let path: string;
    try {
      path = decodeURIComponent(c.req.path);
    } catch {
      return c.json({ error: { code: 'bad_request', message: 'bad path' } }, 400);
    }
    const file = (path.includes('\0') ? null : await find(path)) ?? (await find('/index.html'));
    if (!file) return c.json({ error: { code: 'not_found', message: 'no such file' } }, 404);
    const etag = `"${file.size.toString(16)}-${Math.trunc(file.mtimeMs).toString(16)}"`;
    c.header('etag', etag);
    c.header('cache-control', uiCacheControl(file.path));
    if (etagMatches(c.req.header('if-none-match'), etag)) return c.body(null, 304);
    c.header('content-type', getMimeType(file.path) ?? 'application/octet-stream');
    c.header('content-length', String(file.size));
    return c.body(Readable.toWeb(createReadStream(file.path)) as ReadableStream, 200);
  };
}

export function createLocalApp(state: LocalServerState, uiDir: string): Hono {
  const app = new Hono();
  const watchdog = state.watchdog ?? new BrowserWatchdog({ clock: state.clock });

  // The page's heartbeat. Only from the page itself: a web bundle's frame has an opaque origin (`Origin: null`).
  app.post('/local/heartbeat', async (c) => {
    const origin = c.req.header('origin');
    if (origin !== undefined && origin !== new URL(c.req.url).origin)
      return c.json({ error: { code: 'forbidden', message: 'heartbeat only from the kiosk page' } }, 403);
    const parsed = LocalHeartbeat.safeParse(await c.req.json().catch(() => null));
    if (!parsed.success) return c.json({ error: { code: 'bad_request', message: parsed.error.message } }, 400);
    watchdog.beat(parsed.data);
    c.header('cache-control', 'no-store');
    return c.json({ intervalMs: watchdog.beatIntervalMs } satisfies LocalHeartbeatReply);
  });

  // For the launcher (deploy/kiosk-launcher.sh): 503 = no heartbeat for too long, restart the browser.
  app.get('/local/watchdog', (c) => {
    const status = watchdog.check();
    c.header('cache-control', 'no-store');
    return c.json(status, status.state === 'stale' ? 503 : 200);
  });
  app.get('/local/manifest', (c) => {
    const current = state.current();
    const body: LocalManifest = {
      deviceId: state.deviceId(),
      siteId: state.siteId(),
      online: state.online(),
      pairing: state.pairing(),
      seq: current?.signed.manifest.seq ?? 0,
      appliedAt: current?.appliedAt ?? null,
      items: itemsValidNow(current, (state.serverNow ?? state.clock)(), (sha) => state.store.isKnownGood(sha)),
    };
    c.header('cache-control', 'no-store');
    return c.json(body);
  });

  // Interface labels the department entered (the signed manifest's `uiLabels`, DESIGN §7); {} when none.
  app.get('/local/ui-labels', (c) => {
    c.header('cache-control', 'no-store');
    return c.json({ labels: state.current()?.signed.manifest.uiLabels ?? {} });
  });

  app.get('/local/files/:sha256', async (c) => {
    const sha = c.req.param('sha256');
    const current = state.current();
    const file =
      Sha256Hex.safeParse(sha).success && current
        ? manifestFiles(current.signed.manifest).find((f) => f.sha256 === sha)
        : undefined;
    // Only files of the manifest on screen, and only after their hash matched (re-checked if the file changed on disk).
    if (!file || !(await state.store.verify(sha))) return c.json({ error: { code: 'not_found', message: 'no such file' } }, 404);
    const path = state.store.filePath(sha);
    const size = (await stat(path)).size;
    if (file.mime.toLowerCase() === 'text/html' && size <= MAX_INJECT_BYTES) {
      // A web bundle: always whole (Range ignored, as RFC 9110 allows), with the activity script; its own ETag.
      const tag = `"${sha}-a1"`;
      c.header('content-type', file.mime);
      c.header('etag', tag);
      c.header('cache-control', 'private, no-cache');
      if (etagMatches(c.req.header('if-none-match'), tag)) return c.body(null, 304);
      // latin1 keeps every byte as it is, whatever the bundle's charset; the script is ASCII.
      const html = Buffer.from(injectActivityScript((await readFile(path)).toString('latin1')), 'latin1');
      c.header('content-length', String(html.length));
      return c.body(new Uint8Array(html), 200);
    }
    c.header('content-type', file.mime);
    c.header('accept-ranges', 'bytes');
    // Immutable by address: a changed file is a new sha256.
    c.header('etag', `"${sha}"`);
    c.header('cache-control', 'private, max-age=31536000, immutable');
    if (etagMatches(c.req.header('if-none-match'), `"${sha}"`)) return c.body(null, 304);
    const range = c.req.header('range');
    if (!range) {
      c.header('content-length', String(size));
      return c.body(Readable.toWeb(createReadStream(path)) as ReadableStream, 200);
    }
    const m = /^bytes=(\d*)-(\d*)$/.exec(range.trim());
    let start = m?.[1] ? Number(m[1]) : Number.NaN;
    let end = m?.[2] ? Number(m[2]) : size - 1;
    if (m && !m[1] && m[2]) {
      // suffix range: the last N bytes
      start = Math.max(0, size - Number(m[2]));
      end = size - 1;
    }
    end = Math.min(end, size - 1);
    if (!m || !Number.isFinite(start) || start > end || start >= size) {
      c.header('content-range', `bytes */${size}`);
      return c.body(null, 416);
    }
    c.header('content-range', `bytes ${start}-${end}/${size}`);
    c.header('content-length', String(end - start + 1));
    return c.body(Readable.toWeb(createReadStream(path, { start, end })) as ReadableStream, 206);
  });

  app.post('/local/stats', async (c) => {
    const parsed = LocalViews.safeParse(await c.req.json().catch(() => null));
    if (!parsed.success) return c.json({ error: { code: 'bad_request', message: parsed.error.message } }, 400);
    state.recordViews(parsed.data);
    return c.body(null, 204);
  });

  if (existsSync(uiDir)) {
    app.get('*', uiFiles(uiDir));
  } else {
    // The kiosk page is not built on this machine: a bare page still shows what a technician needs.
    app.get('/', (c) => {
      const pairing = state.pairing();
      const text = pairing ? `Mã ghép nối: ${pairing.code}` : 'Đang tải nội dung…';
      // It beats too, else the launcher would restart the browser on it forever.
      const beat = `<script>setInterval(()=>fetch('/local/heartbeat',{method:'POST',headers:{'content-type':'application/json'},body:JSON.stringify({uptimeS:performance.now()/1000})}),${watchdog.beatIntervalMs})</script>`;
      return c.html(`<!doctype html><html lang="vi"><meta charset="utf-8"><title>Kiosk</title><h1>${text}</h1>${beat}</html>`);
    });
  }
  return app;
}

export async function startLocalServer(
  state: LocalServerState,
  uiDir: string,
  port: number,
): Promise<{ port: number; close: () => Promise<void> }> {
  const app = createLocalApp(state, uiDir);
  return new Promise((resolve, reject) => {
    const server = serve({ fetch: app.fetch, hostname: '127.0.0.1', port }, (info: AddressInfo) => {
      resolve({
        port: info.port,
        close: () =>
          new Promise<void>((done) => {
            server.close(() => done());
            (server as unknown as { closeAllConnections?: () => void }).closeAllConnections?.();
          }),
      });
    });
    server.once('error', reject);
  });
}
