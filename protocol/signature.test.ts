import { describe, expect, it } from 'vitest';
import { canonicalJson } from './canonical-json.js';
import type { Manifest } from './manifest.js';
import { checkManifest, generateSigningKeys, keyIdOf, signManifest, verifyManifestSignature } from './signature.js';

const manifest: Manifest = {
  v: 1,
  deviceId: 'k-1',
  seq: 3,
  issuedAt: '2026-11-23T00:00:00.000Z',
  expiresAt: '2026-12-23T00:00:00.000Z',
  items: [
    {
      id: 'i1',
      version: 2,
      kind: 'video',
      topics: ['border-sovereignty'],
      validFrom: null,
      validTo: '2027-01-01T00:00:00.000Z',
      translations: {
        vi: { title: 'Biên giới hòa bình', summary: 'Tóm tắt' },
        jra: { title: 'Ư̆ Ơ̆ ƀ č', summary: '' },
        km: { title: 'ព្រំដែន', summary: '', file: { sha256: 'a'.repeat(64), size: 10, mime: 'video/mp4' } },
      },
    },
  ],
};

describe('canonical JSON', () => {
  it('is identical whatever the key order', () => {
    const a = { b: 1, a: { z: [1, { y: 'x', x: null }], c: true } };
    const b = { a: { c: true, z: [1, { x: null, y: 'x' }] }, b: 1 };
    expect(canonicalJson(a)).toBe(canonicalJson(b));
    expect(canonicalJson(a)).toBe('{"a":{"c":true,"z":[1,{"x":null,"y":"x"}]},"b":1}');
  });

  it('keeps non-ASCII text as UTF-8, not escapes', () => {
    expect(canonicalJson({ t: 'Tiếng Việt ພາສາລາວ' })).toBe('{"t":"Tiếng Việt ພາສາລາວ"}');
  });

  it('drops undefined properties and refuses values JSON cannot carry', () => {
    expect(canonicalJson({ a: undefined, b: 1 })).toBe('{"b":1}');
    expect(() => canonicalJson({ a: Number.NaN })).toThrow();
    expect(() => canonicalJson({ a: Number.POSITIVE_INFINITY })).toThrow();
    expect(() => canonicalJson({ a: 1n })).toThrow();
  });
});

describe('manifest signature', () => {
  const keys = generateSigningKeys();
  const signed = signManifest(manifest, keys);

  it('verifies with the right key, and its key id matches', () => {
    expect(verifyManifestSignature(signed, keys.publicKeyPem)).toBe(true);
    expect(signed.keyId).toBe(keyIdOf(keys.publicKeyPem));
  });

  it('verifies after a JSON round trip with reordered keys', () => {
    const reordered = JSON.parse(JSON.stringify({ signature: signed.signature, keyId: signed.keyId, manifest: signed.manifest }));
    expect(verifyManifestSignature(reordered, keys.publicKey)).toBe(true);
  });

  it('fails after any one-byte change of the manifest', () => {
    const bytes = Buffer.from(canonicalJson(manifest), 'utf8');
    let checked = 0;
    for (let i = 0; i < bytes.length; i++) {
      const changed = Buffer.from(bytes);
      changed[i] = (changed[i] ?? 0) ^ 0x01;
      let parsed: Manifest;
      try {
        parsed = JSON.parse(changed.toString('utf8'));
      } catch {
        continue; // not JSON any more: could never reach the signature check
      }
      expect(verifyManifestSignature({ ...signed, manifest: parsed }, keys.publicKey), `byte ${i}`).toBe(false);
      checked++;
    }
    expect(checked).toBeGreaterThan(bytes.length / 2);
  });

  it('fails with another key and with a damaged signature', () => {
    expect(verifyManifestSignature(signed, generateSigningKeys().publicKey)).toBe(false);
    const sig = Buffer.from(signed.signature, 'base64');
    sig[0] = (sig[0] ?? 0) ^ 0xff;
    expect(verifyManifestSignature({ ...signed, signature: sig.toString('base64') }, keys.publicKey)).toBe(false);
  });
});

describe('checkManifest', () => {
  const keys = generateSigningKeys();
  const signed = signManifest(manifest, keys);
  const expect0 = { publicKey: keys.publicKeyPem, deviceId: 'k-1', appliedSeq: 2, now: new Date('2026-11-24T00:00:00Z') };

  it('accepts a fresh manifest for this device', () => {
    expect(checkManifest(signed, expect0)).toMatchObject({ ok: true });
  });

  it('rejects another device, a rollback, a bad signature and garbage', () => {
    expect(checkManifest(signed, { ...expect0, deviceId: 'k-2' })).toMatchObject({ ok: false, reason: 'wrong_device' });
    expect(checkManifest(signed, { ...expect0, appliedSeq: 4 })).toMatchObject({ ok: false, reason: 'rollback' });
    expect(checkManifest(signed, { ...expect0, publicKey: generateSigningKeys().publicKeyPem })).toMatchObject({
      ok: false,
      reason: 'key_unknown',
    });
    // Another key under this key's id: the signature is what fails.
    const forged = signManifest(manifest, { privateKey: generateSigningKeys().privateKey, keyId: keys.keyId });
    expect(checkManifest(forged, expect0)).toMatchObject({ ok: false, reason: 'bad_signature' });
    expect(checkManifest({ manifest: 1 }, expect0)).toMatchObject({ ok: false, reason: 'malformed' });
  });

  it('refuses an expired manifest as a new target (freeze, DESIGN §7)', () => {
    expect(checkManifest(signed, { ...expect0, now: new Date('2027-02-01T00:00:00Z') })).toMatchObject({
      ok: false,
      reason: 'manifest_expired',
    });
  });
});
