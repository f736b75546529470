/**
 * Cross-site request forgery. A browser attaches the session cookie to a request another page makes it
 * send; SameSite=Lax keeps it off cross-*site* POSTs but not off those from another origin of the same
 * site (another port or subdomain of the server's host). So every state-changing request (anything but
 * GET, HEAD, OPTIONS) that a browser sends from another origin is refused with 403 `cross_origin`:
 *
 * - `Sec-Fetch-Site` (every current browser sends it) must be `same-origin` or `none` (typed by the user);
 * - without it, an `Origin` must name this server: its host equals the request's `Host`, or it is the
 *   configured PUBLIC_URL's origin (a reverse proxy that rewrites `Host`);
 * - a request with neither header does not come from a browser (the CLI, devices, scripts) and passes.
 *
 * `Authorization: Bearer` requests are exempt: a browser never adds that header by itself (another page
 * would need CORS, which this server does not grant), so they carry no ambient credential. Device requests
 * (HTTP Basic) come from agents, which send neither header. The same design as Go's
 * `http.CrossOriginProtection`. JSON bodies must also be sent as `application/json` (`validate.ts`), which
 * a cross-site form cannot do.
 */
import type { MiddlewareHandler } from 'hono';
import { ForbiddenError } from '../errors.js';

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

function hostOf(origin: string): string | null {
  try {
    return new URL(origin).host.toLowerCase();
  } catch {
    return null; // "null" (a sandboxed or opaque origin) or garbage
  }
}

/** `trustedOrigins`: origins other than the request's own host that are this server (PUBLIC_URL). */
export function sameOriginWrites(trustedOrigins: readonly string[] = []): MiddlewareHandler {
  const trusted = new Set(trustedOrigins.map((o) => new URL(o).origin));
  return async function sameOriginMiddleware(c, next) {
    if (SAFE_METHODS.has(c.req.method)) return next();
    if (c.req.header('authorization')?.startsWith('Bearer ')) return next();
    const origin = c.req.header('origin');
    if (origin !== undefined && trusted.has(origin)) return next();
    const site = c.req.header('sec-fetch-site');
    if (site !== undefined) {
      if (site === 'same-origin' || site === 'none') return next();
    } else if (origin === undefined) {
      return next(); // not sent by a browser
    } else {
      const host = c.req.header('host')?.toLowerCase();
      if (host !== undefined && hostOf(origin) === host) return next();
    }
    throw new ForbiddenError(
      `a ${c.req.method} from another site (${origin ?? site}) is refused; use the dashboard or an API token`,
      'cross_origin',
    );
  };
}
