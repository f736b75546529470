/**
 * Serves a stored file as HTTP: strong ETag (the sha256), immutable caching, a single `Range` (206) as often as
 * the client likes to resume, 416 past the end. Several ranges in one request are answered with the whole file
 * (RFC 9110 lets a server ignore Range; agents resume with one range).
 */
import { Readable } from 'node:stream';
import type { ContentStore } from './store.js';

/**
 * Types a browser shows without running anything of the file's own. Everything else (HTML web pages, SVG,
 * XML, unknown types) is content written by an editor: served from the dashboard's origin it could run
 * script with a signed-in approver's cookie, so it gets a sandboxing CSP (an opaque origin, no script, no
 * forms, no plugins) and is offered as a download.
 */
const PASSIVE_TYPE = /^(image\/(png|jpeg|gif|webp|avif)|video\/[a-z0-9.+-]+|audio\/[a-z0-9.+-]+|text\/plain|application\/pdf)$/;
const SANDBOX_CSP = "sandbox; default-src 'none'; img-src 'self' data:; media-src 'self'; style-src 'unsafe-inline'";

/** Headers that keep a stored file inert on the server's origin, whatever its bytes. */
export function inertFileHeaders(mime: string): Record<string, string> {
  const headers: Record<string, string> = {
    'X-Content-Type-Options': 'nosniff',
    'Cross-Origin-Resource-Policy': 'same-origin',
  };
  if (!PASSIVE_TYPE.test(mime)) {
    headers['Content-Security-Policy'] = SANDBOX_CSP;
    headers['Content-Disposition'] = 'attachment';
  }
  return headers;
}

export type ByteRange = { start: number; end: number };

/** Parses a `Range` header against a size: a range, 'unsatisfiable', or null to send the whole file. */
export function parseRange(header: string | undefined, size: number): ByteRange | 'unsatisfiable' | null {
  if (!header) return null;
  const match = /^\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*$/i.exec(header);
  if (!match) return null;
  const [, first = '', last = ''] = match;
  if (first === '' && last === '') return null;
  if (first === '') {
    // Suffix range: the last N bytes.
    const length = Number(last);
    if (length === 0 || size === 0) return 'unsatisfiable';
    return { start: Math.max(0, size - length), end: size - 1 };
  }
  const start = Number(first);
  if (start >= size) return 'unsatisfiable';
  const end = last === '' ? size - 1 : Math.min(Number(last), size - 1);
  if (end < start) return null;
  return { start, end };
}

export async function fileResponse(
  store: ContentStore,
  file: { sha256: string; mime: string },
  request: Request,
): Promise<Response> {
  const size = await store.sizeOf(file.sha256);
  if (size === null) return Response.json({ error: { code: 'not_found', message: 'file not found' } }, { status: 404 });
  const etag = `"${file.sha256}"`;
  const headers = new Headers({
    ETag: etag,
    'Cache-Control': 'public, max-age=31536000, immutable',
    'Accept-Ranges': 'bytes',
    'Content-Type': file.mime.startsWith('text/') ? `${file.mime}; charset=utf-8` : file.mime,
    ...inertFileHeaders(file.mime),
  });
  const ifNoneMatch = request.headers.get('if-none-match');
  if (ifNoneMatch?.split(',').some((tag) => tag.trim().replace(/^W\//, '') === etag || tag.trim() === '*')) {
    return new Response(null, { status: 304, headers });
  }
  const ifRange = request.headers.get('if-range');
  const range = ifRange && ifRange.trim() !== etag ? null : parseRange(request.headers.get('range') ?? undefined, size);
  if (range === 'unsatisfiable') {
    headers.set('Content-Range', `bytes */${size}`);
    headers.set('Content-Type', 'application/json');
    return new Response(JSON.stringify({ error: { code: 'range_not_satisfiable', message: `the file has ${size} bytes` } }), {
      status: 416,
      headers,
    });
  }
  const head = request.method === 'HEAD';
  if (range) {
    headers.set('Content-Range', `bytes ${range.start}-${range.end}/${size}`);
    headers.set('Content-Length', String(range.end - range.start + 1));
    return new Response(head ? null : webStream(store.open(file.sha256, range)), { status: 206, headers });
  }
  headers.set('Content-Length', String(size));
  return new Response(head ? null : webStream(store.open(file.sha256)), { status: 200, headers });
}

function webStream(stream: Readable): ReadableStream<Uint8Array> {
  return Readable.toWeb(stream) as ReadableStream<Uint8Array>;
}
