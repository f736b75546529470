/**
 * The per-device content manifest of DESIGN §7 and its signed envelope. Every object is loose: a field this
 * version does not know is kept, not dropped, because the signature covers it (forward compatibility, §7).
 */
import { z } from 'zod';
import { ContentKind, DeviceId, Id, LangTag, Seq, Sha256Hex } from './domain.js';
import { SignedKeysDocument } from './keys.js';
import { LIMITS } from './limits.js';

export const ManifestFile = z.looseObject({
  sha256: Sha256Hex,
  size: z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER),
  mime: z.string().min(3).max(100),
});
export type ManifestFile = z.infer<typeof ManifestFile>;

export const ManifestTranslation = z.looseObject({
  title: z
    .string()
    .min(1)
    .max(LIMITS.shortText * 2),
  summary: z.string().max(LIMITS.longText),
  body: z.string().max(LIMITS.maxBodyChars).optional(),
  file: ManifestFile.optional(),
});
export type ManifestTranslation = z.infer<typeof ManifestTranslation>;

const IsoDateTime = z.iso.datetime({ offset: true });

export const ManifestItem = z.looseObject({
  id: Id,
  version: z.number().int().min(1),
  kind: ContentKind,
  topics: z.array(z.string().min(1).max(64)).max(20),
  /** Shown in the kiosk's attract loop. */
  featured: z.boolean().optional(),
  validFrom: IsoDateTime.nullable(),
  validTo: IsoDateTime.nullable(),
  translations: z
    .record(LangTag, ManifestTranslation)
    .refine((t) => Object.keys(t).length > 0, 'an item needs at least one translation'),
});
export type ManifestItem = z.infer<typeof ManifestItem>;

export const Manifest = z.looseObject({
  v: z.literal(1),
  deviceId: DeviceId,
  seq: Seq,
  issuedAt: IsoDateTime,
  expiresAt: IsoDateTime,
  items: z.array(ManifestItem).max(LIMITS.maxManifestItems),
  /**
   * Kiosk interface labels the department entered, per language (protocol/ui-labels.ts keys, `{name}` placeholders).
   * Optional and added in 0.2: an older agent keeps it unread (loose object, signature over the exact bytes).
   */
  uiLabels: z.record(LangTag, z.record(z.string().max(64), z.string().max(500))).optional(),
});
export type Manifest = z.infer<typeof Manifest>;

export const SignedManifest = z.looseObject({
  manifest: Manifest,
  /** Which signing key made `signature`; the agent looks it up in its root-signed keys document. */
  keyId: z.string().min(1).max(128),
  /** The server's newest root-signed keys document, so a kiosk learns a rotation with its next manifest. */
  keys: SignedKeysDocument.optional(),
  /** Base64 Ed25519 signature over canonicalJson(manifest), `manifest` as the server wrote it (unknown fields included). */
  signature: z
    .string()
    .regex(/^[A-Za-z0-9+/]+={0,2}$/)
    .max(200),
});
export type SignedManifest = z.infer<typeof SignedManifest>;

/** Every distinct file a manifest references. */
export function manifestFiles(manifest: Manifest): ManifestFile[] {
  const files = new Map<string, ManifestFile>();
  for (const item of manifest.items) {
    for (const translation of Object.values(item.translations)) {
      if (translation.file) files.set(translation.file.sha256, translation.file);
    }
  }
  return [...files.values()];
}
