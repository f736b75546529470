/** `/api/v1/auth`: login, logout, who am I, API tokens. */
import { getConnInfo } from '@hono/node-server/conninfo';
import { type Context, Hono } from 'hono';
import { deleteCookie, getCookie, setCookie } from 'hono/cookie';
import { z } from 'zod';
import { NotFoundError, TooManyRequestsError, UnauthorizedError } from '../errors.js';
import type { AppEnv } from '../http/app-env.js';
import { bodyLimit } from '../http/body-limit.js';
import type { RouteDeps } from '../http/route-deps.js';
import { json } from '../http/validate.js';
import { SESSION_COOKIE } from './auth-middleware.js';
import { addressKey, TrustedProxies } from './client-address.js';
import { verifyPassword } from './passwords.js';
import { createApiToken, createSession, deleteSession, findUserForLogin, listApiTokens, revokeApiToken } from './users-repo.js';

const LoginBody = z.object({ username: z.string().min(1).max(100), password: z.string().min(1).max(1000) });
/** Ample for the longest name and password LoginBody accepts; anything bigger is refused unread. */
const LOGIN_BODY_LIMIT_BYTES = 8 * 1024;
const TokenBody = z.object({
  name: z.string().min(1).max(100),
  ttlDays: z.number().int().min(1).max(3650).nullable().default(365),
});

// Compared against when the user does not exist, so an unknown name costs the same time as a wrong password.
const DUMMY_HASH = 'scrypt$16384$8$1$AAAAAAAAAAAAAAAAAAAAAA==$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=';

/** The trusted-client ("device") token a browser gets at login; sent back only to the login route. */
const DEVICE_COOKIE = 'fleet_device';

/** The client's real address: the socket peer, or (from a trusted proxy) X-Forwarded-For's right-most untrusted hop. */
export function clientIp(c: Context, proxies?: TrustedProxies): string {
  let peer: string;
  try {
    peer = getConnInfo(c).remote.address ?? 'unknown';
  } catch {
    peer = 'unknown'; // app.request() in tests has no socket
  }
  return proxies ? proxies.clientAddress(peer, c.req.header('x-forwarded-for')) : peer;
}

export function authRoutes(deps: RouteDeps): Hono<AppEnv> {
  const { db, auth, audit, loginLimiter, config } = deps;
  const log = deps.log.child({ module: 'auth' });
  // Secure cookies on HTTPS (direct, or a PUBLIC_URL behind a TLS-terminating proxy): never sent back in clear.
  const publicHttps = config.PUBLIC_URL?.startsWith('https:') ?? false;
  const app = new Hono<AppEnv>();
  const proxies = new TrustedProxies(config.TRUSTED_PROXIES);
  const { loginPasswordChecks: passwordChecks, loginRefused } = deps.metrics;

  app.post('/login', bodyLimit(LOGIN_BODY_LIMIT_BYTES), json(LoginBody), async (c) => {
    const { username, password } = c.req.valid('json');
    const ip = clientIp(c, proxies);
    const found = findUserForLogin(db, username);
    const attempt = loginLimiter.admit({
      userId: found?.user.id ?? null,
      username,
      address: addressKey(ip),
      deviceToken: getCookie(c, DEVICE_COOKIE),
    });
    if (!attempt.allowed) {
      loginRefused.inc({ reason: attempt.reason });
      log.warn({ username, ip, limit: attempt.reason, waitMs: attempt.waitMs }, 'login refused: too many failed attempts');
      const retryAfterS = Math.ceil(attempt.waitMs / 1000);
      c.header('Retry-After', String(retryAfterS));
      throw new TooManyRequestsError(`too many failed attempts; try again in ${retryAfterS} s`, retryAfterS);
    }
    passwordChecks.inc();
    const ok = await verifyPassword(password, found?.passwordHash ?? DUMMY_HASH);
    if (!found || !ok || found.user.disabled) {
      attempt.failed();
      log.warn({ username, ip, trusted: attempt.trusted }, 'login failed');
      throw new UnauthorizedError('wrong user name or password');
    }
    const deviceToken = attempt.succeeded();
    const session = createSession(db, found.user.id, config.SESSION_TTL);
    const secureCookie = publicHttps || new URL(c.req.url).protocol === 'https:';
    setCookie(c, SESSION_COOKIE, session.id, {
      httpOnly: true,
      sameSite: 'Lax',
      secure: secureCookie,
      path: '/',
      expires: new Date(session.expiresAt),
    });
    setCookie(c, DEVICE_COOKIE, deviceToken, {
      httpOnly: true,
      sameSite: 'Strict',
      secure: secureCookie,
      path: c.req.path,
      maxAge: Math.floor(loginLimiter.deviceTtlMs / 1000),
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

  app.post('/tokens', anyone, json(TokenBody), async (c) => {
    const body = c.req.valid('json');
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
