/**
 * `enroll`: run on the kiosk. Gathers its facts, trades the enrollment token for credentials, writes the agent
 * config (mode 0600: it holds the device secret), then proves the credentials work by connecting to the broker.
 */
import { randomBytes } from 'node:crypto';
import { chmod, mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import mqtt from 'mqtt';
import { AgentConfigFile, type DeviceFacts, EnrollResponse } from '../../protocol/index.js';
import { createApiClient } from '../api-client.js';
import { type CliContext, CliError, EXIT, usageError } from '../cli-support.js';
import { gatherFacts } from '../facts.js';
import { normalizeFingerprint, verifyServerIdentity } from '../server-identity.js';
import { resolveServerCa, type TrustArgs, trustOptions, trustOptionsHelp } from '../server-trust.js';

export const CONFIG_FILE_NAME = 'agent-config.json';

export const enrollHelp = `Usage: kiosk-provision enroll --server URL --token TOKEN [--dir DIR] [options]

Run on the kiosk. Enrolls it with a one-time enrollment token (from \`tokens create\` or the dashboard),
writes DIR/${CONFIG_FILE_NAME} (mode 0600) for the agent, and checks the broker accepts the new credentials.

Options:
  --server URL            the fleet server (env KIOSK_SERVER); optional when --token is a full enroll link
  --token TOKEN           the enrollment token, or the link the QR code holds (URL/enroll#token=…)
  --dir DIR               where to write ${CONFIG_FILE_NAME} (default: current directory)
  --force                 replace an existing enrolled config (the old device id stops being used)
  --serial S, --model M   override what systeminformation reports
  --skip-broker-check     do not connect to the broker after enrolling
  --timeout SECONDS       HTTP and broker timeout (default 60)
${trustOptionsHelp}
                          (for a bare --token; a link's ca= does this already)
  -h, --help              this help

Then start the agent: npm run agent -- --config DIR/${CONFIG_FILE_NAME}

Exit codes: 0 enrolled and broker reached; 2 usage; 3 server unreachable; 4 server refused (the token is
used, expired, unknown or for another site: the server's message says which); 5 enrolled and config
written, but the broker could not be reached.`;

export const enrollOptions = {
  server: { type: 'string' },
  token: { type: 'string' },
  dir: { type: 'string' },
  force: { type: 'boolean' },
  serial: { type: 'string' },
  model: { type: 'string' },
  'skip-broker-check': { type: 'boolean' },
  timeout: { type: 'string' },
  ...trustOptions,
} as const;

export interface EnrollArgs {
  server?: string | undefined;
  token?: string | undefined;
  dir?: string | undefined;
  force?: boolean | undefined;
  serial?: string | undefined;
  model?: string | undefined;
  'skip-broker-check'?: boolean | undefined;
  timeout?: string | undefined;
  ca?: TrustArgs['ca'];
  'ca-fingerprint'?: TrustArgs['ca-fingerprint'];
}

/**
 * `--token` may be the QR's link: `<server>/enroll#token=…[&ca=<CA fingerprint>]`; then it also names the server
 * and, with `ca=`, the CA the server must prove it holds before the token is sent (docs/deployment.md).
 */
export function splitEnrollLink(value: string): { server: string | null; token: string; caFingerprint?: string } {
  if (!/^https?:\/\//i.test(value)) return { server: null, token: value };
  const url = new URL(value);
  const fragment = new URLSearchParams(url.hash.slice(1));
  const token = fragment.get('token');
  if (!token) throw usageError('--token: the link has no #token=… part');
  const ca = fragment.get('ca');
  return {
    server: url.origin + url.pathname.replace(/\/enroll\/?$/, ''),
    token,
    ...(ca ? { caFingerprint: normalizeFingerprint(ca) } : {}),
  };
}

async function writeConfig(path: string, content: string): Promise<void> {
  // Temp file + rename: a half-written config (power cut on a kiosk) must never be what the agent reads.
  const tmp = `${path}.${randomBytes(4).toString('hex')}.tmp`;
  await writeFile(tmp, content, { mode: 0o600, flag: 'wx' });
  await chmod(tmp, 0o600); // in case the file system ignored the mode
  await rename(tmp, path);
}

export function checkBroker(enrollment: EnrollResponse, timeoutMs: number): Promise<void> {
  return new Promise((resolvePromise, reject) => {
    const client = mqtt.connect(enrollment.mqttUrl, {
      username: enrollment.deviceId,
      password: enrollment.secret,
      clientId: `${enrollment.deviceId}-provision-${randomBytes(3).toString('hex')}`,
      ...(enrollment.caPem ? { ca: enrollment.caPem } : {}),
      reconnectPeriod: 0,
      connectTimeout: timeoutMs,
      clean: true,
    });
    let settled = false;
    const fail = (why: string) => {
      if (settled) return;
      settled = true;
      client.end(true);
      reject(new Error(why));
    };
    client.once('connect', () => {
      settled = true;
      client.end(false, {}, () => resolvePromise());
    });
    client.once('error', (error) => fail(error.message));
    client.once('close', () => fail('connection closed before the broker accepted it'));
  });
}

export async function runEnroll(args: EnrollArgs, ctx: CliContext): Promise<number> {
  if (!args.token) throw usageError('enroll needs --token (see kiosk-provision enroll --help)');
  const link = splitEnrollLink(args.token);
  const server = args.server ?? ctx.env.KIOSK_SERVER ?? link.server;
  if (!server) throw usageError('enroll needs --server URL (or KIOSK_SERVER, or a full enroll link as --token)');
  const timeoutMs = (args.timeout ? Number(args.timeout) : 60) * 1000;
  if (!Number.isFinite(timeoutMs) || timeoutMs <= 0) throw usageError('--timeout must be a positive number of seconds');
  const dir = resolve(args.dir ?? '.');
  const configPath = join(dir, CONFIG_FILE_NAME);

  let existing: Record<string, unknown> = {};
  try {
    existing = JSON.parse(await readFile(configPath, 'utf8')) as Record<string, unknown>;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT')
      throw new CliError(`cannot read the existing ${configPath}: ${(error as Error).message}`, EXIT.usage);
  }
  if ('deviceId' in existing && !args.force)
    throw usageError(`${configPath} already holds device ${String(existing.deviceId)}; use --force to enroll this kiosk again`);

  const overrides: Partial<DeviceFacts> = {};
  if (args.serial) overrides.serial = args.serial;
  if (args.model) overrides.model = args.model;
  const facts = await gatherFacts(overrides);
  ctx.io.out(`Kiosk: serial ${facts.serial}, model ${facts.model}, MAC ${facts.mac}, host ${facts.hostname}`);

  // With the CA fingerprint from the link, the server proves its identity before the token leaves this machine.
  // A bare token: --ca-fingerprint / --ca do the same (server-trust.ts); plain http to another machine is refused.
  let ca: string | undefined;
  const flagFingerprint = args['ca-fingerprint'] ?? ctx.env.KIOSK_CA_FINGERPRINT;
  if (link.caFingerprint && flagFingerprint && normalizeFingerprint(flagFingerprint, '--ca-fingerprint') !== link.caFingerprint) {
    throw usageError(`--ca-fingerprint ${flagFingerprint} is not the CA fingerprint the link names (${link.caFingerprint})`);
  }
  if (link.caFingerprint && server.startsWith('https:') && !args.ca) {
    ca = await verifyServerIdentity(server, link.caFingerprint, timeoutMs);
    ctx.io.out(`Server identity checked: CA fingerprint ${link.caFingerprint}.`);
  } else {
    ca = await resolveServerCa(
      server,
      { ca: args.ca, 'ca-fingerprint': flagFingerprint ?? (server.startsWith('https:') ? link.caFingerprint : undefined) },
      { ...ctx.env, KIOSK_CA_FINGERPRINT: undefined },
      { timeoutMs },
    );
    if (ca) ctx.io.out('Server identity checked against the CA given.');
  }
  const api = createApiClient({ server, timeoutMs, ca });
  const enrollment = EnrollResponse.parse(await api.postJson('/api/v1/enroll', { token: link.token, facts }));
  ctx.io.out(`Enrolled as device ${enrollment.deviceId} at site ${enrollment.siteId}.`);

  // Local settings of an earlier file (dataDir, kioskPort, …) are kept; the identity is the new one.
  const config = AgentConfigFile.parse({ ...existing, ...enrollment });
  await mkdir(dir, { recursive: true });
  await writeConfig(configPath, `${JSON.stringify(config, null, 2)}\n`);
  ctx.io.out(`Wrote ${configPath} (mode 0600).`);

  if (args['skip-broker-check']) {
    ctx.io.out('Broker check skipped.');
  } else {
    try {
      await checkBroker(enrollment, timeoutMs);
      ctx.io.out(`Broker ${enrollment.mqttUrl} accepted the credentials.`);
    } catch (error) {
      throw new CliError(
        `enrolled and config written, but the broker ${enrollment.mqttUrl} could not be reached: ${(error as Error).message}. ` +
          'Check the network/firewall (MQTT port) and start the agent; it keeps retrying.',
        EXIT.brokerUnreachable,
      );
    }
  }
  ctx.io.out(`Next: npm run agent -- --config ${configPath}`);
  return EXIT.ok;
}
