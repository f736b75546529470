/**
 * The HTTP app: route modules mounted from `routes.ts`, and the one place errors become responses
 * (`{error: {code, message}}`, never a stack trace).
 */
import { Hono } from 'hono';
import { HTTPException } from 'hono/http-exception';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import type { Logger } from 'pino';
import { DomainError } from '../errors.js';
import type { AppEnv } from './app-env.js';
import { securityHeaders } from './security-headers.js';

export interface RouteModule {
  /** Where the module is mounted, e.g. `/api/v1/auth`; `/` for modules that own top-level paths. */
  path: string;
  app: Hono<AppEnv>;
}

/**
 * Modules may keep their own error classes: any error carrying a 4xx `status` and a string `code` is a
 * domain error and is answered as such (everything else is a 500 without details).
 */
function isDomainLike(error: unknown): error is Error & { status: number; code: string } {
  const e = error as { status?: unknown; code?: unknown };
  return (
    error instanceof Error && typeof e.status === 'number' && e.status >= 400 && e.status < 500 && typeof e.code === 'string'
  );
}

export function buildHttpApp(modules: RouteModule[], log: Logger): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  app.use(securityHeaders());
  for (const module of modules) app.route(module.path, module.app);

  app.notFound((c) => c.json({ error: { code: 'not_found', message: `no route for ${c.req.method} ${c.req.path}` } }, 404));

  app.onError((error, c) => {
    if (error instanceof DomainError || isDomainLike(error)) {
      return c.json({ error: { code: error.code, message: error.message } }, error.status as ContentfulStatusCode);
    }
    if (error instanceof HTTPException) {
      // Headers a middleware set (WWW-Authenticate, Retry-After) are kept on c.
      const status = error.status;
      return c.json(
        { error: { code: status === 413 ? 'payload_too_large' : 'http_error', message: error.message || 'request refused' } },
        status,
      );
    }
    log.error({ err: error, method: c.req.method, path: c.req.path }, 'unhandled error in a route');
    return c.json({ error: { code: 'internal', message: 'internal server error' } }, 500);
  });
  return app;
}
