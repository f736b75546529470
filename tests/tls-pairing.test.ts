/**
 * Issue 13: pairing (an unenrolled kiosk asking for a code) follows the rules of every other link. The claimed
 * enrollment — the device secret — comes back over it, so: `serverUrl` = `https://<server>/#ca=<fingerprint>` makes
 * the real server prove its CA before anything is sent, and the kiosk then enrolls and comes up on mqtts://; a forged
 * server gets nothing; a plaintext URL to another machine stops the agent at start unless `allowPlaintext`.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer as createHttpsServer } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { parseAgentConfig } from '../agent/config.js';
import { createAgent } from '../agent/create-agent.js';
import { pairingServer } from '../agent/pairing.js';
import { LocalManifest } from '../protocol/index.js';
import { HttpSession, startTestServer, TEST_ADMIN_PASSWORD, waitFor } from '../server/testing/test-server.js';
import { loadTlsMaterial } from '../server/tls/index.js';
import { fixedHealth, silent } from './helpers/agent-fixture.js';
import { freePort } from './helpers/agent-test-net.js';

let cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => {});
  cleanups = [];
});

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'tls-pairing-'));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

const facts = { serial: 'SN-PAIR-TLS', model: 'KIOSK-55', mac: '02:00:00:00:00:07', hostname: 'kiosk-pair' };

describe('pairing over TLS', () => {
  it('serverUrl with #ca=: the real server proves its CA, the kiosk is claimed and comes up on mqtts://', async () => {
    const httpsPort = await freePort();
    const server = await startTestServer({ HTTPS_PORT: httpsPort, PUBLIC_URL: `https://localhost:${httpsPort}` });
    cleanups.push(() => server.stop());
    const dir = await tempDir();
    const fingerprint = (server.caFingerprint as string).replaceAll(':', '').toLowerCase();
    const config = parseAgentConfig(
      { serverUrl: `https://localhost:${httpsPort}/#ca=${fingerprint}`, dataDir: join(dir, 'data'), kioskPort: 0 },
      { AGENT_UI_DIR: join(dir, 'no-ui'), AGENT_PAIRING_POLL_MS: '50' },
      null,
    );
    const agent = await createAgent(config, { log: silent, healthSource: fixedHealth(), facts, reconnectBaseMs: 50 });
    cleanups.push(() => agent.close());
    const local = async (): Promise<LocalManifest> =>
      LocalManifest.parse(await (await fetch(`http://127.0.0.1:${agent.kioskPort}/local/manifest`)).json());
    await waitFor(async () => (await local()).pairing !== null, 'pairing code shown', 40_000);
    const code = (await local()).pairing?.code as string;

    const admin = new HttpSession(server.httpUrl);
    expect((await admin.login('admin', TEST_ADMIN_PASSWORD)).status).toBe(200);
    const claimed = await admin.json<{ deviceId: string }>('POST', '/api/v1/pairing/claim', { code, siteId: 'gl-c-iao' });
    expect(claimed.status, JSON.stringify(claimed.body)).toBe(200);
    await waitFor(() => agent.deviceId() === claimed.body.deviceId, 'claimed enrollment received', 40_000);
    await waitFor(() => agent.online(), 'online over mqtts with the CA the server proved', 40_000);
    // The server records the connection through its writer, a moment after the CONNACK the agent saw.
    await waitFor(
      () => server.db.prepare('SELECT online FROM devices WHERE id = ?').pluck().get(claimed.body.deviceId) === 1,
      'the server sees the kiosk online',
    );
  }, 150_000);

  it('a forged server (another certificate) named by the same #ca= gets no request', async () => {
    const dir = await tempDir();
    const real = await loadTlsMaterial({ dataDir: join(dir, 'real'), names: ['localhost'], renewBeforeMs: 0 });
    const other = await loadTlsMaterial({ dataDir: join(dir, 'forger'), names: ['localhost', '127.0.0.1'], renewBeforeMs: 0 });
    let requests = 0;
    const forged = createHttpsServer({ key: other.keyPem, cert: `${other.certPem}${other.caPem}` }, (_req, res) => {
      requests++;
      res.writeHead(500).end();
    });
    await new Promise<void>((resolve) => forged.listen(0, '127.0.0.1', () => resolve()));
    cleanups.push(() => new Promise<void>((resolve) => forged.close(() => resolve())));
    const warnings: string[] = [];
    const log = { ...silent, warn: (o: { err?: string }) => warnings.push(String(o?.err)), child: () => log };
    const fingerprint = (real.caFingerprint as string).replaceAll(':', '');
    const config = parseAgentConfig(
      {
        serverUrl: `https://localhost:${(forged.address() as { port: number }).port}#ca=${fingerprint}`,
        dataDir: join(dir, 'data'),
        kioskPort: 0,
      },
      { AGENT_UI_DIR: join(dir, 'no-ui'), AGENT_PAIRING_POLL_MS: '50' },
      null,
    );
    const agent = await createAgent(config, { log: log as unknown as typeof silent, healthSource: fixedHealth(), facts });
    cleanups.push(() => agent.close());
    await waitFor(() => warnings.length > 0, 'pairing refused the server');
    expect(warnings[0]).toMatch(
      /is not the one serverUrl names with #ca= \(it presented no CA with fingerprint .*nothing was sent/,
    );
    expect(requests).toBe(0);
    expect(agent.deviceId()).toBeNull();
  }, 30_000);

  it('a plaintext pairing URL to another machine stops the agent at start unless allowPlaintext', async () => {
    const dir = await tempDir();
    const config = (extra: Record<string, unknown>) =>
      parseAgentConfig(
        { serverUrl: 'http://192.0.2.10:8080', dataDir: join(dir, 'data'), kioskPort: 0, ...extra },
        { AGENT_UI_DIR: join(dir, 'no-ui') },
        null,
      );
    await expect(createAgent(config({}), { log: silent, facts })).rejects.toThrow(
      /refusing the pairing server URL http:\/\/192\.0\.2\.10:8080: it is not TLS and not loopback/,
    );
    expect(() => pairingServer('http://192.0.2.10:8080', true)).not.toThrow();
    expect(pairingServer('http://127.0.0.1:8080', false)).toEqual({ base: 'http://127.0.0.1:8080', caFingerprint: null });
    expect(pairingServer(`https://fleet.example:8443/#ca=${'ab'.repeat(32)}`, false)).toEqual({
      base: 'https://fleet.example:8443',
      caFingerprint: Array(32).fill('AB').join(':'),
    });
    expect(() => pairingServer('https://fleet.example/#ca=123', false)).toThrow(/not a SHA-256 fingerprint/);
  });
});
