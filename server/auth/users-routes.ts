/** `/api/v1/users` (admin): list, create, change role, disable, reset password. `/api/v1/audit` (admin). */
import { Hono } from 'hono';
import { z } from 'zod';
import { PasswordReset, UserOut, UserTokens } from '../../protocol/api.js';
import { Role } from '../../protocol/index.js';
import { ConflictError, NotFoundError } from '../errors.js';
import type { AppEnv } from '../http/app-env.js';
import type { RouteDeps } from '../http/route-deps.js';
import { json, query } from '../http/validate.js';
import { listAudit } from './audit.js';
import { generatePassword, hashPassword } from './passwords.js';
import { getUser, insertUser, listApiTokens, listUsers, revokeApiToken, updateUser } from './users-repo.js';

const Username = z.string().regex(/^[a-z0-9][a-z0-9._-]{1,63}$/, 'lower-case letters, digits, ".", "_" or "-"');
const CreateUser = z.object({ username: Username, role: Role, password: z.string().min(8).max(1000).optional() });
const ChangeUser = z
  .object({ role: Role, disabled: z.boolean(), password: z.string().min(8).max(1000) })
  .partial()
  .refine((v) => Object.keys(v).length > 0, 'nothing to change');

export function usersRoutes(deps: RouteDeps): Hono<AppEnv> {
  const { db, auth, audit } = deps;
  const app = new Hono<AppEnv>();
  app.use('*', auth.requireRole('admin'));

  app.get('/', (c) => c.json({ users: listUsers(db) }));

  app.post('/', json(CreateUser), async (c) => {
    const body = c.req.valid('json');
    if (getUser(db, body.username)) throw new ConflictError(`user ${body.username} exists`);
    const password = body.password ?? generatePassword();
    const user = insertUser(db, { username: body.username, role: body.role, passwordHash: await hashPassword(password) });
    audit({ actor: c.get('user').username, action: 'user.create', target: user.username, detail: { role: user.role } });
    // A generated password is shown here once.
    return c.json({ user, ...(body.password ? {} : { password }) }, 201);
  });

  app.patch('/:username', json(ChangeUser), async (c) => {
    const body = c.req.valid('json');
    const username = c.req.param('username');
    const passwordHash = body.password ? await hashPassword(body.password) : undefined;
    const user = updateUser(db, username, { role: body.role, disabled: body.disabled, passwordHash });
    if (!user) throw new NotFoundError(`user ${username}`);
    audit({
      actor: c.get('user').username,
      action: 'user.update',
      target: username,
      detail: { role: body.role, disabled: body.disabled, passwordChanged: body.password !== undefined },
    });
    return c.json({ user });
  });

  // A new one-time password, generated here and answered once (only its hash is stored); open sessions end.
  app.post('/:username/reset-password', async (c) => {
    const username = c.req.param('username');
    if (!getUser(db, username)) throw new NotFoundError(`user ${username}`);
    const password = generatePassword();
    const sessionsEnded = db
      .prepare('SELECT count(*) FROM sessions WHERE user_id = (SELECT id FROM users WHERE username = ?)')
      .pluck()
      .get(username) as number;
    const user = updateUser(db, username, { passwordHash: await hashPassword(password) });
    audit({ actor: c.get('user').username, action: 'user.reset_password', target: username });
    c.header('cache-control', 'no-store');
    return c.json(PasswordReset.parse({ user: UserOut.parse(user), password, sessionsEnded }));
  });

  app.get('/:username/tokens', (c) => {
    const user = getUser(db, c.req.param('username'));
    if (!user) throw new NotFoundError(`user ${c.req.param('username')}`);
    return c.json(UserTokens.parse({ username: user.username, tokens: listApiTokens(db, user.id) }));
  });

  app.delete('/:username/tokens/:id', (c) => {
    const user = getUser(db, c.req.param('username'));
    if (!user) throw new NotFoundError(`user ${c.req.param('username')}`);
    const id = c.req.param('id');
    if (!revokeApiToken(db, user.id, id)) throw new NotFoundError(`token ${id} of ${user.username}`);
    audit({ actor: c.get('user').username, action: 'token.revoke', target: user.username, detail: { tokenId: id } });
    return c.json(UserTokens.parse({ username: user.username, tokens: listApiTokens(db, user.id) }));
  });

  return app;
}

const AuditQuery = z.object({
  limit: z.coerce.number().int().min(1).max(1000).default(100),
  before: z.coerce.number().int().positive().optional(),
  actor: z.string().max(100).optional(),
  action: z.string().max(100).optional(),
});

export function auditRoutes(deps: RouteDeps): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  app.get('/', deps.auth.requireRole('admin'), query(AuditQuery), (c) => {
    const q = c.req.valid('query');
    return c.json({ entries: listAudit(deps.db, { limit: q.limit, beforeId: q.before, actor: q.actor, action: q.action }) });
  });
  return app;
}
