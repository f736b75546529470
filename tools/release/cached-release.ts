/**
 * For tests: one real release per source tree, built once and kept in the temp folder keyed by the tree hash
 * (sourceTreeHash), signed by a throwaway key set stored beside it. Test files running at the same time wait for
 * the one build (a lock folder), so a test run builds at most once and later runs not at all.
 */
import { generateKeyPairSync } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { signKeysDocument } from '../../protocol/keys.js';
import { SignedRelease } from '../../protocol/release.js';
import { signingKeysFrom } from '../../protocol/signature.js';
import { type BuiltRelease, buildRelease, signerFromJson, sourceTreeHash } from './build.js';
import { buildOnce } from './build-once.js';

export const TEST_RELEASE_VERSION = '0.1.0-test';

/** A signer file's content for a fresh root and signing key (keys document version 1, valid a year). */
export function throwawaySigner(): string {
  const root = signingKeysFrom(generateKeyPairSync('ed25519').privateKey);
  const key = signingKeysFrom(generateKeyPairSync('ed25519').privateKey);
  const now = Date.now();
  const keys = signKeysDocument(
    {
      v: 1,
      version: 1,
      issuedAt: new Date(now).toISOString(),
      expiresAt: new Date(now + 365 * 86_400_000).toISOString(),
      keys: [
        {
          keyId: key.keyId,
          publicKey: key.publicKeyPem,
          status: 'current',
          addedAt: new Date(now).toISOString(),
          retiredAt: null,
        },
      ],
    },
    root,
  );
  return JSON.stringify({
    signingKey: key.privateKey.export({ type: 'pkcs8', format: 'pem' }),
    keys,
    rootKey: root.publicKeyPem,
  });
}

export interface CachedRelease extends Pick<BuiltRelease, 'version' | 'arch' | 'dir' | 'installer' | 'signed'> {
  /** The signer file (JSON) that signed it, for tests that sign a variant. */
  signerFile: string;
  /** Whether this call built it (false: it came from the cache). */
  built: boolean;
}

export async function cachedRelease(opts: { timeoutMs?: number } = {}): Promise<CachedRelease> {
  const base = join(tmpdir(), 'kiosk-release-cache', await sourceTreeHash());
  const signerFile = join(base, 'signer.json');
  const { record, built } = await buildOnce(
    base,
    'release',
    async () => {
      await mkdir(base, { recursive: true });
      const signer = await readFile(signerFile, 'utf8').catch(async () => {
        const fresh = throwawaySigner();
        await writeFile(signerFile, fresh, { mode: 0o600 });
        return fresh;
      });
      const release = await buildRelease({
        version: TEST_RELEASE_VERSION,
        signer: signerFromJson(signer),
        outDir: join(base, 'dist'),
      });
      return { dir: release.dir, installer: release.installer };
    },
    opts.timeoutMs,
  );
  const { dir, installer } = record;
  const signed = SignedRelease.parse(JSON.parse(await readFile(join(dir, 'release.json'), 'utf8')));
  return { version: signed.release.version, arch: signed.release.arch, dir, installer, signed, signerFile, built };
}
