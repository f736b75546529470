/**
 * DESIGN §7: forward-compatible manifests (the signature covers what the server signed, unknown fields included)
 * and the root → keys document → signing key chain a kiosk judges manifests with.
 */
import { verify } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { canonicalJson } from './canonical-json.js';
import { checkKeysDocument, type KeysDocument, lookupKey, signKeysDocument, singleKeyTrust, type Trust } from './keys.js';
import type { Manifest } from './manifest.js';
import { checkManifest, generateSigningKeys, type SigningKeys, signManifest } from './signature.js';

const NOW = new Date('2026-11-24T00:00:00Z');
const manifest = (extra: Record<string, unknown> = {}, itemExtra: Record<string, unknown> = {}): Manifest => ({
  v: 1,
  deviceId: 'k-1',
  seq: 3,
  issuedAt: '2026-11-23T00:00:00.000Z',
  expiresAt: '2026-12-23T00:00:00.000Z',
  items: [
    {
      id: 'i1',
      version: 2,
      kind: 'bulletin',
      topics: ['border-sovereignty'],
      validFrom: null,
      validTo: null,
      translations: { vi: { title: 'Biên giới hòa bình', summary: 'Tóm tắt', body: 'Nội dung' } },
      ...itemExtra,
    },
  ],
  ...extra,
});

/** What travels: JSON text, parsed by the kiosk. */
const wire = (value: unknown): unknown => JSON.parse(JSON.stringify(value));

function doc(
  version: number,
  entries: Array<[SigningKeys, 'current' | 'retired']>,
  expiresAt = '2027-11-24T00:00:00.000Z',
): KeysDocument {
  return {
    v: 1,
    version,
    issuedAt: '2026-11-01T00:00:00.000Z',
    expiresAt,
    keys: entries.map(([k, status]) => ({
      keyId: k.keyId,
      publicKey: k.publicKeyPem,
      status,
      addedAt: '2026-11-01T00:00:00.000Z',
      retiredAt: status === 'retired' ? '2026-11-20T00:00:00.000Z' : null,
    })),
  };
}

describe('forward-compatible manifests', () => {
  const keys = generateSigningKeys();
  const expect0 = { publicKey: keys.publicKeyPem, deviceId: 'k-1', appliedSeq: 0, now: NOW };

  it('accepts a hand-made manifest with an unknown field at the top and in an item, and keeps the fields', () => {
    const signed = wire(signManifest(manifest({ audience: 'public' }, { priority: 7, layout: { cols: 2 } }), keys));
    const check = checkManifest(signed, expect0);
    expect(check).toMatchObject({ ok: true });
    if (!check.ok) return;
    // Kept, so the manifest stored on disk verifies again after a restart.
    expect(check.signed.manifest.audience).toBe('public');
    expect(check.signed.manifest.items[0]?.priority).toBe(7);
    expect(canonicalJson(check.signed.manifest)).toBe(canonicalJson((signed as { manifest: unknown }).manifest));
    // An unknown envelope field does not matter either.
    expect(checkManifest({ ...(signed as object), note: 'x' }, expect0)).toMatchObject({ ok: true });
  });

  it('refuses any changed byte of the signed manifest', () => {
    const signed = signManifest(manifest({ audience: 'public' }, { priority: 7 }), keys);
    const text = JSON.stringify(signed.manifest);
    const original = canonicalJson(signed.manifest);
    let tried = 0;
    for (let i = 0; i < text.length; i++) {
      const code = text.charCodeAt(i);
      const changed = `${text.slice(0, i)}${String.fromCharCode(code === 0x30 ? 0x31 : code ^ 1)}${text.slice(i + 1)}`;
      let parsed: unknown;
      try {
        parsed = JSON.parse(changed);
      } catch {
        continue;
      }
      if (canonicalJson(parsed) === original) continue;
      tried++;
      expect(checkManifest({ ...signed, manifest: parsed }, expect0).ok, `byte ${i}`).toBe(false);
    }
    expect(tried).toBeGreaterThan(200);
  });

  it("verifies under the old agent's algorithm (zod-stripped, canonical) when the server adds no field", () => {
    // The check of agents deployed before this change: strip to the known fields, verify the canonical bytes.
    const Old = z.object({
      v: z.literal(1),
      deviceId: z.string(),
      seq: z.number(),
      issuedAt: z.string(),
      expiresAt: z.string(),
      items: z.array(
        z.object({
          id: z.string(),
          version: z.number(),
          kind: z.string(),
          topics: z.array(z.string()),
          featured: z.boolean().optional(),
          validFrom: z.string().nullable(),
          validTo: z.string().nullable(),
          translations: z.record(
            z.string(),
            z.object({ title: z.string(), summary: z.string(), body: z.string().optional(), file: z.object({}).optional() }),
          ),
        }),
      ),
    });
    const oldVerify = (s: { manifest: unknown; signature: string }, pem: string) =>
      verify(null, Buffer.from(canonicalJson(Old.parse(s.manifest)), 'utf8'), pem, Buffer.from(s.signature, 'base64'));
    const root = generateSigningKeys();
    const envelope = wire(signManifest(manifest(), keys, signKeysDocument(doc(1, [[keys, 'current']]), root))) as {
      manifest: unknown;
      signature: string;
    };
    expect(oldVerify(envelope, keys.publicKeyPem)).toBe(true);
    // With a new field the old algorithm cannot verify: why the server must not add one while old agents remain.
    expect(oldVerify(wire(signManifest(manifest({ audience: 'x' }), keys)) as typeof envelope, keys.publicKeyPem)).toBe(false);
  });
});

