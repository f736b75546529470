/** Issue 2/8: the HTTP registry — sites, devices (filters, pages), health history — and its role checks. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { topics } from '../protocol/index.js';
import {
  addDevice,
  connectDevice,
  HttpSession,
  healthSample,
  startTestServer,
  TEST_ADMIN_PASSWORD,
  type TestServer,
  waitFor,
} from '../server/testing/test-server.js';

let server: TestServer;
let admin: HttpSession;
let editor: HttpSession;
beforeAll(async () => {
  server = await startTestServer();
  admin = new HttpSession(server.httpUrl);
  await admin.login('admin', TEST_ADMIN_PASSWORD);
  await admin.json('POST', '/api/v1/users', { username: 'editor2', role: 'editor', password: 'editor2-password' });
  editor = new HttpSession(server.httpUrl);
  await editor.login('editor2', 'editor2-password');
});
afterAll(async () => {
  await server?.stop();
});

describe('registry API', () => {
  it('lists the seeded sites with filters, and one site', async () => {
    const communes = await editor.json<{ sites: Array<{ id: string; parentId: string }> }>(
      'GET',
      '/api/v1/sites?kind=commune&border=true',
    );
    expect(communes.body.sites).toHaveLength(7);
    const one = await admin.json<{ site: { name: string; kind: string } }>('GET', '/api/v1/sites/gl-g-lethanh');
    expect(one.body.site).toMatchObject({ kind: 'gate', name: 'Cửa khẩu Quốc tế Lệ Thanh' });
    expect((await admin.json('GET', '/api/v1/sites/nowhere')).status).toBe(404);
    expect((await admin.json('GET', '/api/v1/sites?kind=planet')).status).toBe(400);
  });

  it('lists devices by site, status and presence, in pages; editors may not', async () => {
    for (let i = 0; i < 5; i++) addDevice(server, `reg-${i}`, i < 3 ? 'gl-c-iao' : 'gl-c-iachia');
    const live = addDevice(server, 'reg-live', 'gl-c-iao');
    const client = await connectDevice(server.mqttUrl, live.id, live.secret);
    try {
      await waitFor(() => server.db.prepare('SELECT online FROM devices WHERE id = ?').pluck().get(live.id) === 1, 'online');
      const page = await admin.json<{ total: number; devices: Array<{ id: string }> }>(
        'GET',
        '/api/v1/devices?site=gl-c-iao&limit=2&offset=0',
      );
      expect(page.body.total).toBe(4);
      expect(page.body.devices.map((d) => d.id)).toEqual(['reg-0', 'reg-1']);
      const online = await admin.json<{ devices: Array<{ id: string; status: string }> }>('GET', '/api/v1/devices?online=true');
      expect(online.body.devices).toEqual([expect.objectContaining({ id: 'reg-live', status: 'active' })]);
      const provisioned = await admin.json<{ total: number }>('GET', '/api/v1/devices?status=provisioned');
      expect(provisioned.body.total).toBe(5);
      expect((await admin.json('GET', '/api/v1/devices/reg-live')).body).toMatchObject({
        device: { id: 'reg-live', online: true },
      });
      expect((await admin.json('GET', '/api/v1/devices/none')).status).toBe(404);
      expect((await editor.json('GET', '/api/v1/devices')).status).toBe(403);

      // Health history: raw samples and hourly roll-ups.
      await client.publishAsync(topics.health(live.id), JSON.stringify({ samples: [healthSample(1), healthSample(2)] }), {
        qos: 1,
      });
      const raw = await admin.json<{ samples: Array<{ seq: number }> }>('GET', `/api/v1/devices/${live.id}/health`);
      expect(raw.body.samples.map((s) => s.seq)).toEqual([1, 2]);
      const hour = await admin.json<{ resolution: string; hours: unknown[] }>(
        'GET',
        `/api/v1/devices/${live.id}/health?resolution=hour`,
      );
      expect(hour).toMatchObject({ status: 200, body: { resolution: 'hour', hours: [] } });
      expect((await admin.json('GET', `/api/v1/devices/${live.id}/health?resolution=minute`)).status).toBe(400);
    } finally {
      client.end(true);
    }
  });
});
