/**
 * Issue 13: the technicians' CLI against the server's own CA, from a laptop (https, no NODE_EXTRA_CA_CERTS):
 * `login --ca-fingerprint` checks the server before the password leaves, saves the CA beside the token file, and
 * the later commands (`tokens`, `keys`, `pairing`) pin it; `--ca FILE` works the same and is checked against a
 * fingerprint given with it; a forged server gets nothing; plain http to another machine is refused; a bare
 * `enroll --token` takes `--ca-fingerprint` too; `keys tls-cas` adds a CA and refuses to retire the one the
 * server's certificate still chains to.
 */
import { existsSync, readFileSync } from 'node:fs';
import { copyFile, mkdtemp, rm } from 'node:fs/promises';
import { createServer as createHttpsServer } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AgentConfigFile } from '../protocol/index.js';
import { runCli } from '../provisioning/run-cli.js';
import { startTestServer, TEST_ADMIN_PASSWORD, type TestServer } from '../server/testing/test-server.js';
import { loadTlsMaterial, makeNextCa, tlsFiles } from '../server/tls/index.js';
import { freePort } from './helpers/agent-test-net.js';

let work: string;
let server: TestServer;
let fingerprint: string;

async function cli(argv: string[], env: Record<string, string> = {}): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await runCli(argv, {
    env: { KIOSK_PASSWORD: TEST_ADMIN_PASSWORD, ...env },
    readPassword: async () => TEST_ADMIN_PASSWORD,
    io: { out: (t) => out.push(t), err: (t) => err.push(t) },
  });
  return { code, out: out.join('\n'), err: err.join('\n') };
}

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'tls-provision-cli-'));
  const httpsPort = await freePort();
  server = await startTestServer({ HTTPS_PORT: httpsPort, PUBLIC_URL: `https://localhost:${httpsPort}` });
  fingerprint = (server.caFingerprint as string).replaceAll(':', '').toLowerCase();
}, 30_000);

afterAll(async () => {
  await server?.stop();
  await rm(work, { recursive: true, force: true });
});

