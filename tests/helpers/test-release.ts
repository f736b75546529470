/**
 * A small kiosk release manifest for the OTA tests (tests/release-*.test.ts, tests/dashboard-releases.test.ts): the
 * files given, the build machine's arch and Node as runtime, `agent/notes.txt` as the installer entry (and the agent's unless named),
 * `bin/kiosk-agent` as both launchers, modes by folder. Signing stays in each test (their keyrings differ).
 */
import { createHash } from 'node:crypto';
import type { ReleaseManifest } from '../../protocol/index.js';

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

export function testReleaseManifest(version: string, files: Map<string, Buffer>, agent = 'agent/notes.txt'): ReleaseManifest {
  return {
    v: 1,
    format: 'kiosk-release',
    version,
    platform: 'linux',
    arch: process.arch as ReleaseManifest['arch'],
    runtime: { name: 'node', version: process.versions.node, modules: process.versions.modules },
    entryPoints: {
      node: 'runtime/node',
      agent,
      agentLauncher: 'bin/kiosk-agent',
      browserLauncher: 'bin/kiosk-agent',
      installer: 'agent/notes.txt',
    },
    files: [...files]
      .sort(([a], [b]) => (a < b ? -1 : 1))
      .map(([path, b]) => ({ path, sha256: sha(b), size: b.length, mode: path.startsWith('bin/') ? 0o755 : 0o644 })),
    createdAt: new Date().toISOString(),
  };
}
