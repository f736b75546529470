/** A real test server (in process, port 0) with the admin signed in, for tests that drive its HTTP API. */
import { expect } from 'vitest';
import { HttpSession, startTestServer, TEST_ADMIN_PASSWORD, type TestServer } from '../../server/testing/test-server.js';

/** Starts a test server and signs the admin in (expects 200); the caller stops the server. */
export async function startServerAsAdmin(): Promise<{ server: TestServer; admin: HttpSession }> {
  const server = await startTestServer();
  const admin = new HttpSession(server.httpUrl);
  expect((await admin.login('admin', TEST_ADMIN_PASSWORD)).status).toBe(200);
  return { server, admin };
}
