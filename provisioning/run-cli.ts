/**
 * The technicians' CLI: verbs, their `--help`, and the one place errors become messages and exit codes.
 * Talks to the server's HTTP API only (DESIGN §2).
 */
import { type ParseArgsConfig, parseArgs } from 'node:util';
import { type CliContext, CliError, EXIT, usageError } from './cli-support.js';
import { devicesRevokeHelp, devicesRevokeOptions, runDevicesRevoke } from './commands/devices.js';
import { enrollHelp, enrollOptions, runEnroll } from './commands/enroll.js';
import { devicesImportHelp, importOptions, runDevicesImport, runSitesImport, sitesImportHelp } from './commands/imports.js';
import { keysHelp, keysOptions, keysTlsCasHelp, keysTlsCasOptions, runKeys, runKeysTlsCas } from './commands/keys.js';
import { loginHelp, loginOptions, pairingClaimHelp, pairingClaimOptions, runLogin, runPairingClaim } from './commands/session.js';
import { runTokensCreate, tokensCreateHelp, tokensCreateOptions } from './commands/tokens.js';

export const MAIN_HELP = `Usage: kiosk-provision <command> [options]    (npm run provision -- <command> …)

Commands:
  enroll --server URL --token T [--dir DIR]   on the kiosk: enroll it and write the agent config
  tokens create --site ID [--count N] [--ttl 72h] [--kind kiosk]
                                              one-time enrollment tokens with QR codes
  sites import FILE.csv                       import sites (reference CSV format)
  devices import FILE.csv                     import the inventory (serial,model,kind,site)
  devices revoke ID                           revoke a device: disconnect it and refuse it from now on
  pairing claim CODE --site ID                claim the code an unenrolled kiosk shows
  login --username U --token-file FILE        log in and save an API token for the commands above
  keys status|rotate|prepare|sign|publish     the keys that sign content manifests (admin)
  keys tls-cas add|retire|set                 the CAs kiosks trust for the server (moving to a new CA)

Every command has --help. Commands for people need --server URL (or KIOSK_SERVER) and an API token
(--token-file FILE, or KIOSK_API_TOKEN). Against the server's own CA: --ca-fingerprint HEX (checked before
anything is sent) or --ca FILE; \`login\` saves the CA beside the token file for the later commands.
Step by step: docs/provisioning.md.`;

type Options = NonNullable<ParseArgsConfig['options']>;

interface Verb {
  help: string;
  options: Options;
  /** Positional arguments the verb takes (after its words). */
  positionals: number;
  run(values: Record<string, unknown>, positionals: string[], ctx: CliContext): Promise<number>;
}

const VERBS: Record<string, Verb> = {
  enroll: { help: enrollHelp, options: enrollOptions, positionals: 0, run: (v, _p, ctx) => runEnroll(v, ctx) },
  login: { help: loginHelp, options: loginOptions, positionals: 0, run: (v, _p, ctx) => runLogin(v, ctx) },
  'pairing claim': {
    help: pairingClaimHelp,
    options: pairingClaimOptions,
    positionals: 1,
    run: (v, p, ctx) => runPairingClaim(p[0], v, ctx),
  },
  'tokens create': {
    help: tokensCreateHelp,
    options: tokensCreateOptions,
    positionals: 0,
    run: (v, _p, ctx) => runTokensCreate(v, ctx),
  },
  'sites import': {
    help: sitesImportHelp,
    options: importOptions,
    positionals: 1,
    run: (v, p, ctx) => runSitesImport(p[0], v, ctx),
  },
  'devices import': {
    help: devicesImportHelp,
    options: importOptions,
    positionals: 1,
    run: (v, p, ctx) => runDevicesImport(p[0], v, ctx),
  },
  keys: { help: keysHelp, options: keysOptions, positionals: 1, run: (v, p, ctx) => runKeys(p[0], v, ctx) },
  'keys tls-cas': {
    help: keysTlsCasHelp,
    options: keysTlsCasOptions,
    positionals: 2,
    run: (v, p, ctx) => runKeysTlsCas(p[0], p[1], v, ctx),
  },
  'devices revoke': {
    help: devicesRevokeHelp,
    options: devicesRevokeOptions,
    positionals: 1,
    run: (v, p, ctx) => runDevicesRevoke(p[0], v, ctx),
  },
};

function findVerb(argv: string[]): { name: string; verb: Verb; rest: string[] } | null {
  for (const words of [2, 1]) {
    const name = argv.slice(0, words).join(' ');
    const verb = VERBS[name];
    if (verb && argv.slice(0, words).every((w) => !w.startsWith('-'))) return { name, verb, rest: argv.slice(words) };
  }
  return null;
}

async function dispatch(argv: string[], ctx: CliContext): Promise<number> {
  if (argv.length === 0 || argv[0] === '--help' || argv[0] === '-h' || argv[0] === 'help') {
    ctx.io.out(MAIN_HELP);
    return argv.length === 0 ? EXIT.usage : EXIT.ok;
  }
  const found = findVerb(argv);
  if (!found) {
    const group = Object.keys(VERBS).filter((name) => name.startsWith(`${argv[0]} `));
    if (group.length && (argv.length === 1 || argv[1] === '--help' || argv[1] === '-h')) {
      ctx.io.out(`Commands: ${group.map((g) => `kiosk-provision ${g}`).join(', ')} (each has --help)`);
      return argv.length === 1 ? EXIT.usage : EXIT.ok;
    }
    throw usageError(`unknown command '${argv.slice(0, 2).join(' ')}'; run kiosk-provision --help`);
  }
  const { verb, rest, name } = found;
  let parsed: { values: Record<string, unknown>; positionals: string[] };
  try {
    parsed = parseArgs({
      args: rest,
      options: { ...verb.options, help: { type: 'boolean', short: 'h' } },
      allowPositionals: true,
      strict: true,
    }) as { values: Record<string, unknown>; positionals: string[] };
  } catch (error) {
    throw usageError(`${(error as Error).message} (see kiosk-provision ${name} --help)`);
  }
  if (parsed.values.help) {
    ctx.io.out(verb.help);
    return EXIT.ok;
  }
  if (parsed.positionals.length > verb.positionals)
    throw usageError(
      `unexpected argument(s) ${parsed.positionals.slice(verb.positionals).join(' ')} (see kiosk-provision ${name} --help)`,
    );
  return verb.run(parsed.values, parsed.positionals, ctx);
}

/** Runs one command line; returns the exit code (never throws). */
export async function runCli(argv: string[], ctx: CliContext): Promise<number> {
  try {
    return await dispatch(argv, ctx);
  } catch (error) {
    if (error instanceof CliError) {
      ctx.io.err(`error: ${error.message}`);
      return error.exitCode;
    }
    ctx.io.err(`error: unexpected failure: ${(error as Error).message ?? String(error)}`);
    return 1;
  }
}
