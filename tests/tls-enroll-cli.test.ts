/**
 * Issue 13: the enrollment link (and its QR) carries the server CA's fingerprint; the technician's CLI checks the
 * server against it before it sends the token. A forged server (another certificate — even one that also shows the
 * real CA) is refused with a clear message and gets nothing; the real one enrolls the kiosk, the CLI's broker check
 * and then the agent run over mqtts:// with the pinned CA.
 */
import { webcrypto } from 'node:crypto';
import { readFileSync, rmSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseAgentConfig } from '../agent/config.js';
import { createAgent } from '../agent/create-agent.js';
import { AgentConfigFile } from '../protocol/index.js';
import { HttpSession, startTestServer, TEST_ADMIN_PASSWORD, type TestServer, waitFor } from '../server/testing/test-server.js';
import { loadTlsMaterial } from '../server/tls/index.js';
import { silent } from './helpers/agent-fixture.js';
import { freePort } from './helpers/agent-test-net.js';
import { runProvisioningCli } from './helpers/provisioning-cli.js';

let work: string;
let server: TestServer;
const forged: HttpsServer[] = [];

/**
 * An https server on localhost that is not the department's, counting the requests it receives. `impostor`: its
 * certificate names the real CA as issuer (same subject, same key id) and the real CA is in the chain it shows,
 * but the signature is by another key; otherwise it is simply a certificate from another CA.
 */
async function forgedServer(impostor: boolean): Promise<{ port: number; requests: () => number }> {
  const other = await loadTlsMaterial({
    dataDir: join(work, `forger-${forged.length}`),
    names: ['localhost', '127.0.0.1'],
    renewBeforeMs: 0,
  });
  let cert = `${other.certPem}${other.caPem}`;
  let key = other.keyPem;
  if (impostor) {
    await import('reflect-metadata');
    const x509 = await import('@peculiar/x509');
    x509.cryptoProvider.set(webcrypto as never);
    const real = new x509.X509Certificate(server.caPem as string);
    const alg = { name: 'ECDSA', namedCurve: 'P-256' };
    const keys = await webcrypto.subtle.generateKey(alg, true, ['sign', 'verify']);
    const leaf = await x509.X509CertificateGenerator.create({
      subject: 'CN=localhost',
      issuer: real.subject,
      publicKey: keys.publicKey as never,
      signingKey: keys.privateKey as never,
      signingAlgorithm: { name: 'ECDSA', hash: 'SHA-256' },
      extensions: [
        new x509.SubjectAlternativeNameExtension([{ type: 'dns', value: 'localhost' }]),
        await x509.AuthorityKeyIdentifierExtension.create(real.publicKey),
      ],
    });
    cert = `${leaf.toString('pem')}\n${server.caPem}`;
    const der = Buffer.from(await webcrypto.subtle.exportKey('pkcs8', keys.privateKey));
    key = `-----BEGIN PRIVATE KEY-----\n${der.toString('base64')}\n-----END PRIVATE KEY-----\n`;
  }
  let requests = 0;
  const https = createHttpsServer({ key, cert }, (_req, res) => {
    requests++;
    res.writeHead(201, { 'content-type': 'application/json' }).end('{}');
  });
  forged.push(https);
  await new Promise<void>((resolve) => https.listen(0, '127.0.0.1', () => resolve()));
  return { port: (https.address() as { port: number }).port, requests: () => requests };
}

// No NODE_EXTRA_CA_CERTS: the CA from the link is the only trust the CLI has in the server.
const cli = (args: string[]) => runProvisioningCli(args, { HOME: work });

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'tls-enroll-cli-'));
  const httpsPort = await freePort();
  server = await startTestServer({ HTTPS_PORT: httpsPort, PUBLIC_URL: `https://localhost:${httpsPort}` });
});
afterAll(async () => {
  for (const https of forged) https.close();
  await server?.stop();
  rmSync(work, { recursive: true, force: true });
});

describe('CLI enrollment checks the server by the CA fingerprint in the link', () => {
  it('refuses a forged server before sending the token, then enrolls with the real one; the agent reports over mqtts://', async () => {
    const admin = new HttpSession(server.httpUrl);
    expect((await admin.login('admin', TEST_ADMIN_PASSWORD)).status).toBe(200);
    const created = await admin.json<{ tokens: Array<{ enrollUrl: string }> }>('POST', '/api/v1/enrollment-tokens', {
      siteId: 'gl-c-iao',
    });
    expect(created.status).toBe(201);
    const link = created.body.tokens[0]?.enrollUrl as string;
    const hex = (server.caFingerprint as string).replaceAll(':', '').toLowerCase();
    expect(link).toMatch(new RegExp(`^${server.publicUrl}/enroll#token=[^&]+&ca=${hex}$`));
    const unusedTokens = () => server.db.prepare('SELECT count(*) FROM enrollment_tokens WHERE used_at IS NULL').pluck().get();

    for (const impostor of [false, true]) {
      const forger = await forgedServer(impostor);
      const redirected = link.replace(/localhost:\d+/, `localhost:${forger.port}`);
      const refused = await cli(['enroll', '--token', redirected, '--dir', join(work, 'kiosk-forged'), '--serial', 'SN-FORGED']);
      expect(refused.code).not.toBe(0);
      expect(refused.stderr).toContain(`the server at https://localhost:${forger.port} is not the one the enrollment link names`);
      expect(refused.stderr).toContain('Nothing was sent to it: the token is still unused');
      expect(refused.stderr).toMatch(impostor ? /does not verify against that CA/ : /presented no CA with fingerprint/);
      expect(forger.requests()).toBe(0);
      expect(unusedTokens()).toBe(1);
    }

    const dir = join(work, 'kiosk');
    const enrolled = await cli(['enroll', '--token', link, '--dir', dir, '--serial', 'SN-TLS-CLI']);
    expect(enrolled.stderr).toBe('');
    expect(enrolled.code).toBe(0);
    expect(enrolled.stdout).toContain(`Server identity checked: CA fingerprint ${server.caFingerprint}`);
    expect(enrolled.stdout).toContain('accepted the credentials');
    const file = AgentConfigFile.parse(JSON.parse(readFileSync(join(dir, 'agent-config.json'), 'utf8')));
    expect(file.mqttUrl).toBe(`mqtts://localhost:${new URL(server.mqttsUrl).port}`);
    expect(file.caPem).toBe(server.caPem);

    const agent = await createAgent(
      parseAgentConfig({ ...file, dataDir: join(dir, 'data'), kioskPort: 0 }, { AGENT_UI_DIR: join(dir, 'no-ui') }, null),
      { log: silent, reconnectBaseMs: 50 },
    );
    try {
      await waitFor(() => agent.online(), 'agent online over mqtts');
      await agent.collectHealth();
      await waitFor(
        () => server.db.prepare('SELECT count(*) FROM health WHERE device_id = ?').pluck().get(file.deviceId) === 1,
        'health',
      );
      expect((await agent.sync('command')).state).not.toBe('failed');
    } finally {
      await agent.close();
    }
  }, 120_000);
});
