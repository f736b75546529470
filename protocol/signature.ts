/** Ed25519 signing of manifests with node:crypto. The server signs; the agent verifies with the key pinned at enrollment. */
import { createHash, createPublicKey, generateKeyPairSync, type KeyObject, sign, verify } from 'node:crypto';
import { canonicalJson } from './canonical-json.js';
import { type Manifest, SignedManifest } from './manifest.js';

export interface SigningKeys {
  privateKey: KeyObject;
  publicKey: KeyObject;
  /** SPKI PEM of the public key, as handed to devices at enrollment. */
  publicKeyPem: string;
  keyId: string;
}

export function generateSigningKeys(): SigningKeys {
  const { privateKey } = generateKeyPairSync('ed25519');
  return signingKeysFrom(privateKey);
}

/** Builds the key set from a private key (e.g. one read back from PKCS#8 PEM on disk). */
export function signingKeysFrom(privateKey: KeyObject): SigningKeys {
  const publicKey = createPublicKey(privateKey);
  const publicKeyPem = publicKey.export({ type: 'spki', format: 'pem' }).toString();
  return { privateKey, publicKey, publicKeyPem, keyId: keyIdOf(publicKey) };
}

/** A short, stable id of a public key: the first 16 hex digits of the sha256 of its DER. */
export function keyIdOf(publicKey: KeyObject | string): string {
  const key = typeof publicKey === 'string' ? createPublicKey(publicKey) : publicKey;
  const der = key.export({ type: 'spki', format: 'der' });
  return `ed25519:${createHash('sha256').update(der).digest('hex').slice(0, 16)}`;
}

export function signManifest(manifest: Manifest, keys: Pick<SigningKeys, 'privateKey' | 'keyId'>): SignedManifest {
  const signature = sign(null, Buffer.from(canonicalJson(manifest), 'utf8'), keys.privateKey).toString('base64');
  return { manifest, keyId: keys.keyId, signature };
}

/** True only when `signature` is a valid Ed25519 signature of the canonical form of `manifest` under `publicKey`. */
export function verifyManifestSignature(signed: SignedManifest, publicKey: KeyObject | string): boolean {
  try {
    const key = typeof publicKey === 'string' ? createPublicKey(publicKey) : publicKey;
    return verify(null, Buffer.from(canonicalJson(signed.manifest), 'utf8'), key, Buffer.from(signed.signature, 'base64'));
  } catch {
    return false;
  }
}

export type ManifestCheck =
  | { ok: true; signed: SignedManifest; stale: boolean }
  | { ok: false; reason: 'malformed' | 'bad_signature' | 'wrong_device' | 'rollback'; message: string };

/**
 * The agent's whole acceptance check of DESIGN §7: shape, signature under the pinned key, device id, no rollback.
 * An expired manifest is accepted but flagged `stale`.
 */
export function checkManifest(
  input: unknown,
  expect: { publicKey: KeyObject | string; deviceId: string; appliedSeq: number; now?: Date },
): ManifestCheck {
  const parsed = SignedManifest.safeParse(input);
  if (!parsed.success) return { ok: false, reason: 'malformed', message: parsed.error.message };
  const signed = parsed.data;
  if (!verifyManifestSignature(signed, expect.publicKey)) {
    return { ok: false, reason: 'bad_signature', message: `signature does not verify (key ${signed.keyId})` };
  }
  if (signed.manifest.deviceId !== expect.deviceId) {
    return { ok: false, reason: 'wrong_device', message: `manifest is for ${signed.manifest.deviceId}, not ${expect.deviceId}` };
  }
  if (signed.manifest.seq < expect.appliedSeq) {
    return {
      ok: false,
      reason: 'rollback',
      message: `manifest seq ${signed.manifest.seq} is older than applied ${expect.appliedSeq}`,
    };
  }
  const now = expect.now ?? new Date();
  return { ok: true, signed, stale: Date.parse(signed.manifest.expiresAt) < now.getTime() };
}
