/** `tokens create`: enrollment tokens for one site, printed once, each with its QR code in the terminal. */
import QRCode from 'qrcode';
import { DeviceKind, EnrollmentTokensCreated } from '../../protocol/index.js';
import { type CliContext, EXIT, parsePositiveInt, parseTtlHours, usageError } from '../cli-support.js';
import { humanClient, humanOptions, humanOptionsHelp } from './human-auth.js';

export const tokensCreateHelp = `Usage: kiosk-provision tokens create --site SITE_ID [--count N] [--ttl 72h] [--kind kiosk] [options]

Creates one-time enrollment tokens bound to SITE_ID and a device kind. Each token is shown ONCE, with a
QR code holding the link <server>/enroll#token=… (give it to \`kiosk-provision enroll --token\`).
Roles: admin, department, technician.

Options:
  --site SITE_ID          the site the kiosk will stand at (e.g. gl-c-iadom)
  --count N               how many tokens (default 1, at most 200)
  --ttl DURATION          how long they stay valid: 72h (default), 3d, 90m
  --kind KIND             ${DeviceKind.options.join(' | ')} (default kiosk)
  --no-qr                 do not draw QR codes
  --json                  print the server's JSON answer only
${humanOptionsHelp}`;

export const tokensCreateOptions = {
  ...humanOptions,
  site: { type: 'string' },
  count: { type: 'string' },
  ttl: { type: 'string' },
  kind: { type: 'string' },
  'no-qr': { type: 'boolean' },
  json: { type: 'boolean' },
} as const;

export async function runTokensCreate(
  args: {
    site?: string | undefined;
    count?: string | undefined;
    ttl?: string | undefined;
    kind?: string | undefined;
    'no-qr'?: boolean | undefined;
    json?: boolean | undefined;
    server?: string | undefined;
    'token-file'?: string | undefined;
  },
  ctx: CliContext,
): Promise<number> {
  if (!args.site) throw usageError('tokens create needs --site SITE_ID');
  const kind = DeviceKind.safeParse(args.kind ?? 'kiosk');
  if (!kind.success) throw usageError(`--kind must be one of ${DeviceKind.options.join(', ')}`);
  const body = {
    siteId: args.site,
    kind: kind.data,
    ttlHours: args.ttl ? parseTtlHours(args.ttl) : 72,
    count: args.count ? parsePositiveInt('count', args.count) : 1,
  };
  const api = await humanClient(args, ctx);
  const raw = await api.postJson('/api/v1/enrollment-tokens', body);
  if (args.json) {
    ctx.io.out(JSON.stringify(raw, null, 2));
    return EXIT.ok;
  }
  const { tokens } = EnrollmentTokensCreated.parse(raw);
  ctx.io.out(`${tokens.length} enrollment token(s) for site ${body.siteId} (${body.kind}). They are shown only now.`);
  for (const t of tokens) {
    ctx.io.out('');
    ctx.io.out(`token ${t.id}, valid until ${t.expiresAt}`);
    ctx.io.out(`  ${t.token}`);
    // The link carries the server and its CA fingerprint (ca=…): the kiosk's CLI checks the server with it.
    ctx.io.out(`  on the kiosk: npx kiosk-provision enroll --token '${t.enrollUrl}'`);
    if (!args['no-qr']) ctx.io.out(await QRCode.toString(t.enrollUrl, { type: 'terminal', small: true }));
  }
  return EXIT.ok;
}
