/**
 * The server's TLS material (docs/deployment.md): either the operator's certificate and key (files, e.g. from the
 * province's CA), or — when none is given — the server's own CA and a server certificate it issues from that CA,
 * both kept under `DATA_DIR/tls/`. Certificates are made with @peculiar/x509 (X.509 over WebCrypto) and read back
 * with node:crypto's X509Certificate; nothing here encodes ASN.1 by hand.
 *
 * Files in `DATA_DIR/tls/` (directory 0700, keys 0600):
 *   ca.pem          the CA certificate kiosks pin (handed out at enrollment; its SHA-256 fingerprint is printed)
 *   ca-key.pem      the CA's private key (PKCS#8)
 *   server.pem      the server certificate, issued by ca.pem
 *   server-key.pem  the server certificate's private key (PKCS#8)
 */
import { createPrivateKey, webcrypto, X509Certificate } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { hostname } from 'node:os';
import { join } from 'node:path';

const DAY_MS = 86_400_000;
const EC_KEY = { name: 'ECDSA', namedCurve: 'P-256' } as const;
const SIGNING = { name: 'ECDSA', hash: 'SHA-256' } as const;

export interface TlsMaterial {
  /** PEM of the server certificate (chain, leaf first, for operator files). */
  certPem: string;
  keyPem: string;
  /** PEM of the CA devices pin; null when the operator gave a certificate without `TLS_CA_FILE`. */
  caPem: string | null;
  /** SHA-256 fingerprint of the CA certificate (`AB:CD:…`, as `openssl x509 -fingerprint -sha256` prints it). */
  caFingerprint: string | null;
  source: 'generated' | 'operator';
  /** When the server certificate expires. */
  notAfter: Date;
  /** The DNS names and IP addresses the server certificate is valid for. */
  names: string[];
  /** Whether this load issued a new server certificate (always false for the operator's). */
  renewed: boolean;
}

export interface TlsSettings {
  dataDir: string;
  /** Names and addresses the generated server certificate must cover. */
  names: string[];
  certFile?: string | undefined;
  keyFile?: string | undefined;
  caFile?: string | undefined;
  /** A generated server certificate expiring within this is re-issued from the same CA. */
  renewBeforeMs: number;
  /** Lifetime of a generated server certificate. */
  serverCertValidityMs?: number;
  /** Lifetime of a generated CA. */
  caValidityMs?: number;
  now?: () => number;
}

/** The default of `TLS_NAMES`: loopback names and addresses plus this machine's host name. */
export function defaultTlsNames(): string[] {
  return uniqueNames(['localhost', '127.0.0.1', '::1', hostname()]);
}

/** Parses `TLS_NAMES` (comma- or space-separated) and adds `PUBLIC_URL`'s host, without duplicates. */
export function tlsNames(setting: string | undefined, publicUrl: string | undefined): string[] {
  const listed = setting === undefined ? defaultTlsNames() : setting.split(/[\s,]+/).filter(Boolean);
  const publicHost = publicUrl ? new URL(publicUrl).hostname : undefined;
  return uniqueNames([...(publicHost ? [publicHost] : []), ...listed]);
}

function uniqueNames(names: string[]): string[] {
  const out: string[] = [];
  for (const raw of names) {
    const name = raw.replace(/^\[(.*)\]$/, '$1').toLowerCase();
    if (name && !out.includes(name)) out.push(name);
  }
  return out;
}

export function tlsDir(dataDir: string): string {
  return join(dataDir, 'tls');
}

/** The files of the generated CA and server certificate. */
export function tlsFiles(dataDir: string) {
  const dir = tlsDir(dataDir);
  return {
    dir,
    caCert: join(dir, 'ca.pem'),
    caKey: join(dir, 'ca-key.pem'),
    serverCert: join(dir, 'server.pem'),
    serverKey: join(dir, 'server-key.pem'),
  };
}

/** The `AB:CD:…` SHA-256 fingerprint of the first certificate in a PEM. */
export function certificateFingerprint(pem: string): string {
  return new X509Certificate(pem).fingerprint256;
}

