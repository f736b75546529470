/**
 * Issue 13: devices never send their secret in clear. With an https PUBLIC_URL, enrollment hands out https:// and
 * mqtts:// and the server's CA; a real agent pins that CA for MQTT and HTTP, reports health over MQTT over TLS and
 * fetches its manifest over HTTPS; an agent pinning another CA gets nowhere; a plaintext URL to another machine is
 * refused unless the config allows it.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { parseAgentConfig } from '../agent/config.js';
import { createAgent } from '../agent/create-agent.js';
import { assertSecureLink, pinnedFetch } from '../agent/link-security.js';
import { MqttLink } from '../agent/mqtt-link.js';
import { EnrollResponse } from '../protocol/index.js';
import { HttpSession, startTestServer, TEST_ADMIN_PASSWORD, waitFor } from '../server/testing/test-server.js';
import { loadTlsMaterial, tlsFiles } from '../server/tls/index.js';
import { silent } from './helpers/agent-fixture.js';
import { freePort } from './helpers/agent-test-net.js';

let cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => {});
  cleanups = [];
});

/** A port free right now (the server's HTTPS port must be known before it starts, for PUBLIC_URL). */

async function enroll(server: Awaited<ReturnType<typeof startTestServer>>, serial: string): Promise<EnrollResponse> {
  const admin = new HttpSession(server.httpUrl);
  expect((await admin.login('admin', TEST_ADMIN_PASSWORD)).status).toBe(200);
  const created = await admin.json<{ tokens: Array<{ token: string }> }>('POST', '/api/v1/enrollment-tokens', {
    siteId: 'gl-c-iao',
  });
  expect(created.status).toBe(201);
  // The kiosk side: the enrollment request itself goes over HTTPS, trusting only the server's CA.
  const res = await pinnedFetch(server.caPem as string)(`${server.httpsUrl}/api/v1/enroll`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      token: created.body.tokens[0]?.token,
      facts: { serial, model: 'KIOSK-55', mac: '02:00:00:00:00:01', hostname: `kiosk-${serial}` },
    }),
  });
  expect(res.status).toBe(201);
  return EnrollResponse.parse(await res.json());
}