describe('the CLI pins the server’s own CA', () => {
  it('login --ca-fingerprint saves the CA beside the token; later commands pin it', async () => {
    const tokenFile = join(work, 'token');
    const login = await cli([
      'login',
      '--server',
      server.httpsUrl,
      '--username',
      'admin',
      '--token-file',
      tokenFile,
      '--ca-fingerprint',
      fingerprint,
    ]);
    expect(login.code, login.err).toBe(0);
    expect(readFileSync(`${tokenFile}.ca.pem`, 'utf8').trim()).toBe((server.caPem as string).trim());
    expect(login.out).toContain(`${tokenFile}.ca.pem`);

    // No flag, no NODE_EXTRA_CA_CERTS: the remembered CA is pinned.
    const tokens = await cli([
      'tokens',
      'create',
      '--site',
      'gl-c-iao',
      '--server',
      server.httpsUrl,
      '--token-file',
      tokenFile,
      '--no-qr',
    ]);
    expect(tokens.code, tokens.err).toBe(0);
    // What the technician is told to run on the kiosk is the link, which carries the fingerprint.
    expect(tokens.out).toMatch(new RegExp(`enroll --token '${server.publicUrl}/enroll#token=[^']+&ca=${fingerprint}'`));
    const status = await cli(['keys', 'status', '--server', server.httpsUrl, '--token-file', tokenFile]);
    expect(status.code, status.err).toBe(0);
    expect(status.out).toContain('TLS CAs: none in the keys document');

    // The same token without the saved CA: the system's trust does not know the server's CA.
    const bare = join(work, 'token-copy');
    await copyFile(tokenFile, bare);
    const refused = await cli(['keys', 'status', '--server', server.httpsUrl, '--token-file', bare]);
    expect(refused.code).toBe(3);
    expect(refused.err).toMatch(/cannot reach the server .*(SELF_SIGNED|UNABLE_TO_VERIFY|self-signed)/i);
    // --ca FILE instead; checked against --ca-fingerprint when both are given.
    const caFile = tlsFiles(server.dataDir).caCert;
    expect((await cli(['keys', 'status', '--server', server.httpsUrl, '--token-file', bare, '--ca', caFile])).code).toBe(0);
    const mismatch = await cli([
      'keys',
      'status',
      '--server',
      server.httpsUrl,
      '--token-file',
      bare,
      '--ca',
      caFile,
      '--ca-fingerprint',
      'ab'.repeat(32),
    ]);
    expect(mismatch.code).toBe(2);
    expect(mismatch.err).toMatch(/has fingerprint .* not the AB:AB/);
  }, 120_000);

  it('a forged server (another certificate) gets no password; a wrong fingerprint is refused before sending', async () => {
    const other = await loadTlsMaterial({ dataDir: join(work, 'forger'), names: ['localhost', '127.0.0.1'], renewBeforeMs: 0 });
    let requests = 0;
    const forged = createHttpsServer({ key: other.keyPem, cert: `${other.certPem}${other.caPem}` }, (_req, res) => {
      requests++;
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
    await new Promise<void>((resolve) => forged.listen(0, '127.0.0.1', () => resolve()));
    try {
      const port = (forged.address() as { port: number }).port;
      const tokenFile = join(work, 'forged-token');
      const res = await cli([
        'login',
        '--server',
        `https://localhost:${port}`,
        '--username',
        'admin',
        '--token-file',
        tokenFile,
        '--ca-fingerprint',
        fingerprint,
      ]);
      expect(res.code).toBe(3);
      expect(res.err).toMatch(/is not the one --ca-fingerprint names .*Nothing was sent to it: no password, token or API token/);
      expect(requests).toBe(0);
      expect(existsSync(tokenFile)).toBe(false);
    } finally {
      await new Promise<void>((resolve) => forged.close(() => resolve()));
    }
  }, 60_000);

  it('refuses plain http to another machine; loopback http stays possible', async () => {
    const res = await cli(['keys', 'status', '--server', 'http://192.0.2.10:8080'], { KIOSK_API_TOKEN: 'x'.repeat(20) });
    expect(res.code).toBe(2);
    expect(res.err).toMatch(/refusing http:\/\/192\.0\.2\.10:8080: plain http to another machine .*https:\/\/<server>:8443/);
    const login = await cli(['login', '--server', 'http://192.0.2.10:8080', '--username', 'a', '--token-file', join(work, 'x')]);
    expect(login.code).toBe(2);
    const local = await cli(['login', '--server', server.httpUrl, '--username', 'admin', '--token-file', join(work, 'local')]);
    expect(local.code, local.err).toBe(0);
    expect(existsSync(join(work, 'local.ca.pem'))).toBe(false);
  }, 60_000);

  it('a bare enroll --token takes --ca-fingerprint; keys tls-cas adds a CA and will not retire the one in use', async () => {
    const tokenFile = join(work, 'token');
    const created = await cli([
      'tokens',
      'create',
      '--site',
      'gl-c-iao',
      '--server',
      server.httpsUrl,
      '--token-file',
      tokenFile,
      '--json',
    ]);
    expect(created.code, created.err).toBe(0);
    const token = (JSON.parse(created.out) as { tokens: Array<{ token: string }> }).tokens[0]?.token as string;
    const dir = join(work, 'kiosk');
    const enroll = await cli([
      'enroll',
      '--server',
      server.httpsUrl,
      '--token',
      token,
      '--ca-fingerprint',
      fingerprint,
      '--dir',
      dir,
      '--serial',
      'SN-BARE-1',
      '--skip-broker-check',
    ]);
    expect(enroll.code, enroll.err).toBe(0);
    expect(AgentConfigFile.parse(JSON.parse(readFileSync(join(dir, 'agent-config.json'), 'utf8'))).caPem).toBe(server.caPem);

    const next = await makeNextCa(join(work, 'next'));
    const nextFile = join(work, 'next', 'tls', 'next-ca.pem');
    const add = await cli(['keys', 'tls-cas', 'add', nextFile, '--server', server.httpsUrl, '--token-file', tokenFile]);
    expect(add.code, add.err).toBe(0);
    expect(add.out).toContain(next.fingerprint);
    expect(add.out).toContain(server.caFingerprint as string);
    expect(add.out).toMatch(/listed since keys document \d+: 0 of 1 kiosks hold it/);
    const retire = await cli(['keys', 'tls-cas', 'retire', fingerprint, '--server', server.httpsUrl, '--token-file', tokenFile]);
    expect(retire.code).toBe(2);
    expect(retire.err).toMatch(/does not verify against the CAs that would remain/);
  }, 120_000);
});
