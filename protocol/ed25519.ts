/** Ed25519 over canonical JSON (node:crypto): the one signing rule for manifests and keys documents (DESIGN §7). */
import { createHash, createPublicKey, type KeyObject, sign, verify } from 'node:crypto';
import { canonicalJson } from './canonical-json.js';

/** A short, stable id of a public key: the first 16 hex digits of the sha256 of its DER. */
export function keyIdOf(publicKey: KeyObject | string): string {
  const key = typeof publicKey === 'string' ? createPublicKey(publicKey) : publicKey;
  const der = key.export({ type: 'spki', format: 'der' });
  return `ed25519:${createHash('sha256').update(der).digest('hex').slice(0, 16)}`;
}

/** Base64 signature of the canonical bytes of `value`. */
export function signCanonical(value: unknown, privateKey: KeyObject): string {
  return sign(null, Buffer.from(canonicalJson(value), 'utf8'), privateKey).toString('base64');
}

/**
 * True only when `signature` is a valid Ed25519 signature of the canonical bytes of `value` under `publicKey`.
 * `value` must be what was received (JSON.parse output), not a schema's output: a schema that drops or rewrites
 * a field would change the bytes.
 */
export function verifyCanonical(value: unknown, signature: string, publicKey: KeyObject | string): boolean {
  try {
    const key = typeof publicKey === 'string' ? createPublicKey(publicKey) : publicKey;
    return verify(null, Buffer.from(canonicalJson(value), 'utf8'), key, Buffer.from(signature, 'base64'));
  } catch {
    return false;
  }
}
