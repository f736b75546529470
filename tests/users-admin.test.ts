/**
 * People (issue 16): an admin resets a password (a one-time password answered once; the old one and the open
 * sessions stop working), lists a user's API tokens and revokes one (it stops working); every action audited.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listAudit } from '../server/auth/audit.js';
import { createApiToken, getUser } from '../server/auth/users-repo.js';
import { HttpSession, startTestServer, TEST_ADMIN_PASSWORD, type TestServer } from '../server/testing/test-server.js';

let server: TestServer;
let admin: HttpSession;

beforeAll(async () => {
  server = await startTestServer();
  admin = new HttpSession(server.httpUrl);
  expect((await admin.login('admin', TEST_ADMIN_PASSWORD)).status).toBe(200);
  expect(
    (await admin.json('POST', '/api/v1/users', { username: 'lan', role: 'editor', password: 'first-password-1' })).status,
  ).toBe(201);
});

afterAll(async () => {
  await server?.stop();
});

describe('admin actions on a user', () => {
  it('reset-password answers a one-time password once; the old password and session stop working', async () => {
    const lan = new HttpSession(server.httpUrl);
    expect((await lan.login('lan', 'first-password-1')).status).toBe(200);
    const reset = await admin.json<{ password: string; sessionsEnded: number; user: { username: string } }>(
      'POST',
      '/api/v1/users/lan/reset-password',
    );
    expect(reset.status).toBe(200);
    expect(reset.body.password.length).toBeGreaterThanOrEqual(12);
    expect(reset.body.sessionsEnded).toBe(1);
    expect((await lan.json('GET', '/api/v1/auth/me')).status).toBe(401);
    expect((await new HttpSession(server.httpUrl).login('lan', 'first-password-1')).status).toBe(401);
    expect((await new HttpSession(server.httpUrl).login('lan', reset.body.password)).status).toBe(200);
    expect(listAudit(server.db, { limit: 5, action: 'user.reset_password' })[0]?.target).toBe('lan');
    expect((await admin.json('POST', '/api/v1/users/nobody/reset-password')).status).toBe(404);
  });

  it('lists a user’s API tokens and revokes one, which then stops working', async () => {
    const user = getUser(server.db, 'lan');
    const { token, info } = createApiToken(server.db, { userId: user?.id as number, name: 'laptop', ttlMs: null });
    const list = await admin.json<{ tokens: { id: string; name: string; revokedAt: number | null }[] }>(
      'GET',
      '/api/v1/users/lan/tokens',
    );
    expect(list.body.tokens.map((t) => [t.id, t.name, t.revokedAt])).toContainEqual([info.id, 'laptop', null]);
    const me = () => fetch(`${server.httpUrl}/api/v1/auth/me`, { headers: { authorization: `Bearer ${token}` } });
    expect((await me()).status).toBe(200);
    const revoked = await admin.json<{ tokens: { id: string; revokedAt: number | null }[] }>(
      'DELETE',
      `/api/v1/users/lan/tokens/${info.id}`,
    );
    expect(revoked.status).toBe(200);
    expect(revoked.body.tokens.find((t) => t.id === info.id)?.revokedAt).toBeTypeOf('number');
    expect((await me()).status).toBe(401);
    expect(listAudit(server.db, { limit: 5, action: 'token.revoke' })[0]?.target).toBe('lan');
  });

  it('is for admins only', async () => {
    const lan = new HttpSession(server.httpUrl);
    const reset = await admin.json<{ password: string }>('POST', '/api/v1/users/lan/reset-password');
    await lan.login('lan', reset.body.password);
    expect((await lan.json('GET', '/api/v1/users/lan/tokens')).status).toBe(403);
  });
});
