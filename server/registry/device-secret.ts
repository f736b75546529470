/**
 * Device secrets are 256-bit random values, so a fast hash is as strong as a slow one here, and a
 * 10 000-device connect storm must not spend seconds per device in scrypt. Human passwords use scrypt.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

/** A new device secret: 32 random bytes, base64url (43 characters). */
export function newDeviceSecret(): string {
  return randomBytes(32).toString('base64url');
}

export function hashDeviceSecret(secret: string): string {
  return `sha256:${createHash('sha256').update(secret, 'utf8').digest('hex')}`;
}

export function verifyDeviceSecret(secret: string, stored: string | null): boolean {
  if (!stored) return false;
  const expected = Buffer.from(stored, 'utf8');
  const actual = Buffer.from(hashDeviceSecret(secret), 'utf8');
  return expected.length === actual.length && timingSafeEqual(expected, actual);
}
