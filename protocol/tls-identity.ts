/**
 * The one rule for checking a server against a CA fingerprint (docs/deployment.md): the server presents its CA after
 * its certificate; the client finds the CA with that SHA-256 fingerprint in the chain presented, then connects again
 * trusting only that CA (chain, host name and validity judged by tlsPeerRefusal below). Anything else — another CA, a proxy, a wrong name, even
 * a forged certificate shown beside the real CA — fails. Used by the technicians' CLI (enrollment link `ca=`,
 * `--ca-fingerprint`) and by a kiosk that pairs (`serverUrl` with `#ca=`). Node only: not exported from index.ts,
 * so the kiosk page's bundle never sees node:tls.
 */
import { X509Certificate } from 'node:crypto';
import {
  checkServerIdentity as checkHostName,
  type DetailedPeerCertificate,
  type PeerCertificate,
  type TLSSocket,
  connect as tlsConnect,
} from 'node:tls';

/** `ab12…` or `AB:12:…` → `AB:12:…` (as `openssl x509 -fingerprint -sha256` prints it); null when not 32 bytes of hex. */
export function parseFingerprint(value: string): string | null {
  const hex = value.replaceAll(/[:\s]/g, '').toUpperCase();
  if (!/^[0-9A-F]{64}$/.test(hex)) return null;
  return hex.match(/../g)?.join(':') as string;
}

/**
 * The one rule for a TLS link that pins CAs (the agent's HTTPS, MQTTS and pairing; the technicians' CLI), judged on
 * the socket after the handshake, before any byte of ours is written: verified by OpenSSL, or else refused — except
 * when OpenSSL's complaint is CERT_NOT_YET_VALID. OpenSSL judges validity on the wall clock, and a kiosk's wall clock
 * is often behind (a dead RTC battery boots in 1970; −1 day right after a renewal), so then the chain is verified
 * here instead: each signature up to a pinned CA, the host name (node:tls), and every certificate's validity period at
 * `estimateMs` — the caller's best time estimate, never less than the wall clock — raised to the leaf's notBefore: a
 * certificate the pinned CA signed is itself proof that the time is past the notBefore it carries (server/tls stamps
 * its issue time; public CAs backdate, never forward-date). So a clock behind is forgiven, expiry is never judged
 * more leniently than OpenSSL does (CERT_HAS_EXPIRED on the wall clock still refuses; an estimate past notAfter
 * refuses too), and a certificate from any other CA is refused whatever the clock says. Returns null when the link may
 * be used, else the error to close it with.
 */
export function tlsPeerRefusal(socket: TLSSocket, cas: string, host: string, estimateMs: number): Error | null {
  if (socket.authorized) return null;
  const code = String(socket.authorizationError ?? 'no peer certificate');
  // With OpenSSL's code, as Node's own TLS errors carry it (mqtt.js reports only errors with a code).
  const refusal = (message: string): Error => Object.assign(new Error(message), { code });
  if (code !== 'CERT_NOT_YET_VALID') return refusal(`the server\u2019s certificate does not verify: ${code}`);
  const reason = pinnedChainProblem(socket.getPeerCertificate(true), cas, host, estimateMs);
  return reason ? refusal(`the server\u2019s certificate does not verify (${code} on the wall clock): ${reason}`) : null;
}

function pemBlocks(bundle: string): string[] {
  return bundle.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
}

/** Why `peer` does not verify against the pinned `cas` for `host` at `estimateMs` (see tlsPeerRefusal), or null. */
export function pinnedChainProblem(peer: DetailedPeerCertificate, cas: string, host: string, estimateMs: number): string | null {
  if (!peer?.raw) return 'it presented no certificate';
  const presented: X509Certificate[] = [];
  const seen = new Set<PeerCertificate>();
  for (let c: DetailedPeerCertificate | undefined = peer; c?.raw && !seen.has(c); c = c.issuerCertificate) {
    seen.add(c);
    presented.push(new X509Certificate(c.raw));
  }
  const anchors = pemBlocks(cas).map((pem) => new X509Certificate(pem));
  const signedBy = (cert: X509Certificate, issuer: X509Certificate): boolean =>
    issuer.ca && cert.checkIssued(issuer) && cert.verify(issuer.publicKey);
  const leaf = presented[0] as X509Certificate;
  const path = [leaf];
  let anchored = anchors.some((a) => a.fingerprint256 === leaf.fingerprint256);
  for (let cert = leaf; !anchored && path.length <= 8; ) {
    const anchor = anchors.find((a) => signedBy(cert, a));
    if (anchor) {
      path.push(anchor);
      anchored = true;
      break;
    }
    const next = presented.find((c) => c !== cert && !path.includes(c) && signedBy(cert, c));
    if (!next) break;
    path.push(next);
    cert = next;
  }
  if (!anchored) return 'it does not chain to a pinned CA';
  const wrongName = checkHostName(host, peer);
  if (wrongName) return wrongName.message;
  const at = Math.max(estimateMs, Date.parse(leaf.validFrom));
  for (const cert of path) {
    if (Date.parse(cert.validFrom) > at) return `${cert.subject} is not valid before ${cert.validFrom}`;
    if (Date.parse(cert.validTo) < at)
      return `${cert.subject} expired on ${cert.validTo} (time estimate ${new Date(at).toISOString()})`;
  }
  return null;
}

export function tlsHandshake(
  url: URL,
  options: { ca?: string; rejectUnauthorized: boolean; estimateMs?: number },
  timeoutMs: number,
): Promise<PeerCertificate & { issuerCertificate?: PeerCertificate }> {
  return new Promise((resolve, reject) => {
    const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
    const isAddress = /^[\d.]+$|:/.test(host);
    const { estimateMs, ...tlsOptions } = options;
    // A pinned CA is judged by tlsPeerRefusal (a wall clock behind is forgiven), so OpenSSL only reports.
    const pinned = tlsOptions.ca !== undefined && tlsOptions.rejectUnauthorized;
    const socket = tlsConnect({
      host,
      port: Number(url.port || 443),
      ...(isAddress ? {} : { servername: host }),
      ...tlsOptions,
      ...(pinned ? { rejectUnauthorized: false } : {}),
      timeout: timeoutMs,
    });
    socket.once('secureConnect', () => {
      const refused = pinned ? tlsPeerRefusal(socket, tlsOptions.ca as string, host, estimateMs ?? Date.now()) : null;
      if (refused) {
        socket.destroy();
        reject(refused);
        return;
      }
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
export async function checkServerIdentity(
  server: string,
  fingerprint: string,
  timeoutMs: number,
  /** The caller's best time estimate (ms) the certificate's validity is judged on (tlsPeerRefusal); default the wall clock. */
  estimate: () => number = Date.now,
): Promise<IdentityCheck> {
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
    await tlsHandshake(url, { ca: ca.toString(), rejectUnauthorized: true, estimateMs: estimate() }, timeoutMs);
  } catch (error) {
    return {
      ok: false,
      reason: 'does_not_verify',
      message: `its certificate does not verify against that CA: ${(error as Error).message}`,
    };
  }
  return { ok: true, caPem: ca.toString() };
}
