/**
 * `login`: trades a user name and password for an API token and saves it (mode 0600), so the other human
 * commands need no curl. `pairing claim`: claims the code an unenrolled kiosk shows, for a site.
 */
import { randomBytes } from 'node:crypto';
import { chmod, rename, writeFile } from 'node:fs/promises';
import { z } from 'zod';
import { DeviceKind, PairingClaimed } from '../../protocol/index.js';
import { createApiClient } from '../api-client.js';
import { type CliContext, EXIT, usageError } from '../cli-support.js';
import { rememberedCaFile, resolveServerCa, type TrustArgs, trustOptions, trustOptionsHelp } from '../server-trust.js';
import { humanClient, humanOptions, humanOptionsHelp } from './human-auth.js';

export const loginHelp = `Usage: kiosk-provision login --server URL --username NAME --token-file FILE [--ca-fingerprint HEX | --ca FILE] [--days N]

Logs in, creates an API token for this CLI and writes it to FILE (mode 0600). The password is read from
the terminal (not echoed), or from standard input when it is not a terminal (scripts), or KIOSK_PASSWORD.
With --ca-fingerprint (or --ca), the server proves it is the department's before the password is sent, and
its CA is saved beside the token, as FILE.ca.pem: later commands with --token-file FILE pin it.
Afterwards pass --token-file FILE (or export KIOSK_API_TOKEN=$(cat FILE)) to the other commands.

Options:
  --server URL            the fleet server, https://<server>:8443 (env KIOSK_SERVER)
  --username NAME         your user name
  --token-file FILE       where to save the token
  --days N                how long the token stays valid (default 30)
${trustOptionsHelp}
  -h, --help              this help`;

export const loginOptions = {
  server: { type: 'string' },
  username: { type: 'string' },
  'token-file': { type: 'string' },
  days: { type: 'string' },
  ...trustOptions,
} as const;

export async function runLogin(
  args: {
    server?: string | undefined;
    username?: string | undefined;
    'token-file'?: string | undefined;
    days?: string | undefined;
  } & TrustArgs,
  ctx: CliContext,
): Promise<number> {
  const server = args.server ?? ctx.env.KIOSK_SERVER;
  if (!server) throw usageError('login needs --server URL (or KIOSK_SERVER)');
  if (!args.username) throw usageError('login needs --username NAME');
  const file = args['token-file'];
  if (!file) throw usageError('login needs --token-file FILE (where to save the API token)');
  const days = args.days ? Number(args.days) : 30;
  if (!Number.isInteger(days) || days < 1 || days > 3650) throw usageError('--days must be a whole number from 1 to 3650');
  const password = ctx.env.KIOSK_PASSWORD ?? (await ctx.readPassword(`Password for ${args.username}: `));
  if (!password) throw usageError('no password given');

  // The CA is settled before the password leaves this machine (a forged server is refused here).
  const ca = await resolveServerCa(server, args, ctx.env, { rememberedFile: rememberedCaFile(file) });
  const anonymous = createApiClient({ server, ca });
  const { cookie } = await anonymous.login(args.username, password);
  const created = z
    .object({ token: z.string().min(16) })
    .parse(
      await createApiClient({ server, cookie, ca }).postJson('/api/v1/auth/tokens', { name: 'kiosk-provision', ttlDays: days }),
    );
  await writePrivate(file, `${created.token}\n`, 0o600);
  ctx.io.out(`Logged in as ${args.username}; API token (valid ${days} days) saved to ${file}.`);
  if (ca) {
    await writePrivate(rememberedCaFile(file), ca.endsWith('\n') ? ca : `${ca}\n`, 0o644);
    ctx.io.out(`The server's CA is saved as ${rememberedCaFile(file)}; commands with --token-file ${file} trust only it.`);
  }
  return EXIT.ok;
}

async function writePrivate(file: string, text: string, mode: number): Promise<void> {
  const tmp = `${file}.${randomBytes(4).toString('hex')}.tmp`;
  await writeFile(tmp, text, { mode, flag: 'wx' });
  await chmod(tmp, mode);
  await rename(tmp, file);
}

export const pairingClaimHelp = `Usage: kiosk-provision pairing claim CODE --site SITE_ID [--kind KIND] [options]

Claims the pairing code an unenrolled kiosk shows on its screen and assigns the kiosk to SITE_ID; the kiosk
receives its credentials on its next poll. Codes expire after 15 minutes and can be claimed once.
Roles: admin, department, technician.

Options:
  --site SITE_ID          the site the kiosk stands at
  --kind KIND             ${DeviceKind.options.join(' | ')} (default: what the kiosk asked for)
${humanOptionsHelp}`;

export const pairingClaimOptions = { ...humanOptions, site: { type: 'string' }, kind: { type: 'string' } } as const;

export async function runPairingClaim(
  code: string | undefined,
  args: { site?: string | undefined; kind?: string | undefined; server?: string | undefined; 'token-file'?: string | undefined },
  ctx: CliContext,
): Promise<number> {
  if (!code) throw usageError('pairing claim needs the CODE shown on the kiosk');
  if (!args.site) throw usageError('pairing claim needs --site SITE_ID');
  if (args.kind && !DeviceKind.safeParse(args.kind).success)
    throw usageError(`--kind must be one of ${DeviceKind.options.join(', ')}`);
  const api = await humanClient(args, ctx);
  const claimed = PairingClaimed.parse(
    await api.postJson('/api/v1/pairing/claim', { code, siteId: args.site, ...(args.kind ? { kind: args.kind } : {}) }),
  );
  ctx.io.out(`Claimed: the kiosk becomes device ${claimed.deviceId} (${claimed.kind}) at site ${claimed.siteId}.`);
  return EXIT.ok;
}
