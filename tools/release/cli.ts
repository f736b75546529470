/**
 * `npm run release -- [--version V] [--data-dir DATA_DIR | --signer FILE] [--out DIR] [--no-strip]` (DESIGN §10).
 * Signs with the server's keyring in DATA_DIR (default ./data): the signing key in force and its keys document,
 * exactly as content manifests are signed. Prints where the release went and its sizes.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { AGENT_VERSION } from '../../agent/version.js';
import { loadOrCreateSigningKeys, openKeyring } from '../../server/content/signing-keys.js';
import { openDatabase } from '../../server/db/open-database.js';
import { buildRelease, DIST_RELEASES, type ReleaseSigner, signerFromJson, signerOf } from './build.js';

async function serverSigner(dataDir: string): Promise<ReleaseSigner> {
  const dbFile = join(dataDir, 'fleet.db');
  if (!existsSync(dbFile)) {
    throw new Error(
      `no server data in ${dataDir} (${dbFile} is missing): pass --data-dir with the server's DATA_DIR, or --signer FILE`,
    );
  }
  const db = openDatabase(dbFile);
  try {
    const keyring = openKeyring({ db, dataDir, initial: await loadOrCreateSigningKeys(dataDir) });
    const { keys, document } = keyring.signer();
    return signerOf(keys.privateKey, document, keyring.status().root.publicKey);
  } finally {
    db.close();
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    args: process.argv.slice(2),
    options: {
      version: { type: 'string', default: AGENT_VERSION },
      'data-dir': { type: 'string', default: process.env.DATA_DIR ?? './data' },
      signer: { type: 'string' },
      out: { type: 'string', default: DIST_RELEASES },
      'no-strip': { type: 'boolean', default: false },
    },
    strict: true,
  });
  const signer = values.signer
    ? signerFromJson(readFileSync(values.signer, 'utf8'))
    : await serverSigner(resolve(values['data-dir']));
  const built = await buildRelease({
    version: values.version,
    signer,
    outDir: resolve(values.out),
    strip: !values['no-strip'],
    log: (line) => console.error(`release: ${line}`),
  });
  const mb = (n: number) => `${(n / 1e6).toFixed(1)} MB`;
  console.log(
    [
      `kiosk release ${built.version} (${built.arch}, Node ${built.signed.release.runtime.version}) built in ${(built.buildMs / 1000).toFixed(1)} s`,
      `  slot:      ${built.dir} (${built.signed.release.files.length} files, ${mb(built.slotBytes)})`,
      `  installer: ${built.installer} (${mb(built.installerBytes)})`,
      `  signed by ${built.signed.keyId} under keys document ${built.signed.keys.document.version}`,
    ].join('\n'),
  );
}

main().catch((err: Error) => {
  console.error(`release: ${err.message}`);
  process.exitCode = 1;
});
