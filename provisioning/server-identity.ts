/**
 * Checks that an https server is the department's before the CLI sends it an enrollment token: the enrollment link
 * carries the SHA-256 fingerprint of the server's CA (`#token=…&ca=<64 hex>`); the server presents that CA after its
 * certificate; the CLI finds it there by fingerprint and then makes a strict TLS connection trusting only that CA
 * (chain and host name checked by Node). Anything else — another CA, a proxy, a wrong name — is refused.
 */
import { X509Certificate } from 'node:crypto';
import { type PeerCertificate, connect as tlsConnect } from 'node:tls';
import { Agent } from 'undici';
import { CliError, EXIT } from './cli-support.js';

/** `ab12…` (64 hex digits, as in the link) → `AB:12:…` (as `openssl x509 -fingerprint -sha256` prints it). */
export function normalizeFingerprint(value: string): string {
  const hex = value.replaceAll(':', '').toUpperCase();
  if (!/^[0-9A-F]{64}$/.test(hex))
    throw new CliError(`the link's ca= is not a SHA-256 fingerprint: ${JSON.stringify(value)}`, EXIT.usage);
  return hex.match(/../g)?.join(':') as string;
}

function handshake(
  url: URL,
  options: { ca?: string; rejectUnauthorized: boolean },
  timeoutMs: number,
): Promise<PeerCertificate & { issuerCertificate?: PeerCertificate }> {
  return new Promise((resolve, reject) => {
    const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
    const isAddress = /^[\d.]+$|:/.test(host);
    const socket = tlsConnect({
      host,
      port: Number(url.port || 443),
      ...(isAddress ? {} : { servername: host }),
      ...options,
      timeout: timeoutMs,
    });
    socket.once('secureConnect', () => {
      const peer = socket.getPeerCertificate(true);
      socket.end();
      resolve(peer);
    });
    socket.once('timeout', () => socket.destroy(new Error(`no TLS handshake within ${timeoutMs / 1000} s`)));
    socket.once('error', reject);
  });
}

/** Returns the PEM of the CA with that fingerprint, once the server at `server` proved it holds a certificate from it. */
export async function verifyServerIdentity(server: string, fingerprint: string, timeoutMs: number): Promise<string> {
  const url = new URL(server);
  const refuse = (why: string) =>
    new CliError(
      `the server at ${url.origin} is not the one the enrollment link names (${why}). ` +
        'Nothing was sent to it: the token is still unused. Check the network (a captive portal or a man in the middle) ' +
        'and the link, and compare the CA fingerprint with the department\u2019s.',
      EXIT.unreachable,
    );
  let peer: PeerCertificate & { issuerCertificate?: PeerCertificate };
  try {
    peer = await handshake(url, { rejectUnauthorized: false }, timeoutMs);
  } catch (error) {
    throw new CliError(`cannot reach the server at ${url.origin}: ${(error as Error).message}`, EXIT.unreachable);
  }
  let ca: X509Certificate | null = null;
  const seen = new Set<PeerCertificate>();
  for (let cert: PeerCertificate | undefined = peer; cert && !seen.has(cert); cert = (cert as typeof peer).issuerCertificate) {
    seen.add(cert);
    const x509 = new X509Certificate(cert.raw);
    if (x509.fingerprint256 === fingerprint) ca = x509;
  }
  if (!ca) throw refuse(`it presented no CA with fingerprint ${fingerprint}`);
  try {
    await handshake(url, { ca: ca.toString(), rejectUnauthorized: true }, timeoutMs);
  } catch (error) {
    throw refuse(`its certificate does not verify against that CA: ${(error as Error).message}`);
  }
  return ca.toString();
}

/** An undici dispatcher for `fetch` that trusts only `caPem`. */
export function pinnedDispatcher(caPem: string): Agent {
  return new Agent({ connect: { ca: caPem } });
}
