/**
 * The kiosk page's server, on 127.0.0.1 only: the UI's static files, the manifest of items valid now, the cached
 * files (with Range for video seeking) and anonymous view counts. Answers from disk alone, so it works offline.
 */
import { createReadStream, existsSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { basename, resolve, sep } from 'node:path';
import { Readable } from 'node:stream';
import { serve } from '@hono/node-server';
import { type Context, Hono } from 'hono';
import { getMimeType } from 'hono/utils/mime';
import { type LocalManifest, LocalViews, type ManifestItem, manifestFiles, Sha256Hex } from '../protocol/index.js';
import type { ContentStore, CurrentManifest } from './content-store.js';

export interface LocalServerState {
  deviceId: () => string | null;
  siteId: () => string | null;
  online: () => boolean;
  pairing: () => LocalManifest['pairing'];
  current: () => CurrentManifest | null;
  clock: () => number;
  store: ContentStore;
  recordViews: (views: LocalViews) => void;
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
  app.get('/local/manifest', (c) => {
    const current = state.current();
    const body: LocalManifest = {
      deviceId: state.deviceId(),
      siteId: state.siteId(),
      online: state.online(),
      pairing: state.pairing(),
      seq: current?.signed.manifest.seq ?? 0,
      appliedAt: current?.appliedAt ?? null,
      items: itemsValidNow(current, state.clock(), (sha) => state.store.isKnownGood(sha)),
    };
    c.header('cache-control', 'no-store');
    return c.json(body);
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
      return c.html(`<!doctype html><html lang="vi"><meta charset="utf-8"><title>Kiosk</title><h1>${text}</h1></html>`);
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
