/** `/api/v1/auth`: login, logout, who am I, API tokens. */
import { getConnInfo } from '@hono/node-server/conninfo';
import { type Context, Hono } from 'hono';
import { deleteCookie, getCookie, setCookie } from 'hono/cookie';
import { z } from 'zod';
import { NotFoundError, TooManyRequestsError, UnauthorizedError } from '../errors.js';
import type { AppEnv } from '../http/app-env.js';
import type { RouteDeps } from '../http/route-deps.js';
import { jsonBody } from '../http/validate.js';
import { SESSION_COOKIE } from './auth-middleware.js';
import { verifyPassword } from './passwords.js';
import { createApiToken, createSession, deleteSession, findUserForLogin, listApiTokens, revokeApiToken } from './users-repo.js';

const LoginBody = z.object({ username: z.string().min(1).max(100), password: z.string().min(1).max(1000) });
const TokenBody = z.object({
  name: z.string().min(1).max(100),
  ttlDays: z.number().int().min(1).max(3650).nullable().default(365),
});

// Compared against when the user does not exist, so an unknown name costs the same time as a wrong password.
const DUMMY_HASH = 'scrypt$16384$8$1$AAAAAAAAAAAAAAAAAAAAAA==$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=';

export function clientIp(c: Context): string {
  try {
    return getConnInfo(c).remote.address ?? 'unknown';
  } catch {
    return 'unknown'; // app.request() in tests has no socket
  }
}

export function authRoutes(deps: RouteDeps): Hono<AppEnv> {
  const { db, auth, audit, loginLimiter, config } = deps;
  const log = deps.log.child({ module: 'auth' });
  const secureCookie = config.PUBLIC_URL?.startsWith('https:') ?? false;
  const app = new Hono<AppEnv>();

  app.post('/login', async (c) => {
    const { username, password } = await jsonBody(c, LoginBody);
    const ip = clientIp(c);
    const waitMs = loginLimiter.waitMs(username, ip);
    if (waitMs > 0) {
      log.warn({ username, ip, waitMs }, 'login refused: too many failed attempts');
      const retryAfterS = Math.ceil(waitMs / 1000);
      c.header('Retry-After', String(retryAfterS));
      throw new TooManyRequestsError(`too many failed attempts; try again in ${retryAfterS} s`, retryAfterS);
    }
    const found = findUserForLogin(db, username);
    const ok = await verifyPassword(password, found?.passwordHash ?? DUMMY_HASH);
    if (!found || !ok || found.user.disabled) {
      const failures = loginLimiter.failed(username, ip);
      log.warn({ username, ip, failures }, 'login failed');
      throw new UnauthorizedError('wrong user name or password');
    }
    loginLimiter.succeeded(username, ip);
    const session = createSession(db, found.user.id, config.SESSION_TTL);
    setCookie(c, SESSION_COOKIE, session.id, {
      httpOnly: true,
      sameSite: 'Lax',
      secure: secureCookie,
      path: '/',
      expires: new Date(session.expiresAt),
    });
    log.info({ username, ip }, 'login');
    audit({ actor: username, action: 'auth.login', target: username, detail: { ip } });
    return c.json({ user: { username: found.user.username, role: found.user.role } });
  });

  app.post('/logout', async (c) => {
    const id = getCookie(c, SESSION_COOKIE);
    if (id) deleteSession(db, id);
    deleteCookie(c, SESSION_COOKIE, { path: '/' });
    return c.body(null, 204);
  });

  const anyone = auth.requireRole('admin', 'department', 'editor', 'approver', 'technician');

  app.get('/me', anyone, (c) => {
    const user = c.get('user');
    return c.json({ user: { username: user.username, role: user.role } });
  });

  app.post('/tokens', anyone, async (c) => {
    const body = await jsonBody(c, TokenBody);
    const user = c.get('user');
    const { token, info } = createApiToken(db, {
      userId: user.id,
      name: body.name,
      ttlMs: body.ttlDays === null ? null : body.ttlDays * 86_400_000,
    });
    audit({
      actor: user.username,
      action: 'token.create',
      target: info.id,
      detail: { name: body.name, expiresAt: info.expiresAt },
    });
    return c.json({ token, ...info }, 201);
  });

  app.get('/tokens', anyone, (c) => c.json({ tokens: listApiTokens(db, c.get('user').id) }));

  app.delete('/tokens/:id', anyone, (c) => {
    const user = c.get('user');
    if (!revokeApiToken(db, user.id, c.req.param('id'))) throw new NotFoundError('token');
    audit({ actor: user.username, action: 'token.revoke', target: c.req.param('id') });
    return c.body(null, 204);
  });

  return app;
}
