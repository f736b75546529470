/** Whole stack: createServer with the content module wired, a device on MQTT receives the manifest notice. */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { checkManifest, type SignedManifest, topics } from '../protocol/index.js';
import { createApiToken, insertUser } from '../server/auth/users-repo.js';
import { testConfig } from '../server/config.js';
import { loadOrCreateSigningKeys } from '../server/content/index.js';
import { basic, client, sampleFiles } from '../server/content/testing.js';
import { createServer, type RunningServer } from '../server/create-server.js';
import { registerDevice } from '../server/registry/devices-repo.js';

describe('content in the whole server', () => {
  let dir: string;
  let server: RunningServer;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'content-stack-'));
    server = await createServer(testConfig({ DATA_DIR: dir, ADMIN_PASSWORD: 'admin-password-1' }));
  });
  afterEach(async () => {
    await server.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('publishes, notifies a connected device over MQTT, serves its signed manifest and file', async () => {
    const token = (username: string, role: 'editor' | 'approver') =>
      createApiToken(server.db, {
        userId: insertUser(server.db, { username, role, passwordHash: 'x' }).id,
        name: 't',
        ttlMs: null,
      }).token;
    const editor = client(server.httpUrl, `Bearer ${token('bt', 'editor')}`);
    const approver = client(server.httpUrl, `Bearer ${token('pd', 'approver')}`);
    const siteId = (server.db.prepare(`SELECT id FROM sites WHERE kind = 'commune' LIMIT 1`).get() as { id: string }).id;
    const secret = 's'.repeat(43);
    registerDevice(server.db, { id: 'kiosk-1', secret, siteId, status: 'active' });
    const mq = await mqtt.connectAsync(server.mqttUrl, {
      username: 'kiosk-1',
      password: secret,
      clientId: 'kiosk-1',
      reconnectPeriod: 0,
    });
    try {
      await mq.subscribeAsync(topics.manifest('kiosk-1'), { qos: 1 });
      const notice = new Promise<{ seq: number }>((resolve) =>
        mq.on('message', (_t, payload) => resolve(JSON.parse(payload.toString()))),
      );
      const { id } = (await (await editor('POST', '/api/v1/content', { kind: 'document' })).json()) as { id: string };
      await editor('PUT', `/api/v1/content/${id}/translations/jra`, { title: 'Tơlơi \u01AF\u0306' });
      const pdf = sampleFiles.pdf();
      const up = await editor('PUT', `/api/v1/content/${id}/translations/jra/file`, pdf, { 'content-type': 'application/pdf' });
      const { file } = (await up.json()) as { file: { sha256: string } };
      await editor('POST', `/api/v1/content/${id}/submit`);
      await approver('POST', `/api/v1/content/${id}/approve`);
      expect((await approver('POST', `/api/v1/content/${id}/publish`)).status).toBe(200);
      const { seq } = await notice;
      const device = client(server.httpUrl, basic('kiosk-1', secret));
      const signed = (await (await device('GET', '/api/v1/devices/kiosk-1/manifest')).json()) as SignedManifest;
      const keys = await loadOrCreateSigningKeys(dir);
      expect(checkManifest(signed, { publicKey: keys.publicKeyPem, deviceId: 'kiosk-1', appliedSeq: 0 }).ok).toBe(true);
      expect(signed.manifest.seq).toBe(seq);
      expect((await device('GET', `/files/${file.sha256}`)).status).toBe(200);
      expect((await device('GET', '/api/v1/devices/other/manifest')).status).toBe(403);
    } finally {
      await mq.endAsync();
    }
  });
});