describe('root → keys document → signing key', () => {
  const root = generateSigningKeys();
  const k1 = generateSigningKeys();
  const k2 = generateSigningKeys();
  const v1 = signKeysDocument(doc(1, [[k1, 'current']]), root);
  const v2 = signKeysDocument(
    doc(2, [
      [k1, 'retired'],
      [k2, 'current'],
    ]),
    root,
  );
  const enrolled: Trust = { rootKey: root.publicKeyPem, document: null, enrolledKey: k1.publicKeyPem };
  const at = (trust: Trust, input: unknown, appliedSeq = 0) =>
    checkManifest(wire(input), { trust, deviceId: 'k-1', appliedSeq, now: NOW });

  it('takes the enrolled key as current until a keys document comes, then follows a rotation', () => {
    expect(at(enrolled, signManifest(manifest(), k1))).toMatchObject({ ok: true, keys: null });
    const first = at(enrolled, signManifest(manifest(), k1, v1));
    expect(first).toMatchObject({ ok: true, keys: { document: { version: 1 } } });
    // A key the kiosk never saw, with the document that lists it: accepted, and the document is kept.
    const rotated = at({ ...enrolled, document: v1 }, signManifest(manifest(), k2, v2));
    expect(rotated).toMatchObject({ ok: true, keys: { document: { version: 2 } }, keysIssue: null });
  });

  it('refuses a manifest by a retired key, even with the older document that listed it as current', () => {
    const holding: Trust = { ...enrolled, document: v2 };
    expect(at(holding, signManifest(manifest(), k1))).toMatchObject({ ok: false, reason: 'key_retired' });
    const replay = at(holding, signManifest(manifest(), k1, v1));
    expect(replay).toMatchObject({ ok: false, reason: 'key_retired', keysIssue: { reason: 'keys_rollback' } });
    expect(lookupKey(holding, k1.keyId)).toMatchObject({ status: 'retired' });
  });

  it('refuses a manifest by an unknown key, and a keys document not signed by the pinned root', () => {
    const k3 = generateSigningKeys();
    expect(at({ ...enrolled, document: v1 }, signManifest(manifest(), k3))).toMatchObject({ ok: false, reason: 'key_unknown' });
    const rogueRoot = generateSigningKeys();
    const rogue = signKeysDocument(doc(9, [[k3, 'current']]), rogueRoot);
    expect(at({ ...enrolled, document: v1 }, signManifest(manifest(), k3, rogue))).toMatchObject({
      ok: false,
      reason: 'key_unknown',
      keys: null,
      keysIssue: { reason: 'keys_other_root' },
    });
    // Under the root's id but not its signature: a changed document.
    const tampered = wire(v1) as { document: { version: number } };
    tampered.document.version = 5;
    expect(checkKeysDocument(tampered, enrolled, NOW)).toMatchObject({ ok: false, reason: 'keys_bad_signature' });
    // An unknown field in the document is signed like the rest.
    const extended = signKeysDocument({ ...doc(3, [[k2, 'current']]), threshold: 1 }, root);
    expect(checkKeysDocument(wire(extended), { ...enrolled, document: v2 }, NOW)).toMatchObject({ ok: true, newer: true });
  });

  it('refuses a lower version (rollback) and an expired document; freezes when the held one expired', () => {
    expect(checkKeysDocument(wire(v1), { ...enrolled, document: v2 }, NOW)).toMatchObject({ ok: false, reason: 'keys_rollback' });
    const old = signKeysDocument(doc(3, [[k2, 'current']], '2026-11-01T00:00:00.000Z'), root);
    expect(checkKeysDocument(wire(old), enrolled, NOW)).toMatchObject({ ok: false, reason: 'keys_expired' });
    expect(at({ ...enrolled, document: old }, signManifest(manifest(), k2))).toMatchObject({ ok: false, reason: 'keys_expired' });
  });

  it('a kiosk that pinned one key (before keys documents) takes it as its root', () => {
    const legacy = singleKeyTrust(k1.publicKeyPem);
    const byOld = signKeysDocument(
      doc(2, [
        [k1, 'retired'],
        [k2, 'current'],
      ]),
      k1,
    );
    expect(at(legacy, signManifest(manifest(), k1))).toMatchObject({ ok: true });
    expect(at(legacy, signManifest(manifest(), k2, byOld))).toMatchObject({ ok: true, keys: { document: { version: 2 } } });
    expect(at({ ...legacy, document: byOld }, signManifest(manifest(), k1))).toMatchObject({ ok: false, reason: 'key_retired' });
  });
});
