/**
 * The kiosk's chain of trust for manifests (DESIGN §7), TUF's root → targets idea: a root key pinned at
 * enrollment signs a versioned, expiring keys document that lists the signing keys (current and retired);
 * a manifest is accepted only when its `keyId` is current in the newest keys document the kiosk holds.
 * The root's private half can live offline: it is needed only to sign a new keys document.
 */
import type { KeyObject } from 'node:crypto';
import { z } from 'zod';
import { keyIdOf, signCanonical, verifyCanonical } from './ed25519.js';

/** A keys document signed by a root kept online is renewed by the server once half this has passed. */
export const KEYS_DOCUMENT_LIFETIME_MS = 365 * 86_400_000;

const IsoDateTime = z.iso.datetime({ offset: true });
const PublicKeyPem = z.string().max(1000).includes('BEGIN PUBLIC KEY');
/** One CA certificate, PEM (the server's own CA is ≈ 0.6 KB; a province CA with a long name a few KB). */
const CertificatePem = z.string().max(16_000).includes('BEGIN CERTIFICATE');
const Base64Signature = z
  .string()
  .regex(/^[A-Za-z0-9+/]+={0,2}$/)
  .max(200);

export const KEY_STATUSES = ['current', 'retired'] as const;

export const KeyEntry = z.looseObject({
  keyId: z.string().min(1).max(128),
  /** Ed25519 public key, SPKI PEM. */
  publicKey: PublicKeyPem,
  status: z.enum(KEY_STATUSES),
  addedAt: IsoDateTime,
  retiredAt: IsoDateTime.nullable(),
});
export type KeyEntry = z.infer<typeof KeyEntry>;

export const KeysDocument = z.looseObject({
  v: z.literal(1),
  /** Grows with every new document; a kiosk never goes back to a lower one. */
  version: z.number().int().min(1).max(Number.MAX_SAFE_INTEGER),
  issuedAt: IsoDateTime,
  expiresAt: IsoDateTime,
  keys: z
    .array(KeyEntry)
    .min(1)
    .max(64)
    .refine((keys) => keys.some((k) => k.status === 'current'), 'a keys document needs at least one current key'),
  /**
   * The CAs a kiosk trusts for the server's TLS (docs/deployment.md, moving to a new CA). Optional: a document
   * without it leaves the kiosk on the CA it was handed at enrollment. Signed by the root like the keys, so
   * whoever can change the server's TLS cannot change what kiosks trust.
   */
  tlsCas: z.array(CertificatePem).min(1).max(8).optional(),
});
export type KeysDocument = z.infer<typeof KeysDocument>;

export const SignedKeysDocument = z.looseObject({
  document: KeysDocument,
  /** Id of the root key that made `signature`. */
  keyId: z.string().min(1).max(128),
  /** Base64 Ed25519 signature over canonicalJson(document), `document` as the signer wrote it. */
  signature: Base64Signature,
});
export type SignedKeysDocument = z.infer<typeof SignedKeysDocument>;

/**
 * What a kiosk trusts: the root pinned at enrollment, the newest keys document it accepted, and the signing key
 * handed out at enrollment (trusted as the only current key while no keys document is held). A kiosk enrolled
 * before keys documents existed has only `manifestKey`: that key is both its root and its enrolled key.
 */
export interface Trust {
  rootKey: string;
  document: SignedKeysDocument | null;
  enrolledKey: string | null;
}

export function signKeysDocument(document: KeysDocument, root: { privateKey: KeyObject; keyId: string }): SignedKeysDocument {
  return { document, keyId: root.keyId, signature: signCanonical(document, root.privateKey) };
}

export type KeysCheck =
  | { ok: true; signed: SignedKeysDocument; newer: boolean }
  | {
      ok: false;
      reason: 'keys_malformed' | 'keys_other_root' | 'keys_bad_signature' | 'keys_rollback' | 'keys_expired';
      message: string;
    };

/** Whether `input` (as received) is a keys document this kiosk may hold instead of the one it has. */
export function checkKeysDocument(input: unknown, trust: Trust, now: Date): KeysCheck {
  const parsed = SignedKeysDocument.safeParse(input);
  if (!parsed.success) return { ok: false, reason: 'keys_malformed', message: parsed.error.message };
  const signed = parsed.data;
  const rootId = keyIdOf(trust.rootKey);
  if (signed.keyId !== rootId) {
    return {
      ok: false,
      reason: 'keys_other_root',
      message: `keys document is signed by ${signed.keyId}, but this kiosk pins root ${rootId}`,
    };
  }
  // The raw document, not the parsed one: the signature covers fields this version does not know.
  if (!verifyCanonical((input as { document: unknown }).document, signed.signature, trust.rootKey)) {
    return {
      ok: false,
      reason: 'keys_bad_signature',
      message: `keys document ${signed.document.version}: signature does not verify`,
    };
  }
  const held = trust.document;
  if (held && signed.document.version < held.document.version) {
    return {
      ok: false,
      reason: 'keys_rollback',
      message: `keys document ${signed.document.version} is older than held ${held.document.version}`,
    };
  }
  if (held && signed.document.version === held.document.version && signed.signature !== held.signature) {
    return {
      ok: false,
      reason: 'keys_rollback',
      message: `keys document ${signed.document.version} differs from the one held under the same version`,
    };
  }
  if (Date.parse(signed.document.expiresAt) < now.getTime()) {
    return {
      ok: false,
      reason: 'keys_expired',
      message: `keys document ${signed.document.version} expired on ${signed.document.expiresAt}`,
    };
  }
  return { ok: true, signed, newer: !held || signed.document.version > held.document.version };
}

export type KeyLookup =
  | { status: 'current'; publicKey: string }
  | { status: 'retired'; publicKey: string; retiredAt: string | null }
  | { status: 'unknown' };

/** What the trust says of a signing key id. */
export function lookupKey(trust: Trust, keyId: string): KeyLookup {
  if (trust.document) {
    const entry = trust.document.document.keys.find((k) => k.keyId === keyId);
    if (!entry) return { status: 'unknown' };
    return entry.status === 'current'
      ? { status: 'current', publicKey: entry.publicKey }
      : { status: 'retired', publicKey: entry.publicKey, retiredAt: entry.retiredAt };
  }
  if (trust.enrolledKey && keyIdOf(trust.enrolledKey) === keyId) return { status: 'current', publicKey: trust.enrolledKey };
  return { status: 'unknown' };
}

/** The trust of a kiosk that pinned one key (enrolled before keys documents): it is its root and its signing key. */
export function singleKeyTrust(publicKey: string | KeyObject): Trust {
  const pem = typeof publicKey === 'string' ? publicKey : publicKey.export({ type: 'spki', format: 'pem' }).toString();
  return { rootKey: pem, document: null, enrolledKey: pem };
}

/**
 * The PEM bundle of the CAs a kiosk trusts for the server: those of the keys document it holds when that names
 * any (`tlsCas`), else the CA handed out at enrollment; undefined = none pinned (the system's trusted CAs). The
 * held document counts even once expired: it was the root's word when accepted, and the link must stay up for
 * the kiosk to fetch the next one.
 */
export function pinnedCaBundle(held: SignedKeysDocument | null, enrollmentCa: string | undefined): string | undefined {
  const cas = held?.document.tlsCas;
  if (cas && cas.length > 0) return cas.map((pem) => pem.trim()).join('\n');
  return enrollmentCa;
}
