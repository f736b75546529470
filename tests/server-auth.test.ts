/** Issue 3/8 (core): login, sessions, roles, API tokens, user management, audit, rate limiting; error shape. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HttpSession, startTestServer, TEST_ADMIN_PASSWORD, type TestServer } from '../server/testing/test-server.js';

let server: TestServer;
beforeAll(async () => {
  // A long first delay, so the slow-down test cannot outwait it on a loaded machine.
  server = await startTestServer({ LOGIN_DELAY: '60s' });
});
afterAll(async () => {
  await server?.stop();
});

describe('auth', () => {
  it('logs the first admin in with ADMIN_PASSWORD and sets an HttpOnly SameSite=Lax session cookie', async () => {
    const admin = new HttpSession(server.httpUrl);
    const response = await admin.login('admin', TEST_ADMIN_PASSWORD);
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ user: { username: 'admin', role: 'admin' } });
    const cookie = response.headers.get('set-cookie') ?? '';
    expect(cookie).toMatch(/HttpOnly/i);
    expect(cookie).toMatch(/SameSite=Lax/i);
    expect(await admin.json('GET', '/api/v1/auth/me')).toEqual({
      status: 200,
      body: { user: { username: 'admin', role: 'admin' } },
    });
    // The session id is stored hashed, never as sent.
    const sessionId = (cookie.split(';')[0] as string).split('=')[1] as string;
    expect(server.db.prepare('SELECT count(*) FROM sessions WHERE id_hash = ?').pluck().get(sessionId)).toBe(0);
    expect((await admin.request('POST', '/api/v1/auth/logout')).status).toBe(204);
    expect((await admin.json('GET', '/api/v1/auth/me')).status).toBe(401);
  });

  it('answers errors as {error:{code,message}} and unknown paths as JSON 404', async () => {
    const anon = new HttpSession(server.httpUrl);
    expect(await anon.json('GET', '/api/v1/devices')).toMatchObject({ status: 401, body: { error: { code: 'unauthorized' } } });
    expect(await anon.json('GET', '/api/v1/nothing-here')).toMatchObject({ status: 404, body: { error: { code: 'not_found' } } });
    const bad = await anon.request('POST', '/api/v1/auth/login', undefined, { 'content-type': 'application/json' });
    expect(bad.status).toBe(400);
    expect(await bad.json()).toMatchObject({ error: { code: 'invalid_json' } });
  });

  it('lets an admin create users; roles are enforced; changes are audited', async () => {
    const admin = new HttpSession(server.httpUrl);
    await admin.login('admin', TEST_ADMIN_PASSWORD);
    const created = await admin.json<{ user: { username: string }; password: string }>('POST', '/api/v1/users', {
      username: 'tech1',
      role: 'technician',
    });
    expect(created.status).toBe(201);
    expect(created.body.password).toHaveLength(24);
    expect((await admin.json('POST', '/api/v1/users', { username: 'tech1', role: 'editor' })).status).toBe(409);

    const tech = new HttpSession(server.httpUrl);
    expect((await tech.login('tech1', created.body.password)).status).toBe(200);
    expect((await tech.json('GET', '/api/v1/devices')).status).toBe(200);
    expect(await tech.json('GET', '/api/v1/users')).toMatchObject({ status: 403, body: { error: { code: 'forbidden' } } });
    expect((await tech.json('GET', '/api/v1/audit')).status).toBe(403);
    expect((await tech.json('POST', '/api/v1/devices/none/revoke')).status).toBe(403);

    // Promote to department: revoke becomes reachable (404 for an unknown device).
    expect((await admin.json('PATCH', '/api/v1/users/tech1', { role: 'department' })).status).toBe(200);
    expect((await tech.json('POST', '/api/v1/devices/none/revoke')).status).toBe(404);
    // Disabling ends the session at once.
    expect((await admin.json('PATCH', '/api/v1/users/tech1', { disabled: true })).status).toBe(200);
    expect((await tech.json('GET', '/api/v1/auth/me')).status).toBe(401);
    expect((await tech.login('tech1', created.body.password)).status).toBe(401);

    const audit = await admin.json<{ entries: Array<{ actor: string; action: string; target: string }> }>(
      'GET',
      '/api/v1/audit?limit=50',
    );
    const actions = audit.body.entries.map((e) => `${e.actor} ${e.action} ${e.target}`);
    expect(actions).toEqual(expect.arrayContaining(['admin user.create tech1', 'admin user.update tech1']));
  });

  it('issues API tokens shown once, stored hashed, usable as Bearer, revocable', async () => {
    const admin = new HttpSession(server.httpUrl);
    await admin.login('admin', TEST_ADMIN_PASSWORD);
    const created = await admin.json<{ token: string; id: string }>('POST', '/api/v1/auth/tokens', { name: 'script' });
    expect(created.status).toBe(201);
    const { token, id } = created.body;
    expect(server.db.prepare('SELECT count(*) FROM api_tokens WHERE token_hash = ?').pluck().get(token)).toBe(0);
    const listed = await admin.json<{ tokens: Array<Record<string, unknown>> }>('GET', '/api/v1/auth/tokens');
    expect(JSON.stringify(listed.body)).not.toContain(token);

    const bearer = (path: string) => fetch(`${server.httpUrl}${path}`, { headers: { authorization: `Bearer ${token}` } });
    expect((await bearer('/api/v1/users')).status).toBe(200);
    expect((await fetch(`${server.httpUrl}/api/v1/users`, { headers: { authorization: 'Bearer fleet_wrong' } })).status).toBe(
      401,
    );
    expect((await admin.request('DELETE', `/api/v1/auth/tokens/${id}`)).status).toBe(204);
    expect((await bearer('/api/v1/users')).status).toBe(401);
  });

  it('slows down repeated failed logins per user name and IP, and refuses even the right password meanwhile', async () => {
    const admin = new HttpSession(server.httpUrl);
    await admin.login('admin', TEST_ADMIN_PASSWORD);
    await admin.json('POST', '/api/v1/users', { username: 'editor1', role: 'editor', password: 'editor-password' });
    const guesser = new HttpSession(server.httpUrl);
    const statuses: number[] = [];
    for (let i = 0; i < 5; i++) statuses.push((await guesser.login('editor1', `guess-${i}`)).status);
    // Three free failures, then the next attempts must wait and are refused with 429 and Retry-After.
    expect(statuses).toEqual([401, 401, 401, 429, 429]);
    const limited = await guesser.login('editor1', 'editor-password');
    expect(limited.status).toBe(429);
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThan(50);
    // Another user name from the same IP is not affected.
    expect((await new HttpSession(server.httpUrl).login('admin', TEST_ADMIN_PASSWORD)).status).toBe(200);
  });

  it('serves /healthz and Prometheus /metrics', async () => {
    expect(await (await fetch(`${server.httpUrl}/healthz`)).json()).toEqual({ ok: true });
    const metrics = await (await fetch(`${server.httpUrl}/metrics`)).text();
    expect(metrics).toContain('# TYPE fleet_devices_connected gauge');
    expect(metrics).toContain('fleet_ingest_commit_seconds_bucket');
    expect(metrics).toMatch(/fleet_db_size_bytes [1-9]\d*/);
  });
});
