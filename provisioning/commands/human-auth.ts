/** How the person's verbs find the server and their API token: flags first, then the environment. */
import { readFileSync } from 'node:fs';
import { type ApiClient, createApiClient } from '../api-client.js';
import { type CliContext, usageError } from '../cli-support.js';

export const humanOptions = {
  server: { type: 'string' },
  'token-file': { type: 'string' },
} as const;

export const humanOptionsHelp = `  --server URL            the fleet server (env KIOSK_SERVER)
  --token-file FILE       file holding your API token (env KIOSK_API_TOKEN holds the token itself);
                          create one in the dashboard or with POST /api/v1/auth/tokens
  -h, --help              this help`;

export function humanClient(
  args: { server?: string | undefined; 'token-file'?: string | undefined },
  ctx: CliContext,
): ApiClient {
  const server = args.server ?? ctx.env.KIOSK_SERVER;
  if (!server) throw usageError('no server: pass --server URL or set KIOSK_SERVER');
  let token = ctx.env.KIOSK_API_TOKEN;
  if (args['token-file']) {
    try {
      token = readFileSync(args['token-file'], 'utf8').trim();
    } catch (error) {
      throw usageError(`cannot read --token-file ${args['token-file']}: ${(error as Error).message}`);
    }
  }
  if (!token) throw usageError('no API token: pass --token-file FILE or set KIOSK_API_TOKEN');
  return createApiClient({ server, token });
}
