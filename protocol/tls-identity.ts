/**
 * The one rule for checking a server against a CA fingerprint (docs/deployment.md): the server presents its CA after
 * its certificate; the client finds the CA with that SHA-256 fingerprint in the chain presented, then connects again
 * trusting only that CA (chain and host name checked by Node). Anything else — another CA, a proxy, a wrong name, even
 * a forged certificate shown beside the real CA — fails. Used by the technicians' CLI (enrollment link `ca=`,
 * `--ca-fingerprint`) and by a kiosk that pairs (`serverUrl` with `#ca=`). Node only: not exported from index.ts,
 * so the kiosk page's bundle never sees node:tls.
 */
import { X509Certificate } from 'node:crypto';
import { type PeerCertificate, connect as tlsConnect } from 'node:tls';

/** `ab12…` or `AB:12:…` → `AB:12:…` (as `openssl x509 -fingerprint -sha256` prints it); null when not 32 bytes of hex. */
export function parseFingerprint(value: string): string | null {
  const hex = value.replaceAll(/[:\s]/g, '').toUpperCase();
  if (!/^[0-9A-F]{64}$/.test(hex)) return null;
  return hex.match(/../g)?.join(':') as string;
}

export function tlsHandshake(
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

export type IdentityCheck =
  | { ok: true; caPem: string }
  | { ok: false; reason: 'unreachable' | 'not_presented' | 'does_not_verify'; message: string };

/** Whether the https server at `server` proves it holds a certificate from the CA with `fingerprint` (`AB:CD:…`). */
export async function checkServerIdentity(server: string, fingerprint: string, timeoutMs: number): Promise<IdentityCheck> {
  const url = new URL(server);
  let peer: PeerCertificate & { issuerCertificate?: PeerCertificate };
  try {
    peer = await tlsHandshake(url, { rejectUnauthorized: false }, timeoutMs);
  } catch (error) {
    return { ok: false, reason: 'unreachable', message: (error as Error).message };
  }
  let ca: X509Certificate | null = null;
  const seen = new Set<PeerCertificate>();
  for (let cert: PeerCertificate | undefined = peer; cert && !seen.has(cert); cert = (cert as typeof peer).issuerCertificate) {
    seen.add(cert);
    const x509 = new X509Certificate(cert.raw);
    if (x509.fingerprint256 === fingerprint) ca = x509;
  }
  if (!ca) return { ok: false, reason: 'not_presented', message: `it presented no CA with fingerprint ${fingerprint}` };
  try {
    await tlsHandshake(url, { ca: ca.toString(), rejectUnauthorized: true }, timeoutMs);
  } catch (error) {
    return {
      ok: false,
      reason: 'does_not_verify',
      message: `its certificate does not verify against that CA: ${(error as Error).message}`,
    };
  }
  return { ok: true, caPem: ca.toString() };
}
