/**
 * Headers every response carries (hono's secureHeaders): the dashboard's Content-Security-Policy — its own
 * scripts only, nothing inline, no frames of it elsewhere — `nosniff`, no referrer, no embedding. A handler
 * that sets its own policy (stored content files get a sandbox, `content/serve-file.ts`) keeps it.
 * Strict-Transport-Security only on HTTPS responses and only when plaintext HTTP is not served beyond loopback
 * (`PLAINTEXT` is not `on`): HSTS binds the whole host name, every port of it.
 */
import type { MiddlewareHandler } from 'hono';
import { secureHeaders } from 'hono/secure-headers';

export const DASHBOARD_CSP = {
  defaultSrc: ["'self'"],
  scriptSrc: ["'self'"],
  // Style attributes set by the dashboard's own modules (chart bars, map colours).
  styleSrc: ["'self'", "'unsafe-inline'"],
  imgSrc: ["'self'", 'data:', 'blob:'],
  fontSrc: ["'self'"],
  connectSrc: ["'self'"],
  objectSrc: ["'none'"],
  baseUri: ["'none'"],
  formAction: ["'self'"],
  frameAncestors: ["'none'"],
};

const HSTS = 'max-age=31536000';

export function securityHeaders(options: { hsts: boolean }): MiddlewareHandler {
  const common = secureHeaders({
    contentSecurityPolicy: DASHBOARD_CSP,
    strictTransportSecurity: false,
    crossOriginEmbedderPolicy: false,
    overwrite: false,
  });
  return async (c, next) => {
    await common(c, next);
    if (options.hsts && new URL(c.req.url).protocol === 'https:') c.res.headers.set('Strict-Transport-Security', HSTS);
  };
}
