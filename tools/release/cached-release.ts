/**
 * For tests: one real release per source tree, built once and kept in the temp folder keyed by the tree hash
 * (sourceTreeHash), signed by a throwaway key set stored beside it. Test files running at the same time wait for
 * the one build (a lock folder), so a test run builds at most once and later runs not at all.
 */
import { generateKeyPairSync } from 'node:crypto';
import { mkdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { signKeysDocument } from '../../protocol/keys.js';
import { SignedRelease } from '../../protocol/release.js';
import { signingKeysFrom } from '../../protocol/signature.js';
import { type BuiltRelease, buildRelease, signerFromJson, sourceTreeHash } from './build.js';

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

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}

export async function cachedRelease(opts: { timeoutMs?: number } = {}): Promise<CachedRelease> {
  const base = join(tmpdir(), 'kiosk-release-cache', await sourceTreeHash());
  const done = join(base, 'done.json');
  const lock = join(base, 'lock');
  const signerFile = join(base, 'signer.json');
  await mkdir(base, { recursive: true });
  const deadline = Date.now() + (opts.timeoutMs ?? 240_000);
  let built = false;
  for (;;) {
    if (await exists(done)) break;
    try {
      await mkdir(lock);
    } catch {
      // Another test file is building; a lock older than the deadline is stale (its builder died).
      const age =
        Date.now() -
        (await stat(lock).then(
          (s) => s.mtimeMs,
          () => Date.now(),
        ));
      if (age > 300_000) await rm(lock, { recursive: true, force: true });
      if (Date.now() > deadline) throw new Error(`timed out waiting for the release build in ${base}`);
      await new Promise((r) => setTimeout(r, 500));
      continue;
    }
    try {
      if (!(await exists(signerFile))) await writeFile(signerFile, throwawaySigner(), { mode: 0o600 });
      const release = await buildRelease({
        version: TEST_RELEASE_VERSION,
        signer: signerFromJson(await readFile(signerFile, 'utf8')),
        outDir: join(base, 'dist'),
      });
      await writeFile(done, JSON.stringify({ dir: release.dir, installer: release.installer }));
      built = true;
    } finally {
      await rm(lock, { recursive: true, force: true });
    }
  }
  const { dir, installer } = JSON.parse(await readFile(done, 'utf8')) as { dir: string; installer: string };
  const signed = SignedRelease.parse(JSON.parse(await readFile(join(dir, 'release.json'), 'utf8')));
  return { version: signed.release.version, arch: signed.release.arch, dir, installer, signed, signerFile, built };
}
