/**
 * Issue 13 (TLS half): the server's own CA and certificate, MQTT over TLS, HTTPS and MQTT over secure WebSocket,
 * checked with third-party clients (mosquitto_pub, openssl s_client, curl) and mqtt.js, against a real server on
 * port 0 with real SQLite files. Needs mosquitto-clients, openssl and curl (tools/ensure-system-packages.sh).
 */
import { execFile } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { connect as tcpConnect } from 'node:net';
import { networkInterfaces, tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect as tlsConnect } from 'node:tls';
import type { MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { topics } from '../protocol/index.js';
import { testConfig } from '../server/config.js';
import { createServer, type RunningServer } from '../server/create-server.js';
import { addDevice, connectDevice, healthSample, TEST_ADMIN_PASSWORD } from '../server/testing/test-server.js';
import { loadTlsMaterial, plaintextHost, tlsFiles, tlsNames } from '../server/tls/index.js';

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}
/** Runs a third-party client, bounded in time; never throws for a non-zero exit. */
function run(cmd: string, args: string[], input = ''): Promise<Run> {
  return new Promise((resolve) => {
    const child = execFile(cmd, args, { timeout: 15_000 }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
      resolve({ code, stdout: String(stdout), stderr: String(stderr) });
    });
    // A client that exits before reading its input (a refused handshake) makes this write fail: its exit says why.
    child.stdin?.on('error', () => {});
    child.stdin?.end(input);
  });
}

const portOf = (url: string) => new URL(url).port;
const dirs: string[] = [];
function tempDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  dirs.push(dir);
  return dir;
}
async function start(dataDir: string, overrides: Record<string, unknown> = {}): Promise<RunningServer> {
  return createServer(testConfig({ DATA_DIR: dataDir, ADMIN_PASSWORD: TEST_ADMIN_PASSWORD, ...overrides } as never));
}
/** The certificate a new TLS handshake gets from host:port. */
function servedCertificate(port: string, ca: string): Promise<X509Certificate> {
  return new Promise((resolve, reject) => {
    const socket = tlsConnect({ host: '127.0.0.1', port: Number(port), ca, servername: 'localhost' }, () => {
      const raw = socket.getPeerCertificate().raw;
      socket.end();
      resolve(new X509Certificate(raw));
    });
    socket.once('error', reject);
  });
}
const count = (server: RunningServer, sql: string, ...params: unknown[]) =>
  server.db
    .prepare(sql)
    .pluck()
    .get(...params) as number;

afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