/**
 * The TLS material to serve: the operator's files when `certFile` is set, else the generated CA and server
 * certificate (made on first use; the server certificate re-issued when it is missing, due for renewal, not from
 * the current CA, missing one of `names`, or when `forceRenew`). Throws a readable error on unusable files.
 */
export async function loadTlsMaterial(settings: TlsSettings, forceRenew = false): Promise<TlsMaterial> {
  if (settings.certFile || settings.keyFile) return loadOperatorMaterial(settings);
  return ensureGeneratedMaterial(settings, forceRenew);
}

function readSetting(path: string, what: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (error) {
    throw new Error(`${what} ${path} cannot be read: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
  }
}

/** Splits a PEM bundle into its certificates. */
function certificatesOf(pem: string, what: string): X509Certificate[] {
  const blocks = pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
  if (blocks.length === 0) throw new Error(`${what} holds no PEM certificate`);
  try {
    return blocks.map((block) => new X509Certificate(block));
  } catch (error) {
    throw new Error(`${what} holds an unreadable certificate: ${(error as Error).message}`);
  }
}

function loadOperatorMaterial(settings: TlsSettings): TlsMaterial {
  if (!settings.certFile || !settings.keyFile) {
    throw new Error('TLS_CERT_FILE and TLS_KEY_FILE go together: give both, or neither to let the server make its own CA');
  }
  const certPem = readSetting(settings.certFile, 'TLS_CERT_FILE');
  const keyPem = readSetting(settings.keyFile, 'TLS_KEY_FILE');
  const chain = certificatesOf(certPem, `TLS_CERT_FILE ${settings.certFile}`);
  const leaf = chain[0] as X509Certificate;
  let key: ReturnType<typeof createPrivateKey>;
  try {
    key = createPrivateKey(keyPem);
  } catch (error) {
    throw new Error(`TLS_KEY_FILE ${settings.keyFile} holds no readable private key: ${(error as Error).message}`);
  }
  if (!leaf.checkPrivateKey(key)) {
    throw new Error(`TLS_KEY_FILE ${settings.keyFile} is not the key of the certificate in TLS_CERT_FILE ${settings.certFile}`);
  }
  let caPem: string | null = null;
  let caFingerprint: string | null = null;
  if (settings.caFile) {
    caPem = readSetting(settings.caFile, 'TLS_CA_FILE');
    const cas = certificatesOf(caPem, `TLS_CA_FILE ${settings.caFile}`);
    const last = chain[chain.length - 1] as X509Certificate;
    const anchored = cas.some((ca) => [leaf, last].some((cert) => cert.checkIssued(ca) && cert.verify(ca.publicKey)));
    if (!anchored) {
      throw new Error(
        `the certificate in TLS_CERT_FILE ${settings.certFile} is not issued by the CA in TLS_CA_FILE ${settings.caFile}`,
      );
    }
    caFingerprint = (cas[0] as X509Certificate).fingerprint256;
  }
  return {
    certPem,
    keyPem,
    caPem,
    caFingerprint,
    source: 'operator',
    notAfter: new Date(leaf.validTo),
    names: namesOf(leaf),
    renewed: false,
  };
}

/** The DNS names and IP addresses in a certificate's subjectAltName. */
export function namesOf(cert: X509Certificate): string[] {
  return (cert.subjectAltName ?? '')
    .split(/,\s*/)
    .map((entry) => /^(?:DNS|IP Address):(.+)$/.exec(entry)?.[1])
    .filter((name): name is string => name !== undefined)
    .map((name) => name.toLowerCase());
}

/** Compares IPv6 addresses by value (node prints `::1` in SANs as `0:0:0:0:0:0:0:1` on some versions). */
function sameName(a: string, b: string): boolean {
  if (a === b) return true;
  if (isIP(a) === 6 && isIP(b) === 6) return expandV6(a) === expandV6(b);
  return false;
}

function expandV6(address: string): string {
  const [head = '', tail = ''] = address.split('::');
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  const fill = address.includes('::') ? Array(8 - h.length - t.length).fill('0') : [];
  return [...h, ...fill, ...t].map((part) => part.replace(/^0+(?=.)/, '')).join(':');
}

function writeAtomic(path: string, text: string, mode: number): void {
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, text, { mode });
  chmodSync(tmp, mode);
  renameSync(tmp, path);
}

async function x509(): Promise<typeof import('@peculiar/x509')> {
  // @peculiar/x509 needs a Reflect metadata polyfill (tsyringe); loaded here, on first use, not at import time.
  await import('reflect-metadata');
  const lib = await import('@peculiar/x509');
  lib.cryptoProvider.set(webcrypto as never);
  return lib;
}

// The `as never` casts: @peculiar/x509 types keys with the DOM's Crypto/CryptoKey, which this project's `lib` does not
// include; node's webcrypto objects are those at run time.
async function exportKeyPem(key: webcrypto.CryptoKey): Promise<string> {
  const der = Buffer.from(await webcrypto.subtle.exportKey('pkcs8', key));
  return `-----BEGIN PRIVATE KEY-----\n${der.toString('base64').replace(/.{1,64}/g, '$&\n')}-----END PRIVATE KEY-----\n`;
}

async function importSigningKey(pem: string): Promise<webcrypto.CryptoKey> {
  const der = createPrivateKey(pem).export({ format: 'der', type: 'pkcs8' });
  return webcrypto.subtle.importKey('pkcs8', der, EC_KEY, false, ['sign']);
}

async function makeCa(now: number, validityMs: number): Promise<{ certPem: string; keyPem: string }> {
  const lib = await x509();
  const keys = await webcrypto.subtle.generateKey(EC_KEY, true, ['sign', 'verify']);
  const cert = await lib.X509CertificateGenerator.createSelfSigned({
    name: `CN=Border kiosk fleet server CA ${new Date(now).toISOString().slice(0, 10)}`,
    notBefore: new Date(now - 60_000),
    notAfter: new Date(now + validityMs),
    keys: keys as never,
    signingAlgorithm: SIGNING,
    extensions: [
      new lib.BasicConstraintsExtension(true, 0, true),
      new lib.KeyUsagesExtension(lib.KeyUsageFlags.keyCertSign | lib.KeyUsageFlags.cRLSign, true),
      await lib.SubjectKeyIdentifierExtension.create(keys.publicKey as never),
    ],
  });
  return { certPem: `${cert.toString('pem')}\n`, keyPem: await exportKeyPem(keys.privateKey) };
}

async function issueServerCert(
  ca: { certPem: string; keyPem: string },
  names: string[],
  now: number,
  validityMs: number,
): Promise<{ certPem: string; keyPem: string }> {
  const lib = await x509();
  const caCert = new lib.X509Certificate(ca.certPem);
  const keys = await webcrypto.subtle.generateKey(EC_KEY, true, ['sign', 'verify']);
  const cert = await lib.X509CertificateGenerator.create({
    subject: `CN=${names[0] ?? 'localhost'}`,
    issuer: caCert.subject,
    notBefore: new Date(now - 60_000),
    // Never past the CA's own expiry: a chain is only as valid as its shortest link.
    notAfter: new Date(Math.min(now + validityMs, caCert.notAfter.getTime())),
    publicKey: keys.publicKey as never,
    signingKey: (await importSigningKey(ca.keyPem)) as never,
    signingAlgorithm: SIGNING,
    extensions: [
      new lib.BasicConstraintsExtension(false, undefined, true),
      new lib.KeyUsagesExtension(lib.KeyUsageFlags.digitalSignature, true),
      new lib.ExtendedKeyUsageExtension([lib.ExtendedKeyUsage.serverAuth]),
      new lib.SubjectAlternativeNameExtension(names.map((name) => ({ type: isIP(name) ? 'ip' : 'dns', value: name }))),
      await lib.SubjectKeyIdentifierExtension.create(keys.publicKey as never),
      await lib.AuthorityKeyIdentifierExtension.create(caCert.publicKey),
    ],
  });
  return { certPem: `${cert.toString('pem')}\n`, keyPem: await exportKeyPem(keys.privateKey) };
}

/** Why the stored server certificate must be re-issued, or null when it is fine. */
function renewalReason(
  files: ReturnType<typeof tlsFiles>,
  ca: X509Certificate,
  names: string[],
  now: number,
  renewBeforeMs: number,
): string | null {
  if (!existsSync(files.serverCert) || !existsSync(files.serverKey)) return 'no server certificate yet';
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(readFileSync(files.serverCert));
    if (!cert.checkPrivateKey(createPrivateKey(readFileSync(files.serverKey)))) return 'server key does not match';
  } catch {
    return 'server certificate unreadable';
  }
  if (!cert.checkIssued(ca) || !cert.verify(ca.publicKey)) return 'not issued by the current CA';
  if (Date.parse(cert.validTo) - now <= renewBeforeMs) return 'due for renewal';
  const have = namesOf(cert);
  const missing = names.filter((name) => !have.some((h) => sameName(h, name)));
  if (missing.length > 0) return `does not cover ${missing.join(', ')}`;
  return null;
}

async function ensureGeneratedMaterial(
  settings: TlsSettings,
  forceRenew: boolean,
): Promise<TlsMaterial & { renewReason?: string }> {
  const now = (settings.now ?? Date.now)();
  const files = tlsFiles(settings.dataDir);
  mkdirSync(files.dir, { recursive: true, mode: 0o700 });
  chmodSync(files.dir, 0o700);
  if (!existsSync(files.caCert) || !existsSync(files.caKey)) {
    if (existsSync(files.caCert) !== existsSync(files.caKey)) {
      throw new Error(
        `${files.dir} holds only one of ca.pem and ca-key.pem; restore the other (kiosks pin this CA) or remove both to make a new CA`,
      );
    }
    const ca = await makeCa(now, settings.caValidityMs ?? 20 * 365 * DAY_MS);
    writeAtomic(files.caKey, ca.keyPem, 0o600);
    writeAtomic(files.caCert, ca.certPem, 0o644);
  }
  const caPem = readFileSync(files.caCert, 'utf8');
  const caKeyPem = readFileSync(files.caKey, 'utf8');
  const caCert = new X509Certificate(caPem);
  if (!caCert.checkPrivateKey(createPrivateKey(caKeyPem))) {
    throw new Error(`${files.caKey} is not the key of ${files.caCert}`);
  }
  const reason = forceRenew ? 'renewal requested' : renewalReason(files, caCert, settings.names, now, settings.renewBeforeMs);
  if (reason) {
    const issued = await issueServerCert(
      { certPem: caPem, keyPem: caKeyPem },
      settings.names,
      now,
      settings.serverCertValidityMs ?? 397 * DAY_MS,
    );
    writeAtomic(files.serverKey, issued.keyPem, 0o600);
    writeAtomic(files.serverCert, issued.certPem, 0o644);
  }
  const certPem = readFileSync(files.serverCert, 'utf8');
  const leaf = new X509Certificate(certPem);
  return {
    certPem,
    keyPem: readFileSync(files.serverKey, 'utf8'),
    caPem,
    caFingerprint: caCert.fingerprint256,
    source: 'generated',
    notAfter: new Date(leaf.validTo),
    names: namesOf(leaf),
    renewed: reason !== null,
    ...(reason ? { renewReason: reason } : {}),
  };
}

/**
 * Moving kiosks to a new CA (docs/deployment.md): the next CA waits in `DATA_DIR/tls/next-ca.pem` (+ key) while
 * it is published in the keys document (`kiosk-provision keys tls-cas add`); `switchToNextCa` then makes it the CA
 * (the old pair kept as `retired-ca-<fingerprint prefix>.pem`) and issues a server certificate from it.
 */
export function nextCaFiles(dataDir: string) {
  const dir = tlsDir(dataDir);
  return { cert: join(dir, 'next-ca.pem'), key: join(dir, 'next-ca-key.pem') };
}

/** Makes the next CA (once: an existing one is kept). Returns its PEM and fingerprint. */
export async function makeNextCa(
  dataDir: string,
  options: { now?: number; validityMs?: number } = {},
): Promise<{ certPem: string; fingerprint: string; created: boolean }> {
  const files = nextCaFiles(dataDir);
  mkdirSync(tlsDir(dataDir), { recursive: true, mode: 0o700 });
  if (existsSync(files.cert) && existsSync(files.key)) {
    const certPem = readFileSync(files.cert, 'utf8');
    return { certPem, fingerprint: certificateFingerprint(certPem), created: false };
  }
  const ca = await makeCa(options.now ?? Date.now(), options.validityMs ?? 20 * 365 * DAY_MS);
  writeAtomic(files.key, ca.keyPem, 0o600);
  writeAtomic(files.cert, ca.certPem, 0o644);
  return { certPem: ca.certPem, fingerprint: certificateFingerprint(ca.certPem), created: true };
}

/** Takes a CA made elsewhere (certificate + key, PEM) as the next CA; refuses a key that is not the CA's. */
export function importNextCa(dataDir: string, certPem: string, keyPem: string): { certPem: string; fingerprint: string } {
  const cert = certificatesOf(certPem, 'the CA file')[0] as X509Certificate;
  if (!cert.ca) throw new Error(`${cert.subject} is not a CA certificate`);
  let key: ReturnType<typeof createPrivateKey>;
  try {
    key = createPrivateKey(keyPem);
  } catch (error) {
    throw new Error(`the CA key file holds no readable private key: ${(error as Error).message}`);
  }
  if (!cert.checkPrivateKey(key)) throw new Error('the CA key file is not the key of the CA certificate');
  const files = nextCaFiles(dataDir);
  mkdirSync(tlsDir(dataDir), { recursive: true, mode: 0o700 });
  const pem = cert.toString();
  writeAtomic(files.key, key.export({ type: 'pkcs8', format: 'pem' }).toString(), 0o600);
  writeAtomic(files.cert, pem, 0o644);
  return { certPem: pem, fingerprint: cert.fingerprint256 };
}

/**
 * Makes the next CA the server's CA and issues a server certificate from it; the old CA pair is kept as
 * `retired-ca-<16 hex>.pem` / `retired-ca-<16 hex>-key.pem`. The running server serves it after SIGHUP
 * (`reloadTls`): kiosks must already trust the next CA (keys document `tlsCas`), the others will refuse it.
 */
export async function switchToNextCa(settings: TlsSettings): Promise<TlsMaterial & { retiredCaFile: string }> {
  if (settings.certFile) {
    throw new Error(
      'the server certificate is the operator\u2019s (TLS_CERT_FILE): give the new CA\u2019s certificate files instead, then SIGHUP',
    );
  }
  const next = nextCaFiles(settings.dataDir);
  if (!existsSync(next.cert) || !existsSync(next.key)) {
    throw new Error(`no next CA at ${next.cert}: make one with \`server/tls/cli.ts new-ca\` (or import-ca) first`);
  }
  const files = tlsFiles(settings.dataDir);
  if (!existsSync(files.caCert) || !existsSync(files.caKey)) {
    throw new Error(`no current CA at ${files.caCert}: start the server once (or \`fingerprint\`) before moving to a new CA`);
  }
  const oldPem = readFileSync(files.caCert, 'utf8');
  const tag = certificateFingerprint(oldPem).replace(/:/g, '').slice(0, 16).toLowerCase();
  const retiredCaFile = join(files.dir, `retired-ca-${tag}.pem`);
  writeAtomic(join(files.dir, `retired-ca-${tag}-key.pem`), readFileSync(files.caKey, 'utf8'), 0o600);
  writeAtomic(retiredCaFile, oldPem, 0o644);
  renameSync(next.key, files.caKey);
  renameSync(next.cert, files.caCert);
  const material = await ensureGeneratedMaterial(settings, true);
  return { ...material, retiredCaFile };
}
