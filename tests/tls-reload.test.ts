/**
 * Issue 13: the operator's certificate (TLS_CERT_FILE, TLS_KEY_FILE, TLS_CA_FILE) is served by `npm start`
 * (server/main.ts as its own process) and picked up again on SIGHUP: a connected mqtt.js TLS client stays connected
 * and keeps publishing, new handshakes get the new certificate, and a bad file leaves the old one in use.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { copyFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { connect as tlsConnect } from 'node:tls';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { topics } from '../protocol/index.js';
import { openDatabase } from '../server/db/open-database.js';
import { registerDevice } from '../server/registry/devices-repo.js';
import { connectDevice, healthSample, waitFor } from '../server/testing/test-server.js';
import { loadTlsMaterial, type TlsSettings, tlsFiles } from '../server/tls/index.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const dirs: string[] = [];
const children: ChildProcess[] = [];
function tempDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  dirs.push(dir);
  return dir;
}
afterAll(() => {
  for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

function servedCertificate(url: string, ca: string): Promise<X509Certificate> {
  return new Promise((resolvePromise, reject) => {
    const socket = tlsConnect({ host: '127.0.0.1', port: Number(new URL(url).port), ca, servername: 'localhost' }, () => {
      const raw = socket.getPeerCertificate().raw;
      socket.end();
      resolvePromise(new X509Certificate(raw));
    });
    socket.once('error', reject);
  });
}

describe('operator certificate and SIGHUP', () => {
  it('serves the operator’s certificate, reloads it on SIGHUP without dropping a connected client, keeps the old one on a bad file', async () => {
    // The "province CA": a CA and a server certificate made elsewhere, given to the server as files.
    const province: TlsSettings = { dataDir: tempDir('tls-province-'), names: ['localhost', '127.0.0.1'], renewBeforeMs: 0 };
    const issued = await loadTlsMaterial(province);
    const made = tlsFiles(province.dataDir);
    const op = tempDir('tls-operator-');
    const files = { cert: join(op, 'server.crt'), key: join(op, 'server.key'), ca: join(op, 'province-ca.crt') };
    const install = () => {
      copyFileSync(made.serverCert, files.cert);
      copyFileSync(made.serverKey, files.key);
    };
    install();
    copyFileSync(made.caCert, files.ca);
    const ca = readFileSync(files.ca, 'utf8');

    const dataDir = tempDir('tls-reload-data-');
    const child = spawn(process.execPath, ['--import', 'tsx', 'server/main.ts'], {
      cwd: ROOT,
      env: {
        ...process.env,
        DATA_DIR: dataDir,
        HTTP_HOST: '127.0.0.1',
        HTTP_PORT: '0',
        MQTT_HOST: '127.0.0.1',
        MQTT_PORT: '0',
        MQTTS_PORT: '0',
        HTTPS_PORT: '0',
        TLS_CERT_FILE: files.cert,
        TLS_KEY_FILE: files.key,
        TLS_CA_FILE: files.ca,
        ADMIN_PASSWORD: 'tls-reload-admin',
        LOG_LEVEL: 'warn',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    children.push(child);
    let out = '';
    child.stdout?.on('data', (chunk: Buffer) => {
      out += chunk.toString();
    });
    child.stderr?.on('data', (chunk: Buffer) => {
      out += chunk.toString();
    });
    await waitFor(() => out.includes('CA fingerprint'), `the server's start-up lines (got: ${out})`, 30_000);
    const mqttsUrl = /MQTT over TLS\s+(\S+)/.exec(out)?.[1] as string;
    const httpsUrl = /HTTPS\s+(https:\/\/\S+)/.exec(out)?.[1] as string;
    expect(out).toContain(`CA fingerprint (SHA-256) ${issued.caFingerprint}`);
    expect(await servedCertificate(mqttsUrl, ca).then((c) => c.fingerprint256)).toBe(
      new X509Certificate(readFileSync(files.cert)).fingerprint256,
    );

    const db = openDatabase(join(dataDir, 'fleet.db'));
    const id = 'kiosk-reload';
    const secret = 'secret-of-kiosk-reload-0123456789';
    registerDevice(db, { id, secret, siteId: null });
    const client = await connectDevice(mqttsUrl, id, secret, { ca });
    let closes = 0;
    client.on('close', () => closes++);
    try {
      await client.publishAsync(topics.health(id), JSON.stringify({ samples: [healthSample(1)] }), { qos: 1 });
      const before = await servedCertificate(mqttsUrl, ca);

      // The operator renews at the province CA, puts the new files in place and sends SIGHUP.
      await loadTlsMaterial(province, true);
      install();
      const next = new X509Certificate(readFileSync(files.cert));
      expect(next.serialNumber).not.toBe(before.serialNumber);
      child.kill('SIGHUP');
      await waitFor(() => out.includes('SIGHUP: TLS certificate reloaded'), 'the reload line', 10_000);

      expect((await servedCertificate(mqttsUrl, ca)).serialNumber).toBe(next.serialNumber);
      expect((await servedCertificate(httpsUrl, ca)).serialNumber).toBe(next.serialNumber);
      // The connection made before the reload is the same one and still publishes.
      expect(client.connected).toBe(true);
      await client.publishAsync(topics.health(id), JSON.stringify({ samples: [healthSample(2)] }), { qos: 1 });
      expect(closes).toBe(0);
      expect(db.prepare('SELECT count(*) FROM health WHERE device_id = ?').pluck().get(id)).toBe(2);

      // A key that is not the certificate's: the reload is refused, the certificate in use stays.
      const other = tempDir('tls-other-');
      await loadTlsMaterial({ ...province, dataDir: other });
      copyFileSync(tlsFiles(other).serverKey, files.key);
      child.kill('SIGHUP');
      await waitFor(() => out.includes('SIGHUP: TLS certificate not reloaded'), 'the refusal line', 10_000);
      expect(out).toMatch(/is not the key of the certificate in TLS_CERT_FILE/);
      expect((await servedCertificate(mqttsUrl, ca)).serialNumber).toBe(next.serialNumber);
      const curl = await new Promise<string>((resolvePromise) =>
        execFile('curl', ['-sS', '--max-time', '10', '--cacert', files.ca, `${httpsUrl}/healthz`], (_e, stdout) =>
          resolvePromise(stdout),
        ),
      );
      expect(JSON.parse(curl)).toMatchObject({ ok: true });
    } finally {
      client.end(true);
      db.close();
      child.kill('SIGTERM');
      await new Promise((r) => child.once('exit', r));
    }
  });

  it('renews the generated certificate through the CLI: after SIGHUP new handshakes get it, from the same CA', async () => {
    const dataDir = tempDir('tls-cli-renew-');
    const env = { ...process.env, DATA_DIR: dataDir, HTTP_HOST: '127.0.0.1', HTTP_PORT: '0', MQTT_HOST: '127.0.0.1' };
    const child = spawn(process.execPath, ['--import', 'tsx', 'server/main.ts'], {
      cwd: ROOT,
      env: { ...env, MQTT_PORT: '0', MQTTS_PORT: '0', HTTPS_PORT: '0', ADMIN_PASSWORD: 'tls-reload-admin', LOG_LEVEL: 'warn' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    children.push(child);
    let out = '';
    child.stdout?.on('data', (chunk: Buffer) => {
      out += chunk.toString();
    });
    child.stderr?.on('data', (chunk: Buffer) => {
      out += chunk.toString();
    });
    try {
      await waitFor(() => out.includes('CA fingerprint'), `the server's start-up lines (got: ${out})`, 30_000);
      const mqttsUrl = /MQTT over TLS\s+(\S+)/.exec(out)?.[1] as string;
      const ca = readFileSync(tlsFiles(dataDir).caCert, 'utf8');
      const before = await servedCertificate(mqttsUrl, ca);
      const cli = await new Promise<{ code: number; stdout: string }>((resolvePromise) =>
        execFile(
          process.execPath,
          ['--import', 'tsx', 'server/tls/cli.ts', 'renew'],
          { cwd: ROOT, env, timeout: 30_000 },
          (e, stdout) => resolvePromise({ code: e ? 1 : 0, stdout }),
        ),
      );
      expect(cli.code).toBe(0);
      expect(cli.stdout).toContain(`re-issued from CA ${new X509Certificate(ca).fingerprint256}`);
      child.kill('SIGHUP');
      await waitFor(() => out.includes('SIGHUP: TLS certificate reloaded'), 'the reload line', 10_000);
      const after = await servedCertificate(mqttsUrl, ca);
      expect(after.serialNumber).not.toBe(before.serialNumber);
      expect(after.serialNumber).toBe(new X509Certificate(readFileSync(tlsFiles(dataDir).serverCert)).serialNumber);
    } finally {
      child.kill('SIGTERM');
      await new Promise((r) => child.once('exit', r));
    }
  });
});