describe('the server’s own CA and listeners (no operator certificate)', () => {
  let server: RunningServer;
  let dataDir: string;
  let caFile: string;
  const clients: MqttClient[] = [];

  beforeAll(async () => {
    dataDir = tempDir('tls-server-');
    server = await start(dataDir);
    caFile = tlsFiles(dataDir).caCert;
  });
  afterAll(async () => {
    for (const client of clients) client.end(true);
    await server?.close();
  });

  it('makes a CA at DATA_DIR/tls/ca.pem and a server certificate on first start, keys 0600, and reports the CA fingerprint', async () => {
    const files = tlsFiles(dataDir);
    expect((statSync(files.caKey).mode & 0o777).toString(8)).toBe('600');
    expect((statSync(files.serverKey).mode & 0o777).toString(8)).toBe('600');
    expect((statSync(files.dir).mode & 0o777).toString(8)).toBe('700');
    const printed = await run('openssl', ['x509', '-in', caFile, '-noout', '-fingerprint', '-sha256']);
    expect(printed.stdout.trim()).toBe(`sha256 Fingerprint=${server.caFingerprint}`);
    const verified = await run('openssl', ['verify', '-CAfile', caFile, files.serverCert]);
    expect(verified.stdout).toContain(': OK');
    const leaf = new X509Certificate(readFileSync(files.serverCert));
    expect(leaf.subjectAltName).toMatch(/DNS:localhost/);
    expect(leaf.subjectAltName).toMatch(/IP Address:127\.0\.0\.1/);
    expect(server.mqttsUrl).toMatch(/^mqtts:\/\//);
    expect(server.httpsUrl).toMatch(/^https:\/\//);
    expect(server.caPem).toContain('BEGIN CERTIFICATE');
  });

  it('mosquitto_pub --cafile ca.pem publishes a device’s health over MQTTS and it lands in SQLite', async () => {
    const { id, secret } = addDevice(server, 'kiosk-tls-1');
    const message = JSON.stringify({ samples: [healthSample(1), healthSample(2)] });
    const args = ['-h', 'localhost', '-p', portOf(server.mqttsUrl), '-u', id, '-P', secret, '-i', `${id}-pub`];
    const published = await run('mosquitto_pub', [
      ...args,
      '--cafile',
      caFile,
      '-q',
      '1',
      '-t',
      topics.health(id),
      '-m',
      message,
    ]);
    expect(published.stderr).toBe('');
    expect(published.code).toBe(0);
    // QoS 1: mosquitto_pub exits after the PUBACK, which the server sends only after the commit.
    expect(count(server, 'SELECT count(*) FROM health WHERE device_id = ?', id)).toBe(2);
  });

  it('refuses mosquitto_pub without the CA, with another CA, and in plaintext on the TLS port', async () => {
    const { id, secret } = addDevice(server, 'kiosk-tls-2');
    const otherDir = tempDir('tls-other-ca-');
    await loadTlsMaterial({ dataDir: otherDir, names: ['localhost'], renewBeforeMs: 0 });
    const args = ['-h', 'localhost', '-p', portOf(server.mqttsUrl), '-u', id, '-P', secret, '-i', `${id}-pub`, '-q', '1'];
    const message = ['-t', topics.health(id), '-m', JSON.stringify({ samples: [healthSample(1)] })];
    const systemCas = await run('mosquitto_pub', [...args, '--capath', '/etc/ssl/certs', ...message]);
    const otherCa = await run('mosquitto_pub', [...args, '--cafile', tlsFiles(otherDir).caCert, ...message]);
    const plain = await run('mosquitto_pub', [...args, ...message]);
    for (const refused of [systemCas, otherCa, plain]) expect(refused.code).not.toBe(0);
    expect(otherCa.stderr).toMatch(/certificate verify failed|TLS error/i);
    expect(count(server, 'SELECT count(*) FROM health WHERE device_id = ?', id)).toBe(0);
  });

  it('refuses TLS 1.1 (openssl s_client -tls1_1) on both TLS ports and accepts TLS 1.2 with the CA', async () => {
    for (const url of [server.mqttsUrl, server.httpsUrl]) {
      const connect = ['s_client', '-connect', `127.0.0.1:${portOf(url)}`, '-servername', 'localhost'];
      const old = await run('openssl', [...connect, '-tls1_1', '-cipher', 'DEFAULT:@SECLEVEL=0']);
      expect(old.code).not.toBe(0);
      expect(old.stdout + old.stderr).toMatch(/protocol version|no protocols available/i);
      const current = await run('openssl', [...connect, '-tls1_2', '-CAfile', caFile, '-verify_return_error']);
      expect(current.stdout).toMatch(/Protocol\s*: TLSv1\.2/);
      expect(current.stdout).toContain('Verify return code: 0 (ok)');
    }
  });

  it('curl --cacert reaches /healthz over HTTPS; without the CA it is refused', async () => {
    const ok = await run('curl', ['-sS', '--max-time', '10', '--cacert', caFile, `${server.httpsUrl}/healthz`]);
    expect(ok.code).toBe(0);
    expect(JSON.parse(ok.stdout)).toMatchObject({ ok: true });
    const refused = await run('curl', ['-sS', '--max-time', '10', `${server.httpsUrl}/healthz`]);
    expect(refused.code).toBe(60); // curl: peer certificate cannot be authenticated with known CA certificates
  });

  it('mqtt.js pinning the CA connects over mqtts:// and over wss://…/mqtt and its health is stored', async () => {
    const ca = server.caPem as string;
    for (const [i, url] of [server.mqttsUrl, server.wssUrl].entries()) {
      const { id, secret } = addDevice(server, `kiosk-tls-js-${i}`);
      const client = await connectDevice(url, id, secret, { ca, rejectUnauthorized: true });
      clients.push(client);
      await client.publishAsync(topics.health(id), JSON.stringify({ samples: [healthSample(1)] }), { qos: 1 });
      expect(count(server, 'SELECT count(*) FROM health WHERE device_id = ?', id)).toBe(1);
    }
    // A client that does not pin the CA (system trust only) is refused.
    const { id, secret } = addDevice(server, 'kiosk-tls-js-unpinned');
    await expect(connectDevice(server.mqttsUrl, id, secret)).rejects.toThrow(
      /self-signed|unable to get local issuer|certificate/i,
    );
  });

  it('renews the server certificate from the same CA on request: connected clients stay, new handshakes get the new one', async () => {
    const ca = server.caPem as string;
    const { id, secret } = addDevice(server, 'kiosk-tls-renew');
    const client = await connectDevice(server.mqttsUrl, id, secret, { ca });
    clients.push(client);
    let closes = 0;
    client.on('close', () => closes++);
    const before = await servedCertificate(portOf(server.mqttsUrl), ca);
    const fingerprint = server.caFingerprint;
    const renewed = await server.renewTls();
    expect(renewed.renewed).toBe(true);
    const after = await servedCertificate(portOf(server.mqttsUrl), ca);
    const afterHttps = await servedCertificate(portOf(server.httpsUrl), ca);
    expect(after.serialNumber).not.toBe(before.serialNumber);
    expect(afterHttps.serialNumber).toBe(after.serialNumber);
    expect(server.caFingerprint).toBe(fingerprint);
    // The connection made before the renewal still works.
    await client.publishAsync(topics.health(id), JSON.stringify({ samples: [healthSample(1)] }), { qos: 1 });
    expect(closes).toBe(0);
    expect(count(server, 'SELECT count(*) FROM health WHERE device_id = ?', id)).toBe(1);
    // mosquitto_pub with the ca.pem it had before the renewal still gets in (no kiosk touched).
    const published = await run('mosquitto_pub', [
      ...['-h', 'localhost', '-p', portOf(server.mqttsUrl), '-u', id, '-P', secret, '-i', `${id}-pub`, '--cafile', caFile],
      ...['-q', '1', '-t', topics.health(id), '-m', JSON.stringify({ samples: [healthSample(2)] })],
    ]);
    expect(published.code).toBe(0);
  });
});

describe('restarts and renewal at start', () => {
  it('keeps CA and certificate across restarts; re-issues from the same CA when due or when TLS_NAMES grows', async () => {
    const dataDir = tempDir('tls-restart-');
    const files = tlsFiles(dataDir);
    const serial = () => new X509Certificate(readFileSync(files.serverCert)).serialNumber;

    let server = await start(dataDir);
    const fingerprint = server.caFingerprint;
    const first = serial();
    await server.close();

    server = await start(dataDir);
    expect(server.caFingerprint).toBe(fingerprint);
    expect(serial()).toBe(first);
    await server.close();

    // 397-day certificates: with a 400-day renewal margin the stored one is due, so the start re-issues it.
    server = await start(dataDir, { TLS_RENEW_BEFORE: '400d' });
    const renewed = serial();
    expect(renewed).not.toBe(first);
    expect(server.caFingerprint).toBe(fingerprint);
    const curl = await run('curl', ['-sS', '--max-time', '10', '--cacert', files.caCert, `${server.httpsUrl}/healthz`]);
    expect(curl.code).toBe(0);
    await server.close();

    server = await start(dataDir, {
      TLS_NAMES: 'localhost,kiosk-server.gialai.example',
      PUBLIC_URL: 'https://fleet.gialai.example:8443',
    });
    const cert = new X509Certificate(readFileSync(files.serverCert));
    expect(cert.serialNumber).not.toBe(renewed);
    expect(cert.subjectAltName).toContain('DNS:fleet.gialai.example');
    expect(cert.subjectAltName).toContain('DNS:kiosk-server.gialai.example');
    expect(server.caFingerprint).toBe(fingerprint);
    await server.close();
  });

  it('refuses to start with a readable message when the operator’s key is not the certificate’s', async () => {
    const a = tempDir('tls-op-a-');
    const b = tempDir('tls-op-b-');
    await loadTlsMaterial({ dataDir: a, names: ['localhost'], renewBeforeMs: 0 });
    await loadTlsMaterial({ dataDir: b, names: ['localhost'], renewBeforeMs: 0 });
    await expect(
      start(tempDir('tls-op-'), { TLS_CERT_FILE: tlsFiles(a).serverCert, TLS_KEY_FILE: tlsFiles(b).serverKey }),
    ).rejects.toThrow(/TLS_KEY_FILE .* is not the key of the certificate in TLS_CERT_FILE/);
    await expect(
      start(tempDir('tls-op-'), {
        TLS_CERT_FILE: tlsFiles(a).serverCert,
        TLS_KEY_FILE: tlsFiles(a).serverKey,
        TLS_CA_FILE: tlsFiles(b).caCert,
      }),
    ).rejects.toThrow(/is not issued by the CA in TLS_CA_FILE/);
    await expect(start(tempDir('tls-op-'), { TLS_CERT_FILE: tlsFiles(a).serverCert })).rejects.toThrow(
      /TLS_CERT_FILE and TLS_KEY_FILE go together/,
    );
  });
});

describe('plaintext listeners (PLAINTEXT)', () => {
  it('binds plaintext HTTP and MQTT to loopback by default even when HTTP_HOST/MQTT_HOST are every interface', async () => {
    expect(plaintextHost('loopback', '0.0.0.0')).toBe('127.0.0.1');
    expect(plaintextHost('loopback', '::')).toBe('::1');
    expect(plaintextHost('loopback', '10.1.2.3')).toBe('127.0.0.1');
    expect(plaintextHost('loopback', '127.0.0.1')).toBe('127.0.0.1');
    expect(plaintextHost('on', '0.0.0.0')).toBe('0.0.0.0');
    expect(plaintextHost('off', '127.0.0.1')).toBeNull();
    const server = await start(tempDir('tls-plain-'), { HTTP_HOST: '0.0.0.0', MQTT_HOST: '0.0.0.0' });
    try {
      expect(server.httpUrl).toMatch(/^http:\/\/127\.0\.0\.1:/);
      expect(server.mqttUrl).toMatch(/^mqtt:\/\/127\.0\.0\.1:/);
      expect((await fetch(`${server.httpUrl}/healthz`)).status).toBe(200);
      const external = Object.values(networkInterfaces())
        .flat()
        .find((a) => a && a.family === 'IPv4' && !a.internal)?.address;
      if (external) {
        const reach = (port: string) =>
          new Promise<boolean>((resolve) => {
            const socket = tcpConnect({ host: external, port: Number(port) }, () => {
              socket.destroy();
              resolve(true);
            });
            socket.once('error', () => resolve(false));
          });
        expect(await reach(portOf(server.httpUrl))).toBe(false);
        expect(await reach(portOf(server.mqttUrl))).toBe(false);
        expect(await reach(portOf(server.httpsUrl))).toBe(true);
        expect(await reach(portOf(server.mqttsUrl))).toBe(true);
      }
    } finally {
      await server.close();
    }
  });

  it('PLAINTEXT=off: no plaintext listener, the server’s URLs are the TLS ones', async () => {
    const server = await start(tempDir('tls-off-'), { PLAINTEXT: 'off' });
    try {
      expect(server.httpUrl).toBe(server.httpsUrl);
      expect(server.mqttUrl).toBe(server.mqttsUrl);
      expect(server.wsUrl).toBe(server.wssUrl);
      expect(tlsNames('', 'https://fleet.example:8443')).toEqual(['fleet.example']);
    } finally {
      await server.close();
    }
  });
});
