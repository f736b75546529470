/**
 * Issue 13: moving kiosks to a new CA over the air (docs/deployment.md). The whole stack with a real agent on
 * mqtts:// and https://: CA A → add B to the root-signed keys document (`tlsCas`) → the server counts the kiosk as
 * holding it → the server certificate switches to B → the agent reconnects over mqtts and keeps syncing → A retired
 * → the agent still connects, also after a restart (its pinned set comes from the keys document it holds, not
 * from the enrollment CA, which is A). A link pinning only A is refused once the server is on B.
 */
import { X509Certificate } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { parseAgentConfig } from '../agent/config.js';
import { createAgent, type RunningAgent } from '../agent/create-agent.js';
import { pinnedFetch } from '../agent/link-security.js';
import { MqttLink } from '../agent/mqtt-link.js';
import { EnrollResponse, KeysDocument, pinnedCaBundle, type SignedKeysDocument } from '../protocol/index.js';
import { startTestServer, type TestServer, waitFor } from '../server/testing/test-server.js';
import { makeNextCa, switchToNextCa, tlsFiles } from '../server/tls/index.js';
import { fixedHealth, silent } from './helpers/agent-fixture.js';
import { freePort, startCuttableProxy } from './helpers/agent-test-net.js';
import { cleanupsRunBy } from './helpers/cleanups.js';
import { tokenPeople } from './helpers/token-people.js';

const cleanups = cleanupsRunBy(afterEach);
const people = (server: TestServer) => tokenPeople(server, 'x');

interface KeysStatusBody {
  version?: number;
  signed?: boolean;
  document: SignedKeysDocument;
  tlsCas: Array<{ fingerprint: string; since: number; devicesHolding: number }>;
  devices: { total: number; reporting: number };
}

