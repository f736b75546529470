/**
 * `keys …`: the manifest keys of DESIGN §7. `status`, `rotate` (root held by the server), and the offline-root
 * flow: `prepare` (server makes the new signing key, hands out the next keys document unsigned) → `sign` (on the
 * machine that keeps the root key, no network needed) → `publish` (server checks the root's signature and puts
 * the document in force). Kiosks follow with their next manifest; a retired key is refused from then on.
 */
import { createPrivateKey } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { KeysDocument, SignedKeysDocument, signingKeysFrom, signKeysDocument } from '../../protocol/index.js';
import { type CliContext, CliError, EXIT, usageError } from '../cli-support.js';
import { humanClient, humanOptions, humanOptionsHelp } from './human-auth.js';

export const keysHelp = `Usage: kiosk-provision keys status|rotate|prepare|sign|publish [options]

The keys that sign content manifests (docs/design.md §7). Role: admin.

  keys status                          root key, current signing key, keys document version and expiry
  keys rotate                          new signing key, every other one retired, signed by the root key
                                       the server holds (small departments)
  keys prepare --out NEXT.json         offline root, step 1: the server makes the new signing key and
                                       writes the next keys document, unsigned, to NEXT.json
  keys sign --root-key ROOT.pem --in NEXT.json --out SIGNED.json
                                       step 2, where the root key is kept (no server, no network)
  keys publish --in SIGNED.json        step 3: the server checks the root's signature and puts it in force

Options:
  --out FILE / --in FILE               files of the offline flow
  --root-key FILE                      the root's private key (PKCS#8 PEM), for \`sign\` only
  --json                               print the server's JSON answer only
${humanOptionsHelp}`;

export const keysOptions = {
  ...humanOptions,
  out: { type: 'string' },
  in: { type: 'string' },
  'root-key': { type: 'string' },
  json: { type: 'boolean' },
} as const;

type KeysArgs = {
  out?: string | undefined;
  in?: string | undefined;
  'root-key'?: string | undefined;
  json?: boolean | undefined;
  server?: string | undefined;
  'token-file'?: string | undefined;
};

function readJson(path: string | undefined, flag: string): unknown {
  if (!path) throw usageError(`this step needs ${flag} FILE`);
  try {
    return JSON.parse(readFileSync(path, 'utf8'));
  } catch (error) {
    throw usageError(`cannot read ${flag} ${path}: ${(error as Error).message}`);
  }
}

function describe(document: KeysDocument): string[] {
  return [
    `keys document ${document.version}, valid until ${document.expiresAt}`,
    ...document.keys.map(
      (k) => `  ${k.status === 'current' ? 'current' : 'retired'} ${k.keyId}${k.retiredAt ? ` (retired ${k.retiredAt})` : ''}`,
    ),
  ];
}

function printStatus(raw: unknown, ctx: CliContext): void {
  const status = raw as { root: { keyId: string; online: boolean }; signingKeyId: string; document: unknown; notified?: number };
  const signed = SignedKeysDocument.parse(status.document);
  ctx.io.out(`root ${status.root.keyId} (${status.root.online ? 'held by the server' : 'offline'})`);
  ctx.io.out(`signing with ${status.signingKeyId}`);
  for (const line of describe(signed.document)) ctx.io.out(line);
  if (status.notified !== undefined) ctx.io.out(`${status.notified} device(s) told to fetch their manifest again`);
}

export async function runKeys(step: string | undefined, args: KeysArgs, ctx: CliContext): Promise<number> {
  switch (step) {
    case 'sign': {
      const document = KeysDocument.safeParse(readJson(args.in, '--in'));
      if (!document.success) throw new CliError(`--in is not a keys document: ${document.error.message}`, EXIT.usage);
      if (!args['root-key']) throw usageError('keys sign needs --root-key ROOT.pem');
      if (!args.out) throw usageError('keys sign needs --out FILE');
      let root: ReturnType<typeof signingKeysFrom>;
      try {
        root = signingKeysFrom(createPrivateKey(readFileSync(args['root-key'], 'utf8')));
      } catch (error) {
        throw usageError(`cannot read --root-key ${args['root-key']}: ${(error as Error).message}`);
      }
      // The file as it came: fields this CLI does not know are signed too.
      const raw = readJson(args.in, '--in') as KeysDocument;
      const signed = signKeysDocument(raw, root);
      writeFileSync(args.out, `${JSON.stringify(signed, null, 2)}\n`, { flag: 'wx' });
      ctx.io.out(`signed with root ${root.keyId}:`);
      for (const line of describe(document.data)) ctx.io.out(line);
      ctx.io.out(`written to ${args.out}; now: kiosk-provision keys publish --in ${args.out}`);
      return EXIT.ok;
    }
    case 'status':
    case 'rotate':
    case 'prepare':
    case 'publish': {
      const api = humanClient(args, ctx);
      let raw: unknown;
      if (step === 'status') raw = await api.getJson('/api/v1/keys');
      else if (step === 'rotate') raw = await api.post('/api/v1/keys/rotate');
      else if (step === 'publish') raw = await api.postJson('/api/v1/keys/publish', readJson(args.in, '--in'));
      else {
        if (!args.out) throw usageError('keys prepare needs --out FILE');
        raw = await api.post('/api/v1/keys/prepare');
        const document = (raw as { document: KeysDocument }).document;
        writeFileSync(args.out, `${JSON.stringify(document, null, 2)}\n`, { flag: 'wx' });
        if (!args.json) {
          for (const line of describe(KeysDocument.parse(document))) ctx.io.out(line);
          ctx.io.out(
            `written to ${args.out}; sign it where the root key is kept: kiosk-provision keys sign --root-key ROOT.pem --in ${args.out} --out SIGNED.json`,
          );
          return EXIT.ok;
        }
      }
      if (args.json) ctx.io.out(JSON.stringify(raw, null, 2));
      else printStatus(raw, ctx);
      return EXIT.ok;
    }
    default:
      throw usageError(`keys needs a step: status, rotate, prepare, sign or publish (got ${step ?? 'none'})`);
  }
}
