/**
 * The agent's configuration: parsed once from the config file (written by enrollment or pairing) and the
 * environment, then passed down. Nothing below this file reads `process.env`.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { AgentConfigFile, DeviceSettings, type EnrollResponse, LIMITS } from '../protocol/index.js';

/** A config file with no enrollment yet: only where to ask for a pairing code. */
const UnenrolledConfigFile = z.object({
  serverUrl: z.string().url(),
  dataDir: z.string().min(1).default('./agent-data'),
  kioskPort: z.number().int().min(0).max(65_535).default(8090),
});

export interface AgentSettings {
  healthIntervalS: number;
  syncCron: string;
  downloadWindow: string | null;
  bandwidthLimit: number | null;
}

export interface AgentConfig {
  /** Null while the kiosk waits to be paired. */
  enrollment: EnrollResponse | null;
  /** Base URL of the server for pairing (apiUrl once enrolled). */
  serverUrl: string | null;
  /** Where pairing writes the enrollment; null = keep it in memory only (tests). */
  configPath: string | null;
  dataDir: string;
  kioskPort: number;
  uiDir: string;
  settings: AgentSettings;
  /** Overrides `healthIntervalS` with milliseconds; for tests and the fleet simulator only. */
  healthIntervalMs: number | null;
  /**
   * How long samples are held before they go out together in one publish (AGENT_HEALTH_SEND_INTERVAL_S, default
   * 900 s, at most LIMITS.maxHealthSendIntervalS; 0 = each sample at once). Disk-full, a reconnect and shutdown send at
   * once. With AGENT_HEALTH_INTERVAL_MS (tests, simulator) the default is 0; AGENT_HEALTH_SEND_INTERVAL_MS overrides.
   */
  healthSendIntervalMs: number;
  /**
   * MQTT keepalive (AGENT_MQTT_KEEPALIVE_S; default the send interval + 300 s, at least 1200 s). mqtt.js pings only
   * after this long without an acknowledged packet, so health batches replace pings; the broker drops a kiosk silent
   * for 1.5 × it (its will then says offline).
   */
  mqttKeepaliveS: number;
  queueLimit: number;
  /** Free space a download must leave on the data disk (the OS, logs and the queue need room too). */
  diskReserveBytes: number;
  reconnectCapMs: number;
  /** Bound of the random delay before a sync started by power-on or a reconnect (AGENT_SYNC_JITTER_S, default 120 s). */
  syncJitterMs: number;
  pairingPollMs: number;
  /** Background re-hash of the stored content: period, and the read rate it may use (agent/verify.ts). */
  verifyIntervalMs: number;
  verifyBytesPerSecond: number;
  /** Shell commands for the device-level commands; null = not supported on this device. */
  hooks: { reboot: string | null; restartAgent: string | null; screenshot: string | null };
  logLevel: string;
  /** Lab only: links to a non-loopback server without TLS are allowed (`allowPlaintext` in the file, AGENT_ALLOW_PLAINTEXT=1). */
  allowPlaintext: boolean;
  /** The release installation (`/opt/kiosk`: releases/, current, bin/kiosk-boot), set by the boot guard; null = no over-the-air updates. */
  releaseRoot: string | null;
  /** How long a new release has to prove itself before the previous one comes back (docs/releases.md). */
  updateProveMs: number;
  /** The browser's heartbeat is one of a new release's proofs (AGENT_UPDATE_HEARTBEAT=1: a kiosk with a screen; the release unit sets it). */
  updateNeedsHeartbeat: boolean;
}

/** Default sync time: nightly between 01:00 and 04:59 at a minute derived from the device id, so a fleet does not pull at once. */
export function defaultSyncCron(deviceId: string): string {
  const h = createHash('sha256').update(deviceId).digest();
  const minute = (h[0] ?? 0) % 60;
  const hour = 1 + ((h[1] ?? 0) % 4);
  return `${minute} ${hour} * * *`;
}

