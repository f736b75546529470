/**
 * Which CA the technicians' CLI trusts for the server (docs/provisioning.md, "Which server the CLI trusts"): in this
 * order `--ca FILE` (PEM, checked against `--ca-fingerprint` when both are given), `--ca-fingerprint HEX` (the
 * server must prove it holds a certificate from the CA with that fingerprint, as `enroll` checks the link's
 * `ca=`), the CA `login` remembered beside the token file, or — none of these — the system's trusted CAs (a
 * province certificate). A plaintext `http://` URL to another machine is refused: the password or API token
 * would cross the network in clear (`KIOSK_ALLOW_PLAINTEXT=1` for a lab).
 */
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { CliError, EXIT, usageError } from './cli-support.js';
import { normalizeFingerprint, verifyServerIdentity } from './server-identity.js';

export const trustOptions = {
  ca: { type: 'string' },
  'ca-fingerprint': { type: 'string' },
} as const;

export const trustOptionsHelp = `  --ca FILE               trust only this CA for the server (PEM; env KIOSK_CA_FILE), e.g. a copy of
                          the server's DATA_DIR/tls/ca.pem
  --ca-fingerprint HEX    the SHA-256 fingerprint of the server's CA (env KIOSK_CA_FINGERPRINT; from the
                          enrollment sheet or \`npm start\`): the server must prove it before anything is sent`;

export interface TrustArgs {
  ca?: string | undefined;
  'ca-fingerprint'?: string | undefined;
}

/** Where `login` keeps the server's CA: beside the token file. */
export const rememberedCaFile = (tokenFile: string): string => `${tokenFile}.ca.pem`;

function isLoopback(hostname: string): boolean {
  const bare = hostname.replace(/^\[(.*)\]$/, '$1');
  return bare === 'localhost' || bare === '::1' || (isIP(bare) === 4 && bare.startsWith('127.'));
}

/** Refuses `http://` to another machine: what the CLI sends (password, API token, enrollment token) would be readable. */
export function assertSecureServer(server: string, env: Record<string, string | undefined>): void {
  const url = new URL(server);
  if (url.protocol === 'https:' || isLoopback(url.hostname) || env.KIOSK_ALLOW_PLAINTEXT === '1') return;
  throw usageError(
    `refusing ${url.origin}: plain http to another machine would send your password or token in clear. ` +
      'Use the server\u2019s https address (https://<server>:8443) with --ca-fingerprint HEX from the enrollment sheet, ' +
      'or set KIOSK_ALLOW_PLAINTEXT=1 for a lab.',
  );
}

function readCa(file: string, flag: string): string {
  let pem: string;
  try {
    pem = readFileSync(file, 'utf8');
    new X509Certificate(pem);
  } catch (error) {
    throw usageError(`cannot read ${flag} ${file} as a PEM certificate: ${(error as Error).message}`);
  }
  return pem;
}

/**
 * The CA PEM to pin for `server`, or undefined for the system's trust. `rememberedFile` is the CA `login` kept
 * (read when it exists and neither flag is given).
 */
export async function resolveServerCa(
  server: string,
  args: TrustArgs,
  env: Record<string, string | undefined>,
  options: { rememberedFile?: string | undefined; timeoutMs?: number } = {},
): Promise<string | undefined> {
  assertSecureServer(server, env);
  const caFile = args.ca ?? env.KIOSK_CA_FILE;
  const fingerprintText = args['ca-fingerprint'] ?? env.KIOSK_CA_FINGERPRINT;
  const fingerprint = fingerprintText ? normalizeFingerprint(fingerprintText, '--ca-fingerprint') : undefined;
  const https = new URL(server).protocol === 'https:';
  if (caFile) {
    const pem = readCa(caFile, '--ca');
    const actual = new X509Certificate(pem).fingerprint256;
    if (fingerprint && actual !== fingerprint) {
      throw new CliError(
        `--ca ${caFile} has fingerprint ${actual}, not the ${fingerprint} given with --ca-fingerprint`,
        EXIT.usage,
      );
    }
    return pem;
  }
  if (fingerprint) {
    if (!https) throw usageError('--ca-fingerprint needs an https:// server (the fingerprint is checked in the TLS handshake)');
    return verifyServerIdentity(server, fingerprint, options.timeoutMs ?? 60_000, {
      named: '--ca-fingerprint',
      unsent: 'no password, token or API token',
    });
  }
  if (options.rememberedFile && https) {
    try {
      return readCa(options.rememberedFile, 'the CA remembered at');
    } catch (error) {
      if ((error as { message?: string }).message?.includes('ENOENT')) return undefined;
      throw error;
    }
  }
  return undefined;
}