describe('moving kiosks to a new CA over the air', () => {
  it('add B → kiosk holds it → switch the server to B → kiosk keeps connecting and syncing → retire A', async () => {
    const httpsPort = await freePort();
    const server = await startTestServer({ HTTPS_PORT: httpsPort, PUBLIC_URL: `https://localhost:${httpsPort}` });
    cleanups.push(() => server.stop());
    const { admin, publish } = people(server);
    const caA = server.caPem as string;
    const fpA = server.caFingerprint as string;

    const created = (await (await admin('POST', '/api/v1/enrollment-tokens', { siteId: 'gl-c-iao' })).json()) as {
      tokens: Array<{ token: string }>;
    };
    const res = await pinnedFetch(caA)(`${server.httpsUrl}/api/v1/enroll`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        token: created.tokens[0]?.token,
        facts: { serial: 'SN-CA-MOVE', model: 'KIOSK-55', mac: '02:00:00:00:00:09', hostname: 'kiosk-ca-move' },
      }),
    });
    expect(res.status).toBe(201);
    const enrollment = EnrollResponse.parse(await res.json());
    expect(enrollment.caPem).toBe(caA);

    // The agent's MQTT link goes through a proxy the test can cut (TLS end to end, host name checked).
    const proxy = await startCuttableProxy(Number(new URL(server.mqttsUrl).port));
    cleanups.push(() => proxy.close());
    const dir = await mkdtemp(join(tmpdir(), 'tls-ca-move-'));
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    const start = (): Promise<RunningAgent> =>
      createAgent(
        parseAgentConfig(
          { ...enrollment, mqttUrl: `mqtts://localhost:${proxy.port}`, dataDir: join(dir, 'data'), kioskPort: 0 },
          { AGENT_UI_DIR: join(dir, 'no-ui') },
          null,
        ),
        { log: silent, healthSource: fixedHealth(), reconnectBaseMs: 50, syncRetryBaseMs: 60_000 },
      );
    let agent = await start();
    cleanups.push(() => agent.close());
    await waitFor(() => agent.online(), 'agent online over mqtts (CA A)', 30_000);
    /** Publishes a bulletin and expects the agent to apply a newer manifest (over https, with the CAs it pins). */
    let seq = 0;
    const publishAndSync = async (): Promise<void> => {
      await publish();
      const outcome = await agent.sync('command');
      // The publish's manifest notice starts a sync of the agent's own, which may apply the manifest before this
      // one runs (then this one finds it `unchanged`): either way a newer manifest came over https.
      expect(['applied', 'unchanged'], JSON.stringify(outcome)).toContain(outcome.state);
      expect((outcome as { seq: number }).seq).toBeGreaterThan(seq);
      seq = (outcome as { seq: number }).seq;
    };
    await publishAndSync();
    const keysVersion = () =>
      server.db.prepare('SELECT keys_version FROM devices WHERE id = ?').pluck().get(enrollment.deviceId) as number | null;
    await waitFor(() => keysVersion() === 1, 'the kiosk says it holds keys document 1', 30_000);

    // 1. Add: a new CA B beside A in the root-signed keys document.
    const next = await makeNextCa(server.dataDir);
    expect(next.fingerprint).not.toBe(fpA);
    const added = await admin('POST', '/api/v1/keys/tls-cas', { tlsCas: [caA, next.certPem] });
    expect(added.status).toBe(200);
    const addedBody = (await added.json()) as KeysStatusBody;
    expect(addedBody.signed).toBe(true);
    const addVersion = addedBody.version as number;
    expect(KeysDocument.parse(addedBody.document.document).tlsCas).toHaveLength(2);
    // The kiosk is told (manifest notice), takes the document and says so in its status.
    await waitFor(() => keysVersion() === addVersion, 'the kiosk holds the keys document that carries CA B', 30_000);
    const status = (await (await admin('GET', '/api/v1/keys')).json()) as KeysStatusBody;
    expect(status.tlsCas.map((c) => [c.fingerprint, c.since, c.devicesHolding])).toEqual([
      [fpA, addVersion, 1],
      [next.fingerprint, addVersion, 1],
    ]);
    expect(status.devices).toEqual({ total: 1, reporting: 1 });

    // 2. Switch: the server certificate now comes from B (SIGHUP = reloadTls). The kiosk's link drops.
    const switched = await switchToNextCa({ dataDir: server.dataDir, names: ['localhost', '127.0.0.1'], renewBeforeMs: 0 });
    expect(switched.caFingerprint).toBe(next.fingerprint);
    await server.reloadTls();
    expect(server.caFingerprint).toBe(next.fingerprint);
    const served = new X509Certificate(await readFile(tlsFiles(server.dataDir).serverCert));
    expect(served.checkIssued(new X509Certificate(next.certPem))).toBe(true);
    proxy.cut();
    await waitFor(() => !agent.online(), 'link cut', 30_000);
    proxy.restore();
    await waitFor(() => agent.online(), 'agent back online over mqtts, the server now on CA B', 30_000);
    await publishAndSync();

    // A link that pins only A (a kiosk that never got the document) is refused by the server on B.
    const errors: string[] = [];
    const log = { ...silent, warn: (o: { err?: string }) => errors.push(String(o?.err)), child: () => log };
    const stale = new MqttLink({
      url: `mqtts://localhost:${proxy.port}`,
      deviceId: enrollment.deviceId,
      secret: enrollment.secret,
      ca: caA,
      agentVersion: 'test',
      bootId: 'stale',
      reconnectBaseMs: 60_000,
      reconnectCapMs: 60_000,
      clock: Date.now,
      log: log as unknown as typeof silent,
      onUp: () => {},
      onDown: () => {},
      onMessage: () => {},
    });
    cleanups.push(() => stale.close());
    stale.start();
    await waitFor(() => errors.length > 0, 'the stale link fails its handshake', 30_000);
    expect(errors.join(' ')).toMatch(/certificate|verify/i);
    expect(stale.online).toBe(false);
    await expect(pinnedFetch(caA)(`${server.httpsUrl}/healthz`)).rejects.toThrow();

    // 3. Retire A: the set is B alone; the kiosk takes it, reconnects, syncs, and so it does after a restart.
    const retired = await admin('POST', '/api/v1/keys/tls-cas', { tlsCas: [next.certPem] });
    expect(retired.status).toBe(200);
    const retireVersion = ((await retired.json()) as KeysStatusBody).version as number;
    await waitFor(() => keysVersion() === retireVersion, 'the kiosk holds the document without CA A', 30_000);
    proxy.cut();
    await waitFor(() => !agent.online(), 'link cut again', 30_000);
    proxy.restore();
    await waitFor(() => agent.online(), 'agent online again on B alone', 30_000);
    await agent.close();
    agent = await start();
    await waitFor(() => agent.online(), 'restarted agent online (pinned set from its keys document)', 30_000);
    await publishAndSync();
    // Newer enrollments get B.
    expect(server.caPem?.trim()).toBe(next.certPem.trim());
  }, 150_000);
});