describe('enrollment hands out TLS endpoints and the CA; the agent pins it', () => {
  it('an agent enrolled against an https PUBLIC_URL reports health over mqtts:// and syncs over https://', async () => {
    const httpsPort = await freePort();
    const server = await startTestServer({ HTTPS_PORT: httpsPort, PUBLIC_URL: `https://localhost:${httpsPort}` });
    cleanups.push(() => server.stop());
    const enrollment = await enroll(server, 'SN-TLS-1');
    expect(enrollment.apiUrl).toBe(`https://localhost:${httpsPort}`);
    expect(enrollment.mqttUrl).toBe(`mqtts://localhost:${new URL(server.mqttsUrl).port}`);
    expect(enrollment.caPem).toBe(server.caPem);
    expect(enrollment.caFingerprint).toBe(server.caFingerprint);

    const dir = await mkdtemp(join(tmpdir(), 'tls-agent-'));
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    const config = parseAgentConfig(
      { ...enrollment, dataDir: join(dir, 'data'), kioskPort: 0 },
      { AGENT_UI_DIR: join(dir, 'no-ui') },
      null,
    );
    expect(config.enrollment?.caPem).toBe(server.caPem);
    const agent = await createAgent(config, { log: silent, reconnectBaseMs: 50 });
    cleanups.push(() => agent.close());
    await waitFor(() => agent.online(), 'agent online over mqtts');
    await agent.collectHealth();
    await waitFor(
      () => server.db.prepare('SELECT count(*) FROM health WHERE device_id = ?').pluck().get(enrollment.deviceId) === 1,
      'health stored',
    );
    // The manifest request goes over HTTPS with the device secret; it reaches the server (no TLS failure).
    const outcome = await agent.sync('command');
    expect(outcome.state, JSON.stringify(outcome)).not.toBe('failed');
  }, 60_000);

  it('an agent pinning another CA gets neither MQTT nor HTTP through', async () => {
    const httpsPort = await freePort();
    const server = await startTestServer({ HTTPS_PORT: httpsPort, PUBLIC_URL: `https://localhost:${httpsPort}` });
    cleanups.push(() => server.stop());
    const enrollment = await enroll(server, 'SN-TLS-2');
    const dir = await mkdtemp(join(tmpdir(), 'tls-agent-other-'));
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    await loadTlsMaterial({ dataDir: dir, names: ['localhost'], renewBeforeMs: 0 });
    const otherCa = (await import('node:fs')).readFileSync(tlsFiles(dir).caCert, 'utf8');

    const errors: string[] = [];
    const log = {
      ...silent,
      warn: (o: { err?: string }) => errors.push(String(o?.err)),
      child: () => log,
    } as unknown as typeof silent;
    const link = new MqttLink({
      url: enrollment.mqttUrl,
      deviceId: enrollment.deviceId,
      secret: enrollment.secret,
      ca: otherCa,
      agentVersion: 'test',
      bootId: 'b',
      reconnectBaseMs: 10_000,
      reconnectCapMs: 10_000,
      clock: Date.now,
      log,
      onUp: () => {},
      onDown: () => {},
      onMessage: () => {},
    });
    cleanups.push(() => link.close());
    link.start();
    await waitFor(() => errors.length > 0, 'a TLS error');
    expect(errors.join(' ')).toMatch(/self-signed|unable to verify|certificate/i);
    expect(link.online).toBe(false);
    expect(server.db.prepare('SELECT online FROM devices WHERE id = ?').pluck().get(enrollment.deviceId)).toBe(0);

    await expect(pinnedFetch(otherCa)(`${server.httpsUrl}/healthz`)).rejects.toThrow();
    expect((await pinnedFetch(server.caPem as string)(`${server.httpsUrl}/healthz`)).status).toBe(200);
  }, 60_000);

  it('refuses a plaintext URL to another machine unless the config allows it; loopback and TLS are fine', () => {
    expect(() => assertSecureLink('mqtt://192.0.2.10:1883', false, 'MQTT URL')).toThrow(
      /refusing the MQTT URL mqtt:\/\/192\.0\.2\.10:1883: it is not TLS and not loopback/,
    );
    expect(() => assertSecureLink('http://fleet.gialai.example:8080', false, 'API URL')).toThrow(/allowPlaintext/);
    expect(() => assertSecureLink('ws://10.0.0.5:8080/mqtt', false, 'MQTT URL')).toThrow(/not TLS/);
    for (const ok of [
      'mqtt://127.0.0.1:1883',
      'http://localhost:8080',
      'mqtt://[::1]:1883',
      'mqtts://10.0.0.5:8883',
      'https://fleet.example',
    ]) {
      expect(() => assertSecureLink(ok, false, 'URL')).not.toThrow();
    }
    expect(() => assertSecureLink('mqtt://192.0.2.10:1883', true, 'MQTT URL')).not.toThrow();
    const options = {
      deviceId: 'k',
      secret: 's',
      agentVersion: 't',
      bootId: 'b',
      reconnectBaseMs: 1,
      reconnectCapMs: 1,
      clock: Date.now,
      log: silent,
      onUp: () => {},
      onDown: () => {},
      onMessage: () => {},
    };
    expect(() => new MqttLink({ ...options, url: 'mqtt://192.0.2.10:1883' })).toThrow(/refusing the MQTT URL/);
    expect(() => new MqttLink({ ...options, url: 'mqtt://192.0.2.10:1883', allowPlaintext: true })).not.toThrow();
    const file = {
      deviceId: 'kiosk-lab',
      secret: 'secret-of-kiosk-lab-0123456789',
      siteId: 'gl-c-iao',
      mqttUrl: 'mqtt://192.0.2.10:1883',
      apiUrl: 'http://192.0.2.10:8080',
      manifestKey: '-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEA\n-----END PUBLIC KEY-----\n',
    };
    expect(parseAgentConfig(file, {}, null).allowPlaintext).toBe(false);
    expect(parseAgentConfig({ ...file, allowPlaintext: true }, {}, null).allowPlaintext).toBe(true);
    expect(parseAgentConfig(file, { AGENT_ALLOW_PLAINTEXT: '1' }, null).allowPlaintext).toBe(true);
  });

  it('the agent does not start on a plaintext enrollment to another machine', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tls-agent-lab-'));
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    const config = parseAgentConfig(
      {
        deviceId: 'kiosk-lab',
        secret: 'secret-of-kiosk-lab-0123456789',
        siteId: 'gl-c-iao',
        mqttUrl: 'mqtt://192.0.2.10:1883',
        apiUrl: 'http://192.0.2.10:8080',
        manifestKey: '-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEA\n-----END PUBLIC KEY-----\n',
        dataDir: join(dir, 'data'),
        kioskPort: 0,
      },
      { AGENT_UI_DIR: join(dir, 'no-ui') },
      null,
    );
    await expect(createAgent(config, { log: silent })).rejects.toThrow(/refusing the API URL http:\/\/192\.0\.2\.10:8080/);
  });
});
