/**
 * Checks that an https server is the department's before the CLI sends it an enrollment token: the enrollment link
 * carries the SHA-256 fingerprint of the server's CA (`#token=…&ca=<64 hex>`); the server presents that CA after its
 * certificate; the CLI finds it there by fingerprint and then makes a strict TLS connection trusting only that CA
 * (chain and host name checked by Node). Anything else — another CA, a proxy, a wrong name — is refused. The check
 * itself is protocol/tls-identity.ts (a pairing kiosk makes the same one); here it becomes the CLI's messages.
 */
import { Agent } from 'undici';
import { checkServerIdentity, parseFingerprint, tlsHandshake } from '../protocol/tls-identity.js';
import { CliError, EXIT } from './cli-support.js';

/** `ab12…` (64 hex digits, as in the link) → `AB:12:…` (as `openssl x509 -fingerprint -sha256` prints it). */
export function normalizeFingerprint(value: string, what = "the link's ca="): string {
  const fingerprint = parseFingerprint(value);
  if (!fingerprint)
    throw new CliError(`${what} is not a SHA-256 fingerprint (64 hex digits): ${JSON.stringify(value)}`, EXIT.usage);
  return fingerprint;
}

/** Who named the fingerprint, for the refusal: the enrollment link (default) or a flag of the other commands. */
export interface IdentitySource {
  /** "the enrollment link", "--ca-fingerprint" */
  named: string;
  /** What the refusal adds after "Nothing was sent to it": */
  unsent: string;
}

/** Returns the PEM of the CA with that fingerprint, once the server at `server` proved it holds a certificate from it. */
export async function verifyServerIdentity(
  server: string,
  fingerprint: string,
  timeoutMs: number,
  source: IdentitySource = { named: 'the enrollment link', unsent: 'the token is still unused' },
): Promise<string> {
  const url = new URL(server);
  const check = await checkServerIdentity(server, fingerprint, timeoutMs);
  if (check.ok) return check.caPem;
  if (check.reason === 'unreachable') {
    throw new CliError(`cannot reach the server at ${url.origin}: ${check.message}`, EXIT.unreachable);
  }
  throw new CliError(
    `the server at ${url.origin} is not the one ${source.named} names (${check.message}). ` +
      `Nothing was sent to it: ${source.unsent}. Check the network (a captive portal or a man in the middle) ` +
      'and the link, and compare the CA fingerprint with the department\u2019s.',
    EXIT.unreachable,
  );
}

/** Whether the server's certificate verifies against `caBundle` (chain and host name); the reason when not. */
export async function serverVerifiesAgainst(server: string, caBundle: string, timeoutMs: number): Promise<string | null> {
  try {
    await tlsHandshake(new URL(server), { ca: caBundle, rejectUnauthorized: true }, timeoutMs);
    return null;
  } catch (error) {
    return (error as Error).message;
  }
}

/** An undici dispatcher for `fetch` that trusts only `caPem`. */
export function pinnedDispatcher(caPem: string): Agent {
  return new Agent({ connect: { ca: caPem } });
}
