import { Hono } from 'hono';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { type Database, openDatabase } from '../db/open-database.js';
import { buildHttpApp } from '../http/app.js';
import type { AppEnv } from '../http/app-env.js';
import { decommissionDevice, registerDevice } from '../registry/devices-repo.js';
import { createAuthMiddleware } from './auth-middleware.js';

let db: Database;
afterEach(() => db?.close());

function deviceApp() {
  db = openDatabase(':memory:');
  registerDevice(db, { id: 'k-1', secret: 'the-device-secret-0123' });
  const { requireDevice } = createAuthMiddleware(db);
  const routes = new Hono<AppEnv>();
  routes.get('/whoami', requireDevice(), (c) => c.json({ device: c.get('device').id }));
  return buildHttpApp([{ path: '/', app: routes }], pino({ level: 'silent' }));
}
const basic = (user: string, password: string) => ({
  authorization: `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`,
});

describe('requireDevice', () => {
  it('accepts HTTP Basic with the device id and secret, sets c.var.device', async () => {
    const app = deviceApp();
    const ok = await app.request('/whoami', { headers: basic('k-1', 'the-device-secret-0123') });
    expect(await ok.json()).toEqual({ device: 'k-1' });
  });

  it('refuses a missing header, a wrong secret, an unknown and a decommissioned device with 401 JSON', async () => {
    const app = deviceApp();
    const none = await app.request('/whoami');
    expect(none.status).toBe(401);
    expect(none.headers.get('www-authenticate')).toMatch(/Basic/);
    expect(await none.json()).toMatchObject({ error: { code: 'unauthorized' } });
    expect((await app.request('/whoami', { headers: basic('k-1', 'wrong') })).status).toBe(401);
    expect((await app.request('/whoami', { headers: basic('k-2', 'the-device-secret-0123') })).status).toBe(401);
    decommissionDevice(db, 'k-1');
    expect((await app.request('/whoami', { headers: basic('k-1', 'the-device-secret-0123') })).status).toBe(401);
  });
});
