/**
 * The server's configuration (DESIGN §9): parsed once from the environment, plus an optional JSON file named
 * by `CONFIG_FILE` (environment wins over the file), then passed down. Nothing else reads `process.env`.
 */
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { parseTrustedProxies } from './auth/client-address.js';
import { MIN_OFFLINE_AFTER_MS } from './coverage/fleet-rules.js';

const UNITS_MS = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;

/** `250ms`, `30s`, `5m`, `24h`, `30d`, or a bare number of milliseconds. */
export function parseDuration(text: string): number {
  const match = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$/.exec(text);
  if (!match) throw new Error(`not a duration: ${JSON.stringify(text)} (use e.g. 30s, 5m, 24h, 30d)`);
  return Math.round(Number(match[1]) * UNITS_MS[(match[2] ?? 'ms') as keyof typeof UNITS_MS]);
}

/** BACKUP_RETENTION: a bare whole number is a count of backups, a number with a unit an age. */
export type Retention = { count: number } | { maxAgeMs: number };
export function parseRetention(value: number | string): Retention {
  const text = String(value).trim();
  if (/^\d+$/.test(text)) {
    const count = Number(text);
    if (count < 1) throw new Error('BACKUP_RETENTION: keep at least 1 backup');
    return { count };
  }
  if (!/[a-z]\s*$/.test(text)) throw new Error(`not a retention: ${JSON.stringify(text)} (a count like 14, or an age like 30d)`);
  return { maxAgeMs: parseDuration(text) };
}

const Duration = z.union([z.number().nonnegative(), z.string()]).transform((value, ctx) => {
  if (typeof value === 'number') return value;
  try {
    return parseDuration(value);
  } catch (error) {
    ctx.addIssue({ code: 'custom', message: (error as Error).message });
    return z.NEVER;
  }
});
const Port = z.coerce.number().int().min(0).max(65_535);
const PositiveInt = z.coerce.number().int().positive();

