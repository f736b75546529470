/**
 * The server's manifest signing key (DESIGN §7, §9): Ed25519, generated on first start and kept under DATA_DIR
 * as PKCS#8 PEM readable only by the server's user. Devices pin its public key at enrollment, so losing or
 * replacing this file means re-enrolling the fleet: it is created once and never overwritten.
 */
import { createPrivateKey, generateKeyPairSync } from 'node:crypto';
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { type SigningKeys, signingKeysFrom } from '../../protocol/index.js';

export const SIGNING_KEY_FILE = 'manifest-signing-key.pem';

export async function loadOrCreateSigningKeys(dataDir: string): Promise<SigningKeys> {
  const file = join(dataDir, SIGNING_KEY_FILE);
  try {
    return signingKeysFrom(createPrivateKey(await readFile(file, 'utf8')));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  await mkdir(dataDir, { recursive: true });
  const { privateKey } = generateKeyPairSync('ed25519');
  const pem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  try {
    // 'wx': if another process created the key meanwhile, keep theirs rather than replace it.
    await writeFile(file, pem, { mode: 0o600, flag: 'wx' });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    return signingKeysFrom(createPrivateKey(await readFile(file, 'utf8')));
  }
  // The umask may have narrowed the mode further but cannot have widened it; make it exactly 0600.
  await chmod(file, 0o600);
  return signingKeysFrom(privateKey);
}