describe('the pinned CA set', () => {
  it('is the keys document’s tlsCas when it names any, else the enrollment CA; old documents stay valid', () => {
    const document = {
      v: 1 as const,
      version: 3,
      issuedAt: '2026-01-01T00:00:00.000Z',
      expiresAt: '2027-01-01T00:00:00.000Z',
      keys: [
        {
          keyId: 'k1',
          publicKey: '-----BEGIN PUBLIC KEY-----\nx\n-----END PUBLIC KEY-----\n',
          status: 'current' as const,
          addedAt: '2026-01-01T00:00:00.000Z',
          retiredAt: null,
        },
      ],
    };
    expect(KeysDocument.safeParse(document).success).toBe(true);
    const held = { document, keyId: 'root', signature: 'AA==' };
    expect(pinnedCaBundle(null, 'ENROLLED')).toBe('ENROLLED');
    expect(pinnedCaBundle(held, 'ENROLLED')).toBe('ENROLLED');
    const a = '-----BEGIN CERTIFICATE-----\nA\n-----END CERTIFICATE-----\n';
    const b = '-----BEGIN CERTIFICATE-----\nB\n-----END CERTIFICATE-----\n';
    const withCas = { ...held, document: { ...document, tlsCas: [a, b] } };
    expect(KeysDocument.safeParse(withCas.document).success).toBe(true);
    expect(pinnedCaBundle(withCas, 'ENROLLED')).toBe(`${a.trim()}\n${b.trim()}`);
    expect(KeysDocument.safeParse({ ...document, tlsCas: ['not a certificate'] }).success).toBe(false);
    expect(KeysDocument.safeParse({ ...document, tlsCas: [] }).success).toBe(false);
  });

  it('the server refuses a tlsCas entry that is not a CA certificate, and a rotation keeps the set', async () => {
    const server = await startTestServer();
    cleanups.push(() => server.stop());
    const { admin } = people(server);
    const leaf = await readFile(tlsFiles(server.dataDir).serverCert, 'utf8');
    const refused = await admin('POST', '/api/v1/keys/tls-cas', { tlsCas: [leaf] });
    expect(refused.status).toBe(422);
    expect(await refused.text()).toMatch(/not a CA certificate/);
    expect((await admin('POST', '/api/v1/keys/tls-cas', { tlsCas: ['garbage'] })).status).toBe(422);
    const ca = server.caPem as string;
    expect((await admin('POST', '/api/v1/keys/tls-cas', { tlsCas: [ca, ca] })).status).toBe(200);
    const rotated = (await (await admin('POST', '/api/v1/keys/rotate')).json()) as KeysStatusBody;
    expect(rotated.document.document.tlsCas).toEqual([`${ca.trim()}\n`]);
    expect(rotated.tlsCas[0]?.since).toBe(2);
  });
});
