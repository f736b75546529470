/** How the person's verbs find the server, which CA they trust for it, and their API token: flags first, then the environment. */
import { readFileSync } from 'node:fs';
import { type ApiClient, createApiClient } from '../api-client.js';
import { type CliContext, usageError } from '../cli-support.js';
import { rememberedCaFile, resolveServerCa, type TrustArgs, trustOptions, trustOptionsHelp } from '../server-trust.js';

export const humanOptions = {
  server: { type: 'string' },
  'token-file': { type: 'string' },
  ...trustOptions,
} as const;

export const humanOptionsHelp = `  --server URL            the fleet server, https://<server>:8443 (env KIOSK_SERVER)
  --token-file FILE       file holding your API token (env KIOSK_API_TOKEN holds the token itself);
                          \`login\` writes it, and the server's CA beside it (FILE.ca.pem), pinned from then on
${trustOptionsHelp}
  -h, --help              this help`;

export type HumanArgs = { server?: string | undefined; 'token-file'?: string | undefined } & TrustArgs;

export async function humanClient(args: HumanArgs, ctx: CliContext): Promise<ApiClient> {
  const server = args.server ?? ctx.env.KIOSK_SERVER;
  if (!server) throw usageError('no server: pass --server URL or set KIOSK_SERVER');
  let token = ctx.env.KIOSK_API_TOKEN;
  const tokenFile = args['token-file'];
  if (tokenFile) {
    try {
      token = readFileSync(tokenFile, 'utf8').trim();
    } catch (error) {
      throw usageError(`cannot read --token-file ${tokenFile}: ${(error as Error).message}`);
    }
  }
  if (!token) throw usageError('no API token: pass --token-file FILE or set KIOSK_API_TOKEN');
  const ca = await resolveServerCa(server, args, ctx.env, tokenFile ? { rememberedFile: rememberedCaFile(tokenFile) } : {});
  return createApiClient({ server, token, ca });
}
