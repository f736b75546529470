/**
 * Enrollment tokens, pairing codes and poll tokens. Tokens are 192-bit random values, so (as for device
 * secrets, see server/registry/device-secret.ts) a fast hash is as strong as a slow one; pairing codes are
 * short but live 15 minutes, are single use and can only be claimed by a logged-in person.
 */
import { createHash, randomBytes, randomInt } from 'node:crypto';

/** No 0/O, 1/I/L: a code read off a kiosk screen and typed on a phone must not be ambiguous. */
export const PAIRING_ALPHABET = 'ABCDEFGHJKMNPQRSTUVWXYZ23456789';
export const PAIRING_CODE_LENGTH = 6;

/**
 * 192 random bits in base64url, never starting with `-`: a technician passes the token on a command line
 * (`kiosk-provision enroll --token …`), where a leading dash reads as an option (1 token in 64 did).
 */
export function newToken(): string {
  for (;;) {
    const token = randomBytes(24).toString('base64url');
    if (!token.startsWith('-')) return token;
  }
}

export function hashToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

export function newPairingCode(): string {
  let code = '';
  for (let i = 0; i < PAIRING_CODE_LENGTH; i++) code += PAIRING_ALPHABET[randomInt(PAIRING_ALPHABET.length)];
  return code;
}

/** What a person typed: case and separators ("abc-234", "ABC 234") do not matter. */
export function normalizePairingCode(input: string): string {
  return input.toUpperCase().replace(/[\s-]/g, '');
}

/** Short random id for rows and devices: `prefix-` + 10 hex digits (40 bits: unique within a fleet, readable). */
export function newId(prefix: string): string {
  return `${prefix}-${randomBytes(5).toString('hex')}`;
}
