import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { checkManifest, signManifest } from '../../protocol/index.js';
import { loadOrCreateSigningKeys, SIGNING_KEY_FILE } from './signing-keys.js';

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
      expiresAt: new Date().toISOString(),
      items: [],
    };
    const signed = signManifest(manifest, first);
    expect(checkManifest(signed, { publicKey: second.publicKeyPem, deviceId: 'd1', appliedSeq: 0 }).ok).toBe(true);
  });
});
