/**
 * The department's people as API-token callers of a real server (inserted in its DB, no password sign-in): an
 * admin, and an editor and approver who publish a text bulletin to every site.
 */
import { expect } from 'vitest';
import { createApiToken, insertUser } from '../../server/auth/users-repo.js';
import type { TestServer } from '../../server/testing/test-server.js';

export type Call = (method: string, path: string, body?: unknown) => Promise<Response>;

/** A caller of `baseUrl` that sends `token` as a Bearer token and bodies as JSON. */
export function bearerCaller(baseUrl: string, token: string): Call {
  return (method, path, body) =>
    fetch(`${baseUrl}${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
}

/** An admin caller, and `publish()` that has an editor write and an approver publish a bulletin (body `text`). */
export function tokenPeople(server: { db: TestServer['db']; httpUrl: string }, text: string) {
  const token = (username: string, role: 'admin' | 'editor' | 'approver') => {
    const user = insertUser(server.db, { username, role, passwordHash: 'unused: token sign-in' });
    return createApiToken(server.db, { userId: user.id, name: 'test', ttlMs: null }).token;
  };
  const admin = bearerCaller(server.httpUrl, token('root-admin', 'admin'));
  const editor = bearerCaller(server.httpUrl, token('bt', 'editor'));
  const approver = bearerCaller(server.httpUrl, token('pd', 'approver'));
  let n = 0;
  /** Publishes one text bulletin to every site; returns its id. */
  async function publish(): Promise<string> {
    const id = `bulletin-${++n}`;
    expect((await editor('POST', '/api/v1/content', { kind: 'bulletin', id })).status).toBe(201);
    expect((await editor('PUT', `/api/v1/content/${id}/translations/vi`, { title: `Tin ${n}`, body: text })).status).toBe(200);
    expect((await editor('POST', `/api/v1/content/${id}/submit`)).status).toBe(200);
    expect((await approver('POST', `/api/v1/content/${id}/approve`)).status).toBe(200);
    expect((await approver('POST', `/api/v1/content/${id}/publish`)).status).toBe(200);
    return id;
  }
  return { admin, publish };
}
