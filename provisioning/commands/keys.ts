/**
 * `keys …`: the manifest keys of DESIGN §7. `status`, `rotate` (root held by the server), and the offline-root
 * flow: `prepare` (server makes the new signing key, hands out the next keys document unsigned) → `sign` (on the
 * machine that keeps the root key, no network needed) → `publish` (server checks the root's signature and puts
 * the document in force). Kiosks follow with their next manifest; a retired key is refused from then on.
 */
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { KeysDocument, SignedKeysDocument, signingKeysFrom, signKeysDocument } from '../../protocol/index.js';
import { type CliContext, CliError, EXIT, usageError } from '../cli-support.js';
import { normalizeFingerprint, serverVerifiesAgainst } from '../server-identity.js';
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

interface TlsCaLine {
  fingerprint: string;
  subject: string;
  notAfter: string;
  since: number;
  devicesHolding: number;
}

function printStatus(raw: unknown, ctx: CliContext): void {
  const status = raw as {
    root: { keyId: string; online: boolean };
    signingKeyId: string;
    document: unknown;
    notified?: number;
    tlsCas?: TlsCaLine[];
    devices?: { total: number; reporting: number };
  };
  const signed = SignedKeysDocument.parse(status.document);
  ctx.io.out(`root ${status.root.keyId} (${status.root.online ? 'held by the server' : 'offline'})`);
  ctx.io.out(`signing with ${status.signingKeyId}`);
  for (const line of describe(signed.document)) ctx.io.out(line);
  const total = status.devices?.total ?? 0;
  if (!status.tlsCas || status.tlsCas.length === 0) {
    ctx.io.out('TLS CAs: none in the keys document (kiosks trust the CA they were enrolled with)');
  } else {
    ctx.io.out(
      `TLS CAs kiosks trust (${status.devices?.reporting ?? 0} of ${total} kiosks have said which keys document they hold):`,
    );
    for (const ca of status.tlsCas) {
      ctx.io.out(
        `  ${ca.fingerprint}  ${ca.subject.replace(/\n/g, ', ')}, until ${ca.notAfter}\n` +
          `    listed since keys document ${ca.since}: ${ca.devicesHolding} of ${total} kiosks hold it`,
      );
    }
  }
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
      const api = await humanClient(args, ctx);
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

export const keysTlsCasHelp = `Usage: kiosk-provision keys tls-cas add CA.pem | retire FINGERPRINT | set CA.pem[,CA2.pem] [options]

The CAs kiosks trust for the server's TLS, carried in the root-signed keys document (docs/deployment.md, moving
kiosks to a new CA). Role: admin. Steps: add the new CA → wait until \`keys status\` shows the kiosks hold it →
switch the server certificate to the new CA (server/tls/cli.ts switch-ca, or the new TLS_CERT_FILE) and SIGHUP →
retire the old CA.

  keys tls-cas add CA.pem        list CA.pem beside the CAs listed now (the first time: beside the CA this CLI
                                 pins for the server, --ca or the one \`login\` saved)
  keys tls-cas retire FP         drop the CA with that SHA-256 fingerprint; refused while the server's own
                                 certificate would not verify against the CAs that remain (switch first)
  keys tls-cas set A.pem,B.pem   the whole list

With the root key offline the server answers with the next keys document unsigned: it is written to --out FILE
for \`keys sign\` and \`keys publish\`.

Options:
  --out FILE                     where to write the unsigned document (offline root)
  --json                         print the server's JSON answer only
${humanOptionsHelp}`;

export const keysTlsCasOptions = { ...humanOptions, out: { type: 'string' }, json: { type: 'boolean' } } as const;

function readPem(file: string): string {
  try {
    const pem = readFileSync(file, 'utf8');
    new X509Certificate(pem);
    return pem;
  } catch (error) {
    throw usageError(`cannot read ${file} as a PEM certificate: ${(error as Error).message}`);
  }
}

export async function runKeysTlsCas(
  action: string | undefined,
  value: string | undefined,
  args: KeysArgs & { ca?: string | undefined; 'ca-fingerprint'?: string | undefined },
  ctx: CliContext,
): Promise<number> {
  if (action !== 'add' && action !== 'retire' && action !== 'set') {
    throw usageError(`keys tls-cas needs add CA.pem, retire FINGERPRINT or set CA.pem,… (got ${action ?? 'none'})`);
  }
  if (!value) throw usageError(`keys tls-cas ${action} needs ${action === 'retire' ? 'a FINGERPRINT' : 'a CA file'}`);
  const api = await humanClient(args, ctx);
  const status = (await api.getJson('/api/v1/keys')) as { document: unknown };
  const listed = SignedKeysDocument.parse(status.document).document.tlsCas ?? [];
  const fingerprintOf = (pem: string) => new X509Certificate(pem).fingerprint256;
  let cas: string[];
  if (action === 'set') cas = value.split(',').map((file) => readPem(file.trim()));
  else if (action === 'add') {
    let base = listed;
    if (base.length === 0) {
      if (!api.ca) {
        throw usageError(
          'the keys document lists no CA yet, and this CLI pins none for the server: pass --ca FILE with the CA kiosks trust now (DATA_DIR/tls/ca.pem or TLS_CA_FILE)',
        );
      }
      base = [api.ca];
    }
    const added = readPem(value);
    if (base.some((pem) => fingerprintOf(pem) === fingerprintOf(added))) {
      throw usageError(`${fingerprintOf(added)} is listed already`);
    }
    cas = [...base, added];
  } else {
    const fingerprint = normalizeFingerprint(value, 'the fingerprint');
    if (!listed.some((pem) => fingerprintOf(pem) === fingerprint))
      throw usageError(`${fingerprint} is not listed in the keys document`);
    cas = listed.filter((pem) => fingerprintOf(pem) !== fingerprint);
    if (cas.length === 0) throw usageError('that is the last CA listed: add the new one first');
  }
  if (api.base.startsWith('https:')) {
    // Kiosks that take this list must still reach the server: its certificate must verify against it.
    const why = await serverVerifiesAgainst(api.base, cas.join('\n'), 30_000);
    if (why) {
      throw new CliError(
        `the server's certificate does not verify against the CAs that would remain (${why}); kiosks would lose the server. Switch the server certificate first.`,
        EXIT.usage,
      );
    }
  }
  const raw = (await api.postJson('/api/v1/keys/tls-cas', { tlsCas: cas })) as { signed?: boolean; document?: KeysDocument };
  if (raw.signed === false) {
    if (!args.out) throw usageError('the root key is offline: pass --out FILE to receive the unsigned keys document');
    writeFileSync(args.out, `${JSON.stringify(raw.document, null, 2)}\n`, { flag: 'wx' });
    ctx.io.out(
      `root key offline: the next keys document is in ${args.out}; sign it (keys sign --root-key ROOT.pem --in ${args.out} --out SIGNED.json), then keys publish --in SIGNED.json`,
    );
    return EXIT.ok;
  }
  if (args.json) ctx.io.out(JSON.stringify(raw, null, 2));
  else printStatus(raw, ctx);
  return EXIT.ok;
}
