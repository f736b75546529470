/**
 * The HTTP app: route modules mounted from `routes.ts`, the edge every request passes first (cross-origin
 * writes refused, body size limited), and the one place errors become responses (`{error: {code, message}}`,
 * never a stack trace).
 */
import { Hono } from 'hono';
import { HTTPException } from 'hono/http-exception';
import type { Logger } from 'pino';
import { DomainError } from '../errors.js';
import type { AppEnv } from './app-env.js';
import { DEFAULT_BODY_LIMIT_BYTES, defaultBodyLimit } from './body-limit.js';
import { sameOriginWrites } from './same-origin.js';
import { securityHeaders } from './security-headers.js';

export interface RouteModule {
  /** Where the module is mounted, e.g. `/api/v1/auth`; `/` for modules that own top-level paths. */
  path: string;
  app: Hono<AppEnv>;
}

export interface HttpAppOptions {
  /** PUBLIC_URL: its origin is this server too when a browser's `Origin` is checked (a proxy may rewrite `Host`). */
  publicUrl?: string | undefined;
  /** Send Strict-Transport-Security on HTTPS responses (off when plaintext HTTP is served beyond loopback). */
  hsts?: boolean;
  /** The body limit of every route that declares none (`body-limit.ts`). */
  defaultBodyLimitBytes?: number;
}

/** Codes for the refusals Hono's own middleware raises as HTTPException. */
const HTTP_EXCEPTION_CODES: Partial<Record<number, string>> = {
  400: 'bad_request',
  401: 'unauthorized',
  403: 'forbidden',
  404: 'not_found',
  413: 'payload_too_large',
  415: 'unsupported_media_type',
};

function clientWentAway(error: Error, request: Request): boolean {
  const code = (error as NodeJS.ErrnoException).code;
  return request.signal.aborted || code === 'ECONNRESET' || code === 'ERR_STREAM_PREMATURE_CLOSE' || error.message === 'aborted';
}

export function buildHttpApp(modules: RouteModule[], log: Logger, options: HttpAppOptions = {}): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  app.use(securityHeaders({ hsts: options.hsts ?? false }));
  app.use('*', sameOriginWrites(options.publicUrl ? [options.publicUrl] : []));
  app.use('*', defaultBodyLimit(options.defaultBodyLimitBytes ?? DEFAULT_BODY_LIMIT_BYTES));
  for (const module of modules) app.route(module.path, module.app);

  app.notFound((c) => c.json({ error: { code: 'not_found', message: `no route for ${c.req.method} ${c.req.path}` } }, 404));

  // Headers set on c before the throw (WWW-Authenticate, Retry-After, Connection: close) are kept.
  app.onError((error, c) => {
    if (error instanceof DomainError) {
      return c.json({ error: { code: error.code, message: error.message } }, error.status);
    }
    if (error instanceof HTTPException) {
      const status = error.status;
      return c.json(
        { error: { code: HTTP_EXCEPTION_CODES[status] ?? 'http_error', message: error.message || 'request refused' } },
        status,
      );
    }
    if (clientWentAway(error, c.req.raw)) {
      // The client hung up mid-request: nobody reads an answer, and it is not the server's fault.
      log.debug({ method: c.req.method, path: c.req.path }, 'client went away mid-request');
      return c.body(null, 499 as never);
    }
    log.error({ err: error, method: c.req.method, path: c.req.path }, 'unhandled error in a route');
    return c.json({ error: { code: 'internal', message: 'internal server error' } }, 500);
  });
  return app;
}
