/**
 * `npm run release:server -- [--version V] [--out DIR] [--no-strip]` (docs/deployment.md, "Install"): builds the
 * server release for this machine's CPU and Node into dist/releases/ and prints where it went and its sizes.
 */
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { DIST_RELEASES, REPO_ROOT } from '../release/build.js';
import { buildServerRelease } from './build.js';

async function main(): Promise<void> {
  const { values } = parseArgs({
    args: process.argv.slice(2),
    options: {
      version: {
        type: 'string',
        default: (JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { version: string }).version,
      },
      out: { type: 'string', default: DIST_RELEASES },
      'no-strip': { type: 'boolean', default: false },
    },
    strict: true,
  });
  const built = await buildServerRelease({
    version: values.version,
    outDir: resolve(values.out),
    strip: !values['no-strip'],
    log: (line) => console.error(`release:server: ${line}`),
  });
  const mb = (n: number) => `${(n / 1e6).toFixed(1)} MB`;
  console.log(
    [
      `fleet server release ${built.version} (${built.arch}, Node ${built.manifest.runtime.version}) built in ${(built.buildMs / 1000).toFixed(1)} s`,
      `  folder:    ${built.dir} (${built.manifest.files.length} files, ${mb(built.dirBytes)})`,
      `  installer: ${built.installer} (${mb(built.installerBytes)})`,
      `  install:   copy the installer to the server, then: sudo sh ${built.installer.split('/').pop()} && sudo systemctl start fleet-server`,
    ].join('\n'),
  );
}

main().catch((err: Error) => {
  console.error(`release:server: ${err.message}`);
  process.exitCode = 1;
});
