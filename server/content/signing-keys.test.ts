import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { checkKeysDocument, checkManifest, KEYS_DOCUMENT_LIFETIME_MS, signManifest } from '../../protocol/index.js';
import { openDatabase } from '../db/open-database.js';
import { registerDevice } from '../registry/devices-repo.js';
import {
  enrollmentKeys,
  KEYS_DIR,
  loadOrCreateSigningKeys,
  openKeyring,
  ROOT_KEY_FILE,
  SIGNING_KEY_FILE,
  signingKeyFile,
} from './signing-keys.js';

describe('loadOrCreateSigningKeys', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'content-keys-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('creates a 0600 PKCS#8 key on first start and loads the same key later', async () => {
    const first = await loadOrCreateSigningKeys(join(dir, 'data'));
    const info = await stat(join(dir, 'data', SIGNING_KEY_FILE));
    expect(info.mode & 0o777).toBe(0o600);
    const second = await loadOrCreateSigningKeys(join(dir, 'data'));
    expect(second.keyId).toBe(first.keyId);
    expect(second.publicKeyPem).toBe(first.publicKeyPem);
    const manifest = {
      v: 1 as const,
      deviceId: 'd1',
      seq: 1,
      issuedAt: new Date().toISOString(),
      expiresAt: new Date(Date.now() + 86_400_000).toISOString(),
      items: [],
    };
    const signed = signManifest(manifest, first);
    expect(checkManifest(signed, { publicKey: second.publicKeyPem, deviceId: 'd1', appliedSeq: 0 }).ok).toBe(true);
  });
});

describe('openKeyring (DESIGN §7)', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'content-keyring-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('a new installation gets a separate root; rotation retires the old key; old documents are refused', async () => {
    const db = openDatabase(join(dir, 'fleet.db'));
    const initial = await loadOrCreateSigningKeys(dir);
    let t = Date.parse('2026-12-01T00:00:00Z');
    const keyring = openKeyring({ db, dataDir: dir, initial, now: () => t });
    const first = keyring.status();
    expect(first.root.keyId).not.toBe(initial.keyId);
    expect(first.root.online).toBe(true);
    expect(first.signingKeyId).toBe(initial.keyId);
    expect((await stat(join(dir, KEYS_DIR, ROOT_KEY_FILE))).mode & 0o777).toBe(0o600);

    const v1 = keyring.signer().document;
    const v2 = keyring.rotate('admin');
    expect(v2.document.version).toBe(2);
    expect(keyring.signer().keys.keyId).not.toBe(initial.keyId);
    expect(v2.document.keys.find((k) => k.keyId === initial.keyId)?.status).toBe('retired');
    expect(() => keyring.publish(v1, 'admin')).toThrow(/older/);
    const trust = { rootKey: first.root.publicKey, document: v1, enrolledKey: null };
    expect(checkKeysDocument(JSON.parse(JSON.stringify(v2)), trust, new Date(t))).toMatchObject({ ok: true, newer: true });

    // Opened again (a restart): the same keys in force; the private key of the new one is read from its file.
    const again = openKeyring({ db, dataDir: dir, initial, now: () => t });
    expect(again.signer().keys.keyId).toBe(keyring.signer().keys.keyId);

    // Past half its life, a root held here renews the document (same keys, next version).
    t += KEYS_DOCUMENT_LIFETIME_MS * 0.6;
    expect(again.signer().document.document.version).toBe(3);
    db.close();
  });

  it('an installation with kiosks enrolled before keys documents keeps their pinned key as the root', async () => {
    const db = openDatabase(join(dir, 'fleet.db'));
    const initial = await loadOrCreateSigningKeys(dir);
    registerDevice(db, { id: 'kiosk-old', secret: 's'.repeat(24), siteId: null, status: 'active' });
    const keyring = openKeyring({ db, dataDir: dir, initial });
    expect(keyring.status().root.keyId).toBe(initial.keyId);
    expect(enrollmentKeys(db)).toEqual({ rootKey: initial.publicKeyPem, manifestKey: initial.publicKeyPem });
    keyring.rotate('admin');
    const after = enrollmentKeys(db);
    expect(after?.rootKey).toBe(initial.publicKeyPem);
    expect(after?.manifestKey).not.toBe(initial.publicKeyPem);
    db.close();
  });

  it('refuses to start when the current signing key has no private key on disk', async () => {
    const db = openDatabase(join(dir, 'fleet.db'));
    const initial = await loadOrCreateSigningKeys(dir);
    const keyring = openKeyring({ db, dataDir: dir, initial });
    const current = keyring.rotate('admin').document.keys.find((k) => k.status === 'current');
    await rm(join(dir, KEYS_DIR, signingKeyFile(current?.keyId ?? '')));
    expect(() => openKeyring({ db, dataDir: dir, initial })).toThrow(/has no private key/);
    db.close();
  });
});