export function defaultUiDir(): string {
  // A path, not an import: the kiosk page is another part of the system (architecture test).
  return resolve(dirname(fileURLToPath(import.meta.url)), '..', 'kiosk-ui', 'dist');
}

type Env = Record<string, string | undefined>;

function num(env: Env, name: string): number | undefined {
  const raw = env[name];
  if (raw === undefined || raw === '') return undefined;
  const value = Number(raw);
  if (!Number.isFinite(value)) {
    throw new AgentConfigError([`environment variable ${name} must be a number, got ${JSON.stringify(raw)}.`]);
  }
  return value;
}

/** AGENT_HEALTH_SEND_INTERVAL_S when not set (and AGENT_HEALTH_INTERVAL_MS is not either): a quarter of an hour. */
export const DEFAULT_HEALTH_SEND_INTERVAL_S = 900;

/** The health send interval and the MQTT keepalive (see AgentConfig), checked. */
function linkTimings(env: Env, healthIntervalMs: number | null): { healthSendIntervalMs: number; mqttKeepaliveS: number } {
  const problems: string[] = [];
  const maxS = LIMITS.maxHealthSendIntervalS;
  const sendMsEnv = num(env, 'AGENT_HEALTH_SEND_INTERVAL_MS');
  const sendS = num(env, 'AGENT_HEALTH_SEND_INTERVAL_S');
  if (sendS !== undefined && !(Number.isInteger(sendS) && sendS >= 0 && sendS <= maxS)) {
    problems.push(
      `environment variable AGENT_HEALTH_SEND_INTERVAL_S must be a whole number of seconds from 0 to ${maxS} (the server's offline rule counts on it), got ${sendS}.`,
    );
  }
  if (sendMsEnv !== undefined && !(sendMsEnv >= 0 && sendMsEnv <= maxS * 1000)) {
    problems.push(`environment variable AGENT_HEALTH_SEND_INTERVAL_MS must be from 0 to ${maxS * 1000}, got ${sendMsEnv}.`);
  }
  const healthSendIntervalMs =
    sendMsEnv ?? (sendS !== undefined ? sendS * 1000 : healthIntervalMs !== null ? 0 : DEFAULT_HEALTH_SEND_INTERVAL_S * 1000);
  const keepalive = num(env, 'AGENT_MQTT_KEEPALIVE_S');
  // MQTT's keepalive is a 16-bit count of seconds; below 10 s it costs more than it tells.
  if (keepalive !== undefined && !(Number.isInteger(keepalive) && keepalive >= 10 && keepalive <= 65_535)) {
    problems.push(
      `environment variable AGENT_MQTT_KEEPALIVE_S must be a whole number of seconds from 10 to 65535, got ${keepalive}.`,
    );
  }
  if (problems.length > 0) throw new AgentConfigError(problems);
  return {
    healthSendIntervalMs,
    mqttKeepaliveS: keepalive ?? Math.max(1200, Math.ceil(healthSendIntervalMs / 1000) + 300),
  };
}

function str(env: Env, name: string): string | undefined {
  const raw = env[name];
  return raw === undefined || raw === '' ? undefined : raw;
}

/** A config that cannot be used: one sentence per problem, each naming the field (or variable) and the file. */
export class AgentConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(problems.join('\n'));
    this.name = 'AgentConfigError';
  }
}

/** Fields whose values are never repeated in a message. */
const SECRET_FIELDS = new Set(['secret', 'manifestKey', 'rootKey', 'caPem']);

/** One sentence for a zod issue: where, which field, what is wrong (and the value, when it is short and not secret). */
function issueSentence(issue: z.core.$ZodIssue, where: (field: string) => string): string {
  const field = issue.path.map(String).join('.');
  const input = (issue as { input?: unknown }).input;
  const missing = issue.code === 'invalid_type' && input === undefined;
  const what = missing
    ? `is missing (${issue.message.replace(/^Invalid input: /, '').replace(/, received undefined$/, '')})`
    : `is invalid: ${issue.message.charAt(0).toLowerCase()}${issue.message.slice(1)}`;
  const shown =
    !missing && !SECRET_FIELDS.has(field) && (typeof input === 'number' || (typeof input === 'string' && input.length <= 60))
      ? ` (got ${JSON.stringify(input)})`
      : '';
  return field ? `${where(field)}: field "${field}" ${what}${shown}.` : `${where(field)}: ${what}${shown}.`;
}

