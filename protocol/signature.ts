/**
 * Ed25519 signing of manifests with node:crypto (DESIGN §7). The server signs the canonical bytes of the manifest
 * it built; the agent verifies the canonical bytes of the manifest it received (JSON.parse output, unknown fields
 * included), with the signing key its root-signed keys document lists as current.
 */
import { createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { keyIdOf, signCanonical, verifyCanonical } from './ed25519.js';
import { checkKeysDocument, type KeysCheck, lookupKey, type SignedKeysDocument, singleKeyTrust, type Trust } from './keys.js';
import { type Manifest, SignedManifest } from './manifest.js';

export { keyIdOf } from './ed25519.js';

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

export function signManifest(
  manifest: Manifest,
  keys: Pick<SigningKeys, 'privateKey' | 'keyId'>,
  keysDocument?: SignedKeysDocument,
): SignedManifest {
  return {
    manifest,
    keyId: keys.keyId,
    ...(keysDocument ? { keys: keysDocument } : {}),
    signature: signCanonical(manifest, keys.privateKey),
  };
}

/** True only when `signature` is a valid Ed25519 signature of the canonical form of `manifest` under `publicKey`. */
export function verifyManifestSignature(signed: SignedManifest, publicKey: KeyObject | string): boolean {
  return verifyCanonical(signed.manifest, signed.signature, publicKey);
}

/**
 * Whether a manifest kept on disk (applied earlier) still verifies under a key the trust knows, current or
 * retired: it was accepted when applied, and the next sync replaces it if its key has been retired since.
 */
export function verifyHeldManifest(signed: SignedManifest, trust: Trust): boolean {
  const key = lookupKey(trust, signed.keyId);
  return key.status !== 'unknown' && verifyManifestSignature(signed, key.publicKey);
}

export const MANIFEST_REJECTIONS = [
  'malformed',
  'bad_signature',
  'wrong_device',
  'rollback',
  'key_unknown',
  'key_retired',
  'keys_expired',
  'manifest_expired',
] as const;
export type ManifestRejection = (typeof MANIFEST_REJECTIONS)[number];

/** A keys document carried with the manifest and refused (the manifest is then judged with the trust held). */
export type KeysIssue = Extract<KeysCheck, { ok: false }>;

export type ManifestCheck = ({ ok: true; signed: SignedManifest } | { ok: false; reason: ManifestRejection; message: string }) & {
  /** A newer root-signed keys document that came with the manifest: the kiosk holds it from now on. */
  keys: SignedKeysDocument | null;
  keysIssue: KeysIssue | null;
};

/**
 * The agent's whole acceptance check of DESIGN §7: shape; the keys document carried in the envelope (signed by
 * the pinned root, not older than the one held); the manifest's key current in the newest keys document; the
 * signature over the bytes received; device id; no rollback; not expired. `publicKey` alone stands for a kiosk
 * that pinned one key (its root and signing key at once).
 */
export function checkManifest(
  input: unknown,
  expect: { trust?: Trust; publicKey?: KeyObject | string; deviceId: string; appliedSeq: number; now?: Date },
): ManifestCheck {
  const now = expect.now ?? new Date();
  let trust: Trust;
  if (expect.trust) trust = expect.trust;
  else if (expect.publicKey) trust = singleKeyTrust(expect.publicKey);
  else throw new TypeError('checkManifest needs a trust or a public key');
  const parsed = SignedManifest.safeParse(input);
  let keys: SignedKeysDocument | null = null;
  let keysIssue: KeysIssue | null = null;
  const no = (reason: ManifestRejection, message: string): ManifestCheck => ({ ok: false, reason, message, keys, keysIssue });
  if (!parsed.success) return no('malformed', parsed.error.message);
  const signed = parsed.data;
  const raw = input as { manifest: unknown; keys?: unknown };
  if (raw.keys !== undefined) {
    const k = checkKeysDocument(raw.keys, trust, now);
    if (!k.ok) keysIssue = k;
    else if (k.newer) {
      keys = k.signed;
      trust = { ...trust, document: k.signed };
    }
  }
  if (trust.document && Date.parse(trust.document.document.expiresAt) < now.getTime()) {
    return no(
      'keys_expired',
      `the keys document held (version ${trust.document.document.version}) expired on ${trust.document.document.expiresAt} and no newer one came`,
    );
  }
  const key = lookupKey(trust, signed.keyId);
  const docVersion = trust.document ? `keys document ${trust.document.document.version}` : 'the key pinned at enrollment';
  if (key.status === 'unknown')
    return no('key_unknown', `manifest is signed by ${signed.keyId}, which ${docVersion} does not list`);
  if (key.status === 'retired') {
    return no(
      'key_retired',
      `manifest is signed by ${signed.keyId}, retired ${key.retiredAt ?? ''} in ${docVersion}`.replace('  ', ' '),
    );
  }
  // The raw manifest, not the parsed one: the signature covers every byte the server signed.
  if (!verifyCanonical(raw.manifest, signed.signature, key.publicKey)) {
    return no('bad_signature', `signature does not verify (key ${signed.keyId})`);
  }
  if (signed.manifest.deviceId !== expect.deviceId) {
    return no('wrong_device', `manifest is for ${signed.manifest.deviceId}, not ${expect.deviceId}`);
  }
  if (signed.manifest.seq < expect.appliedSeq) {
    return no('rollback', `manifest seq ${signed.manifest.seq} is older than applied ${expect.appliedSeq}`);
  }
  if (Date.parse(signed.manifest.expiresAt) < now.getTime()) {
    return no('manifest_expired', `manifest ${signed.manifest.seq} expired on ${signed.manifest.expiresAt}`);
  }
  return { ok: true, signed, keys, keysIssue };
}