export const ConfigSchema = z.object({
  DATA_DIR: z.string().min(1).default('./data'),
  HTTP_HOST: z.string().min(1).default('0.0.0.0'),
  HTTP_PORT: Port.default(8080),
  MQTT_HOST: z.string().min(1).default('0.0.0.0'),
  MQTT_PORT: Port.default(1883),
  /** What enrollment hands to devices; derived from the HTTP address when absent. */
  PUBLIC_URL: z.url().optional(),
  /** Password of the first admin; generated and printed once when absent. */
  ADMIN_PASSWORD: z.string().min(8).optional(),
  OFFLINE_AFTER: Duration.refine((ms) => ms >= MIN_OFFLINE_AFTER_MS, {
    message: `must be at least ${MIN_OFFLINE_AFTER_MS / UNITS_MS.h}h: twice the longest a kiosk holds its health samples (fleet-rules.ts), or healthy kiosks would show offline`,
  }).default(24 * UNITS_MS.h),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  /** Raw health rows older than this are deleted (once rolled up); hourly roll-ups are kept for HEALTH_HOURLY_RETENTION. */
  HEALTH_RETENTION: Duration.default(30 * UNITS_MS.d),
  /** Hourly health roll-ups older than this are deleted; 0 = kept for ever. */
  HEALTH_HOURLY_RETENTION: Duration.default(730 * UNITS_MS.d),
  /** Device and server events older than this (by receipt) are deleted; 0 = kept for ever. */
  EVENTS_RETENTION: Duration.default(365 * UNITS_MS.d),
  /** Audit records older than this are deleted; 0 = kept for ever. */
  AUDIT_RETENTION: Duration.default(1825 * UNITS_MS.d),
  /** A group commit happens when this many samples wait … */
  INGEST_BATCH_SAMPLES: PositiveInt.default(1000),
  /** … or this long after the first one arrived. */
  INGEST_BATCH_MS: Duration.default(10),
  /** Samples waiting for a commit at most; past it, publishes are not acknowledged until the queue drains. */
  INGEST_QUEUE_LIMIT: PositiveInt.default(20_000),
  /** How often retention, roll-ups, the offline sweep and command expiry run. */
  MAINTENANCE_INTERVAL: Duration.default(60_000),
  /** Past the free failed logins (3 per user name, 10 per address), the wait starts here and doubles per failure … */
  LOGIN_DELAY: Duration.default(1000),
  /** … up to this (docs/server.md, "Login throttling"). */
  LOGIN_MAX_DELAY: Duration.default(60_000),
  /** Failed logins per minute over all names and addresses; past it, untrusted clients get 429 before any hashing. */
  LOGIN_FAILURE_BUDGET: PositiveInt.default(60),
  /** Reverse proxies (addresses or CIDRs, comma-separated) whose X-Forwarded-For is believed; default none. */
  TRUSTED_PROXIES: z
    .union([z.string(), z.array(z.string())])
    .default([])
    .transform((value, ctx) => {
      try {
        return parseTrustedProxies(value);
      } catch (error) {
        ctx.addIssue({ code: 'custom', message: (error as Error).message });
        return z.NEVER;
      }
    }),
  /** A session cookie lives this long. */
  SESSION_TTL: Duration.default(12 * UNITS_MS.h),
  /** A request (headers and body) must be received whole within this; a 2 GiB upload needs about 5 Mbit/s at 1 h. */
  HTTP_REQUEST_TIMEOUT: Duration.default(UNITS_MS.h),
  /** Request headers must be received within this. */
  HTTP_HEADERS_TIMEOUT: Duration.default(20_000),
  /** Largest content upload, in bytes (default 2 GiB). */
  CONTENT_MAX_BYTES: PositiveInt.default(2 * 1024 ** 3),
  /** MQTT over TLS, on MQTT_HOST (docs/deployment.md). */
  MQTTS_PORT: Port.default(8883),
  /** HTTPS (API, dashboard, MQTT over secure WebSocket at /mqtt), on HTTP_HOST. */
  HTTPS_PORT: Port.default(8443),
  /** Plaintext HTTP_PORT and MQTT_PORT: `loopback` = on 127.0.0.1 only, `on` = on HTTP_HOST/MQTT_HOST, `off` = none. */
  PLAINTEXT: z.enum(['loopback', 'on', 'off']).default('loopback'),
  /** Names and addresses the generated server certificate covers besides PUBLIC_URL's host; default localhost, 127.0.0.1, ::1, the host name. */
  TLS_NAMES: z.string().optional(),
  /** The operator's server certificate (PEM, chain leaf first) and key; re-read on SIGHUP. None = the server's own CA. */
  TLS_CERT_FILE: z.string().min(1).optional(),
  TLS_KEY_FILE: z.string().min(1).optional(),
  /** The CA devices pin when the operator gives the certificate (handed out at enrollment). */
  TLS_CA_FILE: z.string().min(1).optional(),
  /** A generated server certificate is re-issued from the same CA this long before it expires. */
  TLS_RENEW_BEFORE: Duration.default(30 * UNITS_MS.d),
  /** Where scheduled backups go (docs/deployment.md, "Backup and restore"); none = no scheduled backups. */
  BACKUP_DIR: z.string().min(1).optional(),
  /** How often a scheduled backup runs (the first one this long after the start, or at once if the last is older). */
  BACKUP_INTERVAL: Duration.default(24 * UNITS_MS.h),
  /** Backups kept: a count (`14`) or an age (`30d`); the newest good one is always kept. */
  BACKUP_RETENTION: z
    .union([z.number(), z.string()])
    .default(14)
    .transform((value, ctx) => {
      try {
        return parseRetention(value);
      } catch (error) {
        ctx.addIssue({ code: 'custom', message: (error as Error).message });
        return z.NEVER;
      }
    }),
  /** When set, `/metrics` wants `Authorization: Bearer <METRICS_TOKEN>`. */
  METRICS_TOKEN: z.string().min(16, 'METRICS_TOKEN: at least 16 characters').optional(),
});

export type ServerConfig = z.infer<typeof ConfigSchema>;

/** Builds the config from an environment (normally `process.env`); throws a readable error when invalid. */
export function loadConfig(env: Record<string, string | undefined>): ServerConfig {
  const fromFile = env.CONFIG_FILE ? (JSON.parse(readFileSync(env.CONFIG_FILE, 'utf8')) as Record<string, unknown>) : {};
  const fromEnv = Object.fromEntries(
    Object.keys(ConfigSchema.shape)
      .filter((key) => env[key] !== undefined && env[key] !== '')
      .map((key) => [key, env[key]]),
  );
  const parsed = ConfigSchema.safeParse({ ...fromFile, ...fromEnv });
  if (!parsed.success) {
    throw new Error(`invalid configuration: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
  }
  return parsed.data;
}

/** A config for tests and tools: everything on 127.0.0.1, ports 0, quiet logs. */
export function testConfig(overrides: Partial<z.input<typeof ConfigSchema>> & { DATA_DIR: string }): ServerConfig {
  return ConfigSchema.parse({
    HTTP_HOST: '127.0.0.1',
    HTTP_PORT: 0,
    MQTT_HOST: '127.0.0.1',
    MQTT_PORT: 0,
    MQTTS_PORT: 0,
    HTTPS_PORT: 0,
    LOG_LEVEL: 'silent',
    ...overrides,
  });
}
