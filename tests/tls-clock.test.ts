/**
 * Issue 14, a kiosk with a wrong clock over TLS: OpenSSL judges a certificate's validity on the wall clock, so a kiosk
 * whose clock is behind the server certificate's notBefore (−1 day right after a renewal, 1970 after a dead RTC
 * battery) could never pair or connect. The links now judge it on the agent's time estimate (protocol/tls-identity.ts
 * tlsPeerRefusal). In this process OpenSSL sees the true clock, so "the kiosk is 1 day behind" is staged the other way
 * round: the server's own TLS serves a certificate (its CA, TLS_CERT_FILE / TLS_CA_FILE) issued one day in the future.
 * Pairing with #ca=, MQTTS and the HTTPS manifest fetch work; a server with another CA's certificate is refused with
 * the clock right and wrong, and gets not one byte of MQTT; a certificate expired at the estimate is refused.
 * tests/tls-clock-faketime.test.ts runs a whole agent process at −1 day and in 1970 against a certificate issued now.
 */
import { X509Certificate } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer as createTlsServer } from 'node:tls';
import { afterEach, describe, expect, it } from 'vitest';
import { parseAgentConfig } from '../agent/config.js';
import { createAgent } from '../agent/create-agent.js';
import { pinnedFetch } from '../agent/link-security.js';
import { MqttLink } from '../agent/mqtt-link.js';
import { LocalManifest } from '../protocol/index.js';
import { checkServerIdentity } from '../protocol/tls-identity.js';
import { addDevice, HttpSession, startTestServer, TEST_ADMIN_PASSWORD, waitFor } from '../server/testing/test-server.js';
import { loadTlsMaterial, tlsFiles } from '../server/tls/index.js';
import { fixedHealth, silent } from './helpers/agent-fixture.js';
import { freePort } from './helpers/agent-test-net.js';

const DAY_MS = 86_400_000;
const NAMES = ['localhost', '127.0.0.1'];

let cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => {});
  cleanups = [];
});

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'tls-clock-'));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/** A CA and a server certificate issued at `issuedAt` (notBefore 60 s earlier), as server/tls makes them. */
async function material(issuedAt: number, serverCertValidityMs?: number) {
  const dataDir = await tempDir();
  const m = await loadTlsMaterial({
    dataDir,
    names: NAMES,
    renewBeforeMs: 0,
    now: () => issuedAt,
    ...(serverCertValidityMs ? { serverCertValidityMs } : {}),
  });
  return { ...m, files: tlsFiles(dataDir), caPem: m.caPem as string };
}

type Material = Awaited<ReturnType<typeof material>>;

/** The real server, its own TLS on HTTPS and MQTTS serving `m` (an operator certificate with its CA). */
async function serverWith(m: Material) {
  const httpsPort = await freePort();
  const server = await startTestServer({
    HTTPS_PORT: httpsPort,
    PUBLIC_URL: `https://localhost:${httpsPort}`,
    TLS_CERT_FILE: m.files.serverCert,
    TLS_KEY_FILE: m.files.serverKey,
    TLS_CA_FILE: m.files.caCert,
  });
  cleanups.push(() => server.stop());
  return { server, httpsUrl: `https://localhost:${httpsPort}`, mqttsUrl: `mqtts://localhost:${new URL(server.mqttsUrl).port}` };
}

function link(url: string, device: { id: string; secret: string }, ca: string, serverTime?: () => number) {
  const errors: string[] = [];
  let up = 0;
  const log = { ...silent, warn: (o: { err?: string }) => errors.push(String(o?.err)), child: () => log };
  const l = new MqttLink({
    url,
    deviceId: device.id,
    secret: device.secret,
    ca,
    ...(serverTime ? { serverTime } : {}),
    agentVersion: 'test',
    bootId: 'b',
    reconnectBaseMs: 200,
    reconnectCapMs: 200,
    clock: Date.now,
    log: log as unknown as typeof silent,
    onUp: () => up++,
    onDown: () => {},
    onMessage: () => {},
  });
  cleanups.push(() => l.close());
  l.start();
  return { link: l, errors, ups: () => up };
}

const manifestOf = (base: string, device: { id: string; secret: string }, f: typeof fetch) =>
  f(`${base}/api/v1/devices/${device.id}/manifest`, {
    headers: { authorization: `Basic ${Buffer.from(`${device.id}:${device.secret}`).toString('base64')}` },
  });

