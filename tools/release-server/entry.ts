/**
 * `server/start.mjs` of a server release (what bin/fleet-server runs with the bundled Node): `--version` prints the
 * release's version; otherwise it checks that this Node and this CPU are the ones the release was built for
 * (release.json), names the version on the first line of the output, then starts the bundled server (`./server.mjs`,
 * server/main.ts as built by tools/release-server/build.ts).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ServerReleaseManifest, serverTargetMismatch } from './manifest.js';

const releaseDir = join(import.meta.dirname, '..');
let manifest: ServerReleaseManifest;
try {
  manifest = ServerReleaseManifest.parse(JSON.parse(readFileSync(join(releaseDir, 'release.json'), 'utf8')));
} catch (err) {
  console.error(`fleet-server: cannot read ${join(releaseDir, 'release.json')}: ${(err as Error).message}`);
  process.exit(3);
}
if (process.argv.includes('--version')) {
  console.log(`fleet-server ${manifest.version} (${manifest.platform}-${manifest.arch}, Node ${manifest.runtime.version})`);
  process.exit(0);
}
const problem = serverTargetMismatch(manifest);
if (problem) {
  console.error(`fleet-server: ${problem}`);
  process.exit(3);
}
console.log(`fleet-server ${manifest.version} from ${releaseDir}`);
// A variable, so the bundler leaves the server as its own file.
const server = './server.mjs';
await import(server);
