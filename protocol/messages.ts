/** Payloads of every MQTT message of DESIGN §5. One schema per message; the type is inferred from it. */
import { z } from 'zod';
import { Day, EpochMs, Id, LangTag, LongText, Seq, ShortText } from './domain.js';
import { LIMITS } from './limits.js';

const Percent = z.number().min(0).max(100);

/** `status`, retained; also the last will (`online: false`). */
export const StatusMessage = z.object({
  online: z.boolean(),
  ts: EpochMs,
  agentVersion: ShortText,
  bootId: ShortText,
  /** Version of the keys document the kiosk holds (optional; agents before it omit it). docs/deployment.md: who holds a new CA. */
  keysVersion: Seq.optional(),
});
export type StatusMessage = z.infer<typeof StatusMessage>;

export const HealthSample = z.object({
  /** Per device, strictly increasing, survives agent restarts. */
  seq: Seq,
  /** Device clock, ms since epoch. Kiosks often have no real-time clock: the server keeps its own receive time beside it. */
  ts: EpochMs,
  cpuLoad: Percent,
  memUsed: Percent,
  diskUsed: Percent,
  diskFree: z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER),
  tempC: z.number().min(-100).max(200).nullable(),
  uptimeS: z.number().nonnegative().max(Number.MAX_SAFE_INTEGER),
  contentSeq: Seq,
  queueDepth: Seq,
  /** Samples the agent dropped from its full queue since it started counting (optional, agents ≥ 0.1). */
  queueDropped: Seq.optional(),
});
export type HealthSample = z.infer<typeof HealthSample>;

/** `health`: one sample when live, many when flushing what was buffered offline. */
export const HealthMessage = z.object({
  samples: z.array(HealthSample).min(1).max(LIMITS.maxHealthSamples),
});
export type HealthMessage = z.infer<typeof HealthMessage>;

/**
 * `waiting_window`: files are missing and the download window (`downloadWindow`) is closed — before the first byte or
 * paused between pieces; the download goes on when it opens. Servers before it refuse the state (a dropped report).
 */
export const SYNC_STATES = ['downloading', 'waiting_window', 'applied', 'failed'] as const;
export const SyncMessage = z.object({
  manifestSeq: Seq,
  state: z.enum(SYNC_STATES),
  /** Bytes downloaded so far for this manifest. */
  bytes: Seq,
  /** Files still missing (with `applied`: files skipped because the server no longer has them, named in `error`). */
  missing: Seq,
  error: LongText.optional(),
  /**
   * Device clock when the report was made. Optional (agents before it omit it): it tells two real, otherwise
   * identical reports apart from one report resent after a lost PUBACK, which the server counts once.
   */
  ts: EpochMs.optional(),
});
export type SyncMessage = z.infer<typeof SyncMessage>;

export const StatsDay = z.object({
  day: Day,
  itemId: Id,
  lang: LangTag,
  views: Seq,
  seconds: z.number().nonnegative().max(Number.MAX_SAFE_INTEGER),
});
export type StatsDay = z.infer<typeof StatsDay>;

export const StatsMessage = z.object({
  days: z.array(StatsDay).min(1).max(LIMITS.maxStatsDays),
});
export type StatsMessage = z.infer<typeof StatsMessage>;

export const EVENT_SEVERITIES = ['info', 'warning', 'error', 'critical'] as const;
export const EventSeverity = z.enum(EVENT_SEVERITIES);
export type EventSeverity = z.infer<typeof EventSeverity>;

export const EventMessage = z.object({
  type: z.string().min(1).max(64),
  severity: EventSeverity,
  message: LongText,
  ts: EpochMs,
});
export type EventMessage = z.infer<typeof EventMessage>;

/** What `set_config` may change on a device. */
export const DeviceSettings = z
  .object({
    healthIntervalS: z.number().int().min(5).max(86_400),
    /** Cron expression, 5 fields or 6 with seconds first (node-cron's syntax; agents read it with croner). */
    syncCron: z.string().min(9).max(100),
    /** Local time window in which downloads may run, "HH:MM-HH:MM" (may wrap midnight); null = any time. */
    downloadWindow: z
      .string()
      .regex(/^([01]\d|2[0-3]):[0-5]\d-([01]\d|2[0-3]):[0-5]\d$/, 'must be HH:MM-HH:MM')
      .nullable(),
    /** Download rate cap in bytes per second; null = unlimited. */
    bandwidthLimit: z.number().int().min(1024).max(Number.MAX_SAFE_INTEGER).nullable(),
  })
  .partial();
export type DeviceSettings = z.infer<typeof DeviceSettings>;

const EmptyParams = z.object({}).default({});

/** The type-specific part of a command, as a person asks for it (`POST /api/v1/devices/{id}/commands`). */
export const CommandRequest = z.discriminatedUnion('type', [
  z.object({ type: z.literal('sync_now'), params: EmptyParams }),
  z.object({ type: z.literal('reboot'), params: EmptyParams }),
  z.object({ type: z.literal('restart_agent'), params: EmptyParams }),
  z.object({ type: z.literal('set_config'), params: DeviceSettings }),
  z.object({ type: z.literal('screenshot'), params: EmptyParams }),
]);
export type CommandRequest = z.infer<typeof CommandRequest>;
export type CommandType = CommandRequest['type'];
export const COMMAND_TYPES = [
  'sync_now',
  'reboot',
  'restart_agent',
  'set_config',
  'screenshot',
] as const satisfies readonly CommandType[];

/** `commands`: server → device. */
export const CommandMessage = z.intersection(CommandRequest, z.object({ id: Id, issuedAt: EpochMs, expiresAt: EpochMs }));
export type CommandMessage = z.infer<typeof CommandMessage>;

export const COMMAND_RESULT_STATES = ['acked', 'succeeded', 'failed'] as const;
/** `commands/{commandId}/result`: device → server. */
export const CommandResultMessage = z.object({
  id: Id,
  state: z.enum(COMMAND_RESULT_STATES),
  detail: LongText.optional(),
});
export type CommandResultMessage = z.infer<typeof CommandResultMessage>;

/** `manifest`: server → device; a newer manifest exists, pull it. */
export const ManifestNotice = z.object({ seq: Seq });
export type ManifestNotice = z.infer<typeof ManifestNotice>;

export const RELEASE_REPORT_STATES = ['downloading', 'installed', 'switched', 'committed', 'rolled_back', 'failed'] as const;
export type ReleaseReportState = (typeof RELEASE_REPORT_STATES)[number];
/**
 * `release`: device → server, the progress of an over-the-air update (docs/releases.md). One report per step;
 * `ts` (device clock) keeps real repeats apart from a resend after a lost PUBACK, which the server stores once.
 */
export const ReleaseReport = z.object({
  /** The release the report is about. */
  version: ShortText.min(1),
  rolloutId: Id.nullable(),
  state: z.enum(RELEASE_REPORT_STATES),
  /** The release running when the report was made. */
  running: ShortText,
  bytes: Seq.optional(),
  /** Why it failed or was rolled back, in a sentence. */
  reason: LongText.optional(),
  ts: EpochMs,
});
export type ReleaseReport = z.infer<typeof ReleaseReport>;

/** `GET /api/v1/devices/{id}/release`: the release this device should run (the signed release manifest), or none. */
export const DeviceReleaseTarget = z.object({
  rolloutId: Id.nullable(),
  version: ShortText.nullable(),
  /** The signed release manifest exactly as uploaded; the agent verifies it itself (protocol/release.ts). */
  release: z.unknown(),
});
export type DeviceReleaseTarget = z.infer<typeof DeviceReleaseTarget>;
