/**
 * `requireRole(...roles)` guards every human route (session cookie or `Authorization: Bearer <api token>`)
 * and sets `c.var.user`; `admin` passes every role check. `requireDevice()` guards device routes (HTTP Basic
 * with device id and secret) and sets `c.var.device`.
 */
import { getCookie } from 'hono/cookie';
import { createMiddleware } from 'hono/factory';
import type { Role } from '../../protocol/index.js';
import type { Database } from '../db/open-database.js';
import { ForbiddenError, UnauthorizedError } from '../errors.js';
import type { AppEnv } from '../http/app-env.js';
import { verifyDeviceSecret } from '../registry/device-secret.js';
import { getDeviceRow } from '../registry/devices-repo.js';
import { findSessionUser, findTokenUser, type User } from './users-repo.js';

export const SESSION_COOKIE = 'fleet_session';

export function createAuthMiddleware(db: Database) {
  function authenticate(
    authorization: string | undefined,
    sessionId: string | undefined,
  ): (User & { via: 'session' | 'token' }) | null {
    if (authorization?.startsWith('Bearer ')) {
      const user = findTokenUser(db, authorization.slice('Bearer '.length).trim());
      return user ? { ...user, via: 'token' } : null;
    }
    if (sessionId) {
      const user = findSessionUser(db, sessionId);
      return user ? { ...user, via: 'session' } : null;
    }
    return null;
  }

  function requireRole(...roles: Role[]) {
    return createMiddleware<AppEnv>(async function requireRoleMiddleware(c, next) {
      const user = authenticate(c.req.header('authorization'), getCookie(c, SESSION_COOKIE));
      if (!user) throw new UnauthorizedError();
      if (user.role !== 'admin' && !roles.includes(user.role)) throw new ForbiddenError();
      c.set('user', { id: user.id, username: user.username, role: user.role, via: user.via });
      await next();
    });
  }

  function requireDevice() {
    return createMiddleware<AppEnv>(async function requireDeviceMiddleware(c, next) {
      const header = c.req.header('authorization');
      const refuse = () => {
        c.header('WWW-Authenticate', 'Basic realm="devices"');
        return new UnauthorizedError('device credentials required');
      };
      if (!header?.startsWith('Basic ')) throw refuse();
      const decoded = Buffer.from(header.slice('Basic '.length).trim(), 'base64').toString('utf8');
      const colon = decoded.indexOf(':');
      if (colon < 1) throw refuse();
      const row = getDeviceRow(db, decoded.slice(0, colon));
      if (!row || row.status === 'decommissioned' || !verifyDeviceSecret(decoded.slice(colon + 1), row.secret_hash))
        throw refuse();
      c.set('device', { id: row.id, siteId: row.site_id, status: row.status });
      await next();
    });
  }

  return { requireRole, requireDevice };
}
export type AuthMiddleware = ReturnType<typeof createAuthMiddleware>;
