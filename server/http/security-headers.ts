/**
 * Headers every response carries (hono's secureHeaders): the dashboard's Content-Security-Policy — its own
 * scripts only, nothing inline, no frames of it elsewhere — `nosniff`, no referrer, no embedding. A handler
 * that sets its own policy (stored content files get a sandbox, `content/serve-file.ts`) keeps it.
 * No Strict-Transport-Security: HSTS binds the whole host, and the plain-HTTP port must stay reachable.
 */
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

export function securityHeaders() {
  return secureHeaders({
    contentSecurityPolicy: DASHBOARD_CSP,
    strictTransportSecurity: false,
    crossOriginEmbedderPolicy: false,
    overwrite: false,
  });
}