function parseOrExplain<T>(schema: z.ZodType<T>, value: unknown, where: (field: string) => string): T {
  const parsed = schema.safeParse(value, { reportInput: true });
  if (parsed.success) return parsed.data;
  throw new AgentConfigError(parsed.error.issues.map((issue) => issueSentence(issue, where)));
}

/** Builds the config from a parsed file object and the environment (env wins over the file). */
export function parseAgentConfig(file: unknown, env: Env, configPath: string | null): AgentConfig {
  const fileName = configPath ?? 'the agent config';
  const inFile = (): string => fileName;
  if (file === null || typeof file !== 'object' || Array.isArray(file)) {
    throw new AgentConfigError([`${fileName}: must hold a JSON object, not ${file === null ? 'null' : typeof file}.`]);
  }
  const raw = file as Record<string, unknown>;
  const enrolled = 'deviceId' in raw;
  if (!enrolled && raw.serverUrl === undefined && !str(env, 'AGENT_SERVER_URL')) {
    throw new AgentConfigError([
      `${fileName}: holds neither an enrollment (field "deviceId" and the rest) nor a field "serverUrl" to pair with.`,
    ]);
  }
  let enrollment: EnrollResponse | null = null;
  let base: { dataDir: string; kioskPort: number } & Partial<AgentSettings>;
  let serverUrl: string | null = typeof raw.serverUrl === 'string' ? raw.serverUrl : null;
  if (enrolled) {
    const parsed = parseOrExplain(AgentConfigFile, raw, inFile);
    const { deviceId, secret, siteId, mqttUrl, apiUrl, manifestKey, rootKey } = parsed;
    // No rootKey: enrolled before keys documents; the pinned manifestKey is then the root too (DESIGN §7).
    enrollment = { deviceId, secret, siteId, mqttUrl, apiUrl, manifestKey, ...(rootKey ? { rootKey } : {}) };
    // The CA pinned for MQTT over TLS and HTTPS (docs/deployment.md); absent in enrollments made before TLS.
    if (parsed.caPem) enrollment.caPem = parsed.caPem;
    if (parsed.caFingerprint) enrollment.caFingerprint = parsed.caFingerprint;
    base = parsed;
    serverUrl ??= apiUrl;
  } else {
    base = parseOrExplain(UnenrolledConfigFile, { ...raw, serverUrl: str(env, 'AGENT_SERVER_URL') ?? raw.serverUrl }, (f) =>
      f === 'serverUrl' && str(env, 'AGENT_SERVER_URL') ? 'environment variable AGENT_SERVER_URL' : fileName,
    );
    serverUrl = str(env, 'AGENT_SERVER_URL') ?? serverUrl;
  }
  if (enrollment) {
    enrollment.mqttUrl = str(env, 'AGENT_MQTT_URL') ?? enrollment.mqttUrl;
    enrollment.apiUrl = str(env, 'AGENT_API_URL') ?? enrollment.apiUrl;
  }
  const settingsEnv: Record<string, string> = {
    healthIntervalS: 'AGENT_HEALTH_INTERVAL_S',
    syncCron: 'AGENT_SYNC_CRON',
    downloadWindow: 'AGENT_DOWNLOAD_WINDOW',
    bandwidthLimit: 'AGENT_BANDWIDTH_LIMIT',
  };
  const settings = parseOrExplain(
    DeviceSettings,
    {
      healthIntervalS: num(env, 'AGENT_HEALTH_INTERVAL_S') ?? base.healthIntervalS,
      syncCron: str(env, 'AGENT_SYNC_CRON') ?? base.syncCron,
      downloadWindow: str(env, 'AGENT_DOWNLOAD_WINDOW') ?? base.downloadWindow,
      bandwidthLimit: num(env, 'AGENT_BANDWIDTH_LIMIT') ?? base.bandwidthLimit,
    },
    (f) => {
      const variable = settingsEnv[f];
      return variable && str(env, variable) ? `environment variable ${variable}` : fileName;
    },
  );
  const cfgDir = configPath ? dirname(resolve(configPath)) : process.cwd();
  const dataDir = str(env, 'AGENT_DATA_DIR') ?? base.dataDir;
  return {
    enrollment,
    serverUrl,
    configPath,
    // A relative dataDir in the file is relative to the file, so the unit's working directory does not matter.
    dataDir: str(env, 'AGENT_DATA_DIR') ? resolve(dataDir) : resolve(cfgDir, dataDir),
    kioskPort: num(env, 'AGENT_KIOSK_PORT') ?? base.kioskPort,
    uiDir: resolve(str(env, 'AGENT_UI_DIR') ?? defaultUiDir()),
    settings: {
      healthIntervalS: settings.healthIntervalS ?? 60,
      syncCron: settings.syncCron ?? defaultSyncCron(enrollment?.deviceId ?? 'unenrolled'),
      downloadWindow: settings.downloadWindow ?? null,
      bandwidthLimit: settings.bandwidthLimit ?? null,
    },
    healthIntervalMs: num(env, 'AGENT_HEALTH_INTERVAL_MS') ?? null,
    ...linkTimings(env, num(env, 'AGENT_HEALTH_INTERVAL_MS') ?? null),
    queueLimit: num(env, 'AGENT_QUEUE_LIMIT') ?? 10_000,
    diskReserveBytes: (num(env, 'AGENT_DISK_RESERVE_MB') ?? 64) * 2 ** 20,
    reconnectCapMs: (num(env, 'AGENT_RECONNECT_CAP_S') ?? 300) * 1000,
    syncJitterMs: (num(env, 'AGENT_SYNC_JITTER_S') ?? 120) * 1000,
    pairingPollMs: num(env, 'AGENT_PAIRING_POLL_MS') ?? 5000,
    verifyIntervalMs: num(env, 'AGENT_VERIFY_INTERVAL_MS') ?? (num(env, 'AGENT_VERIFY_INTERVAL_H') ?? 24) * 3_600_000,
    verifyBytesPerSecond: (num(env, 'AGENT_VERIFY_RATE_MB') ?? 16) * 2 ** 20,
    hooks: {
      reboot: str(env, 'AGENT_REBOOT_CMD') ?? 'systemctl reboot',
      restartAgent: str(env, 'AGENT_RESTART_CMD') ?? null,
      screenshot: str(env, 'AGENT_SCREENSHOT_CMD') ?? null,
    },
    logLevel: str(env, 'LOG_LEVEL') ?? 'info',
    allowPlaintext: str(env, 'AGENT_ALLOW_PLAINTEXT') === '1' || raw.allowPlaintext === true,
    releaseRoot: str(env, 'KIOSK_ROOT') ?? null,
    updateProveMs: (num(env, 'AGENT_UPDATE_PROVE_S') ?? 600) * 1000,
    updateNeedsHeartbeat: str(env, 'AGENT_UPDATE_HEARTBEAT') === '1',
  };
}

/** Reads the config file named by `--config` (or AGENT_CONFIG) and applies the environment. */
export function loadAgentConfig(argv: string[], env: Env): AgentConfig {
  const i = argv.indexOf('--config');
  const path = i >= 0 ? argv[i + 1] : str(env, 'AGENT_CONFIG');
  if (!path) throw new AgentConfigError(['usage: kiosk-agent --config FILE (or AGENT_CONFIG=FILE).']);
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new AgentConfigError([`${path}: cannot be read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}).`]);
  }
  let file: unknown;
  try {
    file = JSON.parse(text);
  } catch (err) {
    throw new AgentConfigError([`${path}: is not valid JSON (${(err as Error).message}).`]);
  }
  return parseAgentConfig(file, env, path);
}
