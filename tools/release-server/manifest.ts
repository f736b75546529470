/**
 * The server release's manifest (`release.json` at the top of the release folder): what was built, for which CPU and
 * Node, and every file with its size, mode and sha256. Written by tools/release-server/build.ts, checked by
 * tools/release-server/install.ts before anything is copied. Not signed: the server is installed by the
 * department's IT staff from a file they copied themselves (the kiosk's releases are signed because kiosks take
 * them over the air); the manifest guards against a damaged or changed copy.
 */
import { z } from 'zod';
import { ReleaseVersion } from '../../protocol/release.js';

export const SERVER_RELEASE_FORMAT = 'fleet-server-release/1';

/** Where the release's files live, relative to the release folder. */
export const SERVER_ENTRY_POINTS = {
  node: 'runtime/node',
  server: 'bin/fleet-server',
  backup: 'bin/fleet-server-backup',
  tls: 'bin/fleet-server-tls',
  installer: 'installer/fleet-server-installer.mjs',
  unit: 'deploy/fleet-server.service',
} as const;

export const ServerReleaseManifest = z.object({
  v: z.literal(1),
  format: z.literal(SERVER_RELEASE_FORMAT),
  version: ReleaseVersion,
  platform: z.literal('linux'),
  arch: z.string().min(1),
  runtime: z.object({ name: z.literal('node'), version: z.string(), modules: z.string() }),
  files: z.array(
    z.object({
      path: z.string().min(1),
      sha256: z.string().regex(/^[0-9a-f]{64}$/),
      size: z.number().int().nonnegative(),
      mode: z.number().int(),
    }),
  ),
  createdAt: z.iso.datetime({ offset: true }),
  source: z.object({ treeHash: z.string(), commit: z.string().nullable() }),
});
export type ServerReleaseManifest = z.infer<typeof ServerReleaseManifest>;

/** One sentence saying why this release cannot run on this machine, or null when it can. */
export function serverTargetMismatch(release: ServerReleaseManifest): string | null {
  if (process.platform !== release.platform)
    return `fleet server release ${release.version} is for ${release.platform}, this machine runs ${process.platform}`;
  if (process.arch !== release.arch)
    return `fleet server release ${release.version} is built for ${release.arch}, this machine is ${process.arch}`;
  if (process.versions.modules !== release.runtime.modules)
    return `fleet server release ${release.version} needs Node ABI ${release.runtime.modules} (Node ${release.runtime.version}), this is Node ${process.versions.node} (ABI ${process.versions.modules}): start it with the Node inside the release (bin/fleet-server)`;
  return null;
}
