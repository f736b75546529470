/**
 * Request body limits. Every request is limited: `defaultBodyLimit()` is mounted once for the whole app
 * (`http/app.ts`) and applies DEFAULT_BODY_LIMIT_BYTES unless the matched route declares its own with
 * `bodyLimit(n)` or `streamedBodyLimit(n)` — so a route that says nothing gets the small default and a new
 * route cannot forget a limit. A body over the limit is answered 413 `payload_too_large` (or the route's own
 * code) before it is read into memory: a `Content-Length` over the limit is refused at once, a chunked body
 * is counted as it arrives (`hono/body-limit`) and refused at the first byte over. The answer closes the
 * connection, so the rest of the body is not read either.
 */
import type { Context, MiddlewareHandler } from 'hono';
import { bodyLimit as honoBodyLimit } from 'hono/body-limit';
import { matchedRoutes } from 'hono/route';
import { type DomainError, PayloadTooLargeError } from '../errors.js';

/** What a JSON route without its own limit accepts: ample for every form and command of the API. */
export const DEFAULT_BODY_LIMIT_BYTES = 64 * 1024;

const DECLARED_LIMIT = Symbol('declaredBodyLimit');

type TooLarge = (maxBytes: number) => DomainError;
const payloadTooLarge: TooLarge = (maxBytes) =>
  new PayloadTooLargeError(`the body is larger than this route's limit of ${maxBytes} bytes`);

function refuse(c: Context, error: DomainError): never {
  c.header('Connection', 'close');
  throw error;
}

function declare(middleware: MiddlewareHandler, maxBytes: number): MiddlewareHandler {
  return Object.assign(middleware, { [DECLARED_LIMIT]: maxBytes });
}

/** The limit a route declared (`bodyLimit`, `streamedBodyLimit`), if any; `undefined` for the default. */
export function declaredBodyLimit(handler: unknown): number | undefined {
  const h = handler as { [DECLARED_LIMIT]?: number; __COMPOSED_HANDLER?: unknown } | null;
  const inner = (h?.__COMPOSED_HANDLER ?? h) as { [DECLARED_LIMIT]?: number } | null;
  return inner?.[DECLARED_LIMIT];
}

/** This route's limit, for a body the handler reads whole (JSON, CSV): buffered at most `maxBytes`. */
export function bodyLimit(maxBytes: number, tooLarge: TooLarge = payloadTooLarge): MiddlewareHandler {
  return declare(honoBodyLimit({ maxSize: maxBytes, onError: (c) => refuse(c, tooLarge(maxBytes)) }), maxBytes);
}

/**
 * This route's limit, for a body the handler streams (an upload to disk): only a declared `Content-Length`
 * over the limit is refused here; the handler must count the bytes it streams and stop at `maxBytes`.
 */
export function streamedBodyLimit(maxBytes: number, tooLarge: TooLarge = payloadTooLarge): MiddlewareHandler {
  return declare(async function streamedBodyLimitMiddleware(c, next) {
    const declared = Number(c.req.header('content-length') ?? Number.NaN);
    if (declared > maxBytes) refuse(c, tooLarge(maxBytes));
    await next();
  }, maxBytes);
}

/** For the whole app: the default limit on every route that declares none. */
export function defaultBodyLimit(maxBytes = DEFAULT_BODY_LIMIT_BYTES): MiddlewareHandler {
  const limit = bodyLimit(maxBytes);
  return async function defaultBodyLimitMiddleware(c, next) {
    if (matchedRoutes(c).some((route) => declaredBodyLimit(route.handler) !== undefined)) return next();
    return limit(c, next);
  };
}