describe('TLS judged on the agent\u2019s time estimate, not a wall clock that is behind', () => {
  it('wall clock 1 day behind the certificate: pairing with #ca=, then MQTTS and the HTTPS manifest fetch work', async () => {
    const m = await material(Date.now() + DAY_MS + 120_000);
    expect(Date.parse(new X509Certificate(m.certPem).validFrom) - Date.now(), 'notBefore a day ahead').toBeGreaterThan(DAY_MS);
    const { server, httpsUrl } = await serverWith(m);
    const dir = await tempDir();
    const fingerprint = m.caFingerprint?.replaceAll(':', '').toLowerCase();
    const config = parseAgentConfig(
      { serverUrl: `${httpsUrl}/#ca=${fingerprint}`, dataDir: join(dir, 'data'), kioskPort: 0 },
      { AGENT_UI_DIR: join(dir, 'no-ui'), AGENT_PAIRING_POLL_MS: '50' },
      null,
    );
    const facts = { serial: 'SN-CLOCK-TLS', model: 'KIOSK-55', mac: '02:00:00:00:00:14', hostname: 'kiosk-clock' };
    const agent = await createAgent(config, { log: silent, healthSource: fixedHealth(), facts, reconnectBaseMs: 50 });
    cleanups.push(() => agent.close());
    const local = async (): Promise<LocalManifest> =>
      LocalManifest.parse(await (await fetch(`http://127.0.0.1:${agent.kioskPort}/local/manifest`)).json());
    await waitFor(async () => (await local()).pairing !== null, 'pairing code shown (the server proved its CA)', 20_000);
    const admin = new HttpSession(server.httpUrl);
    expect((await admin.login('admin', TEST_ADMIN_PASSWORD)).status).toBe(200);
    const code = (await local()).pairing?.code as string;
    const claimed = await admin.json<{ deviceId: string }>('POST', '/api/v1/pairing/claim', { code, siteId: 'gl-c-iao' });
    expect(claimed.status, JSON.stringify(claimed.body)).toBe(200);
    await waitFor(() => agent.deviceId() === claimed.body.deviceId, 'claimed enrollment received', 20_000);
    await waitFor(() => agent.online(), 'online over mqtts', 20_000);
    const outcome = await agent.sync('command');
    expect(outcome.state, JSON.stringify(outcome)).not.toBe('failed');

    // The HTTPS link on its own: the manifest fetched with the device secret, the CA pinned.
    const device = addDevice(server, 'kiosk-clock-direct');
    const res = await manifestOf(httpsUrl, device, pinnedFetch(m.caPem));
    expect(res.status).toBe(200);
  }, 50_000);

  it('a server with another CA\u2019s certificate is refused with the clock right and wrong, and gets no MQTT byte', async () => {
    const pinned = await material(Date.now());
    for (const issuedAt of [Date.now(), Date.now() + DAY_MS + 120_000]) {
      const other = await material(issuedAt);
      // The real server, presenting the other CA's certificate (and that CA): HTTPS and pairing refuse it.
      const { server, httpsUrl, mqttsUrl } = await serverWith(other);
      const device = addDevice(server, `kiosk-other-${issuedAt}`);
      await expect(manifestOf(httpsUrl, device, pinnedFetch(pinned.caPem))).rejects.toThrow();
      const check = await checkServerIdentity(httpsUrl, pinned.caFingerprint as string, 5000);
      expect(check.ok).toBe(false);
      const refused = link(mqttsUrl, device, pinned.caPem);

      // A bare TLS listener with the same certificate counts every byte the MQTT link writes over TLS.
      let attempts = 0;
      let bytes = 0;
      const spy = createTlsServer({ key: other.keyPem, cert: `${other.certPem}${other.caPem}` }, (socket) => {
        socket.on('data', (d: Buffer) => {
          bytes += d.length;
        });
        socket.on('error', () => {});
      });
      spy.on('connection', () => attempts++);
      spy.on('tlsClientError', () => {});
      await new Promise<void>((resolve) => spy.listen(0, '127.0.0.1', () => resolve()));
      cleanups.push(() => new Promise<void>((resolve) => spy.close(() => resolve())));
      const spyUrl = `mqtts://localhost:${(spy.address() as { port: number }).port}`;
      const spied = link(spyUrl, device, pinned.caPem);
      await waitFor(() => attempts >= 2 && spied.errors.length >= 2 && refused.errors.length >= 2, 'two refusals', 10_000);
      await spied.link.close();
      expect(bytes, 'no CONNECT (no device secret) written to a server of another CA').toBe(0);
      // OpenSSL's words on the wall clock (the link's first try), ours once it judges on the estimate.
      expect(spied.errors.join('\n')).toMatch(
        /does not (verify|chain to a pinned CA)|self-signed certificate in certificate chain/,
      );
      expect(refused.ups()).toBe(0);
      expect(refused.link.online).toBe(false);

      // Control: pinning the listener's own CA, the CONNECT does go out (the counter counts).
      const control = link(spyUrl, device, other.caPem);
      await waitFor(() => bytes > 0, 'CONNECT written when the CA is the pinned one', 10_000);
      await control.link.close();
      await refused.link.close();
    }
  }, 50_000);

  it('a certificate expired at the time estimate is refused on every link, though the wall clock is before it', async () => {
    const m = await material(Date.now() + DAY_MS + 120_000, 3_600_000);
    const { server, httpsUrl, mqttsUrl } = await serverWith(m);
    const device = addDevice(server, 'kiosk-expired');
    const later = () => Date.now() + 3 * DAY_MS;
    await expect(manifestOf(httpsUrl, device, pinnedFetch(m.caPem, later))).rejects.toThrow();
    const check = await checkServerIdentity(httpsUrl, m.caFingerprint as string, 5000, later);
    expect(check.ok).toBe(false);
    expect(check.ok ? '' : check.message).toMatch(/expired on .*time estimate/);
    const expired = link(mqttsUrl, device, m.caPem, later);
    // The first try: OpenSSL on the wall clock (not yet valid); the next ones judged on the estimate (expired).
    await waitFor(() => expired.errors.some((e) => /expired on/.test(e)), 'mqtts refused on the estimate', 10_000);
    expect(expired.errors.find((e) => /expired on/.test(e))).toMatch(/CERT_NOT_YET_VALID on the wall clock\): .*expired on/);
    expect(expired.ups()).toBe(0);
    // The same server, judged at the wall clock (raised to its notBefore): every link works.
    expect((await manifestOf(httpsUrl, device, pinnedFetch(m.caPem))).status).toBe(200);
    expect((await checkServerIdentity(httpsUrl, m.caFingerprint as string, 5000)).ok).toBe(true);
    const ok = link(mqttsUrl, device, m.caPem);
    await waitFor(() => ok.link.online, 'mqtts up', 10_000);
  }, 30_000);
});
