/**
 * The request targets the server answers: origin-form (`/path?query`, RFC 9112 §3.2.1) only. Absolute-form
 * (`http://user@host/…`) is for proxies, and @hono/node-server cannot even build a Request from one that
 * carries credentials (a 500); `*` and authority-form are for OPTIONS and CONNECT, which nothing here serves.
 * Refused before the app sees them, with a 400 that says why.
 */
import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';

export function isOriginForm(target: string | undefined): boolean {
  return typeof target === 'string' && target.startsWith('/');
}

export function originFormOnly(listener: RequestListener): RequestListener {
  return (request: IncomingMessage, response: ServerResponse) => {
    if (isOriginForm(request.url)) return listener(request, response);
    const body = JSON.stringify({
      error: { code: 'bad_request_target', message: 'the request target must be a path starting with /' },
    });
    response.writeHead(400, {
      'content-type': 'application/json',
      'content-length': Buffer.byteLength(body),
      connection: 'close',
    });
    response.end(body);
  };
}
