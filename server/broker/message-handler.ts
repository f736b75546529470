/**
 * What happens to one device publish: validate with the protocol schemas, then hand the write to the
 * group-commit writer. The returned promise settles when the write is committed (the broker acknowledges
 * then); a bad payload is dropped, counted and logged at most once per device per minute, and resolves at
 * once so the device does not retransmit it forever. Never throws into the broker.
 */
import type { Logger } from 'pino';
import type { z } from 'zod';
import {
  CommandResultMessage,
  type DevicePublishTopic,
  EventMessage,
  HealthMessage,
  LIMITS,
  ReleaseReport,
  StatsMessage,
  StatusMessage,
  SyncMessage,
} from '../../protocol/index.js';
import type { ServerMetrics } from '../http/metrics.js';
import type { DeviceDataRepo } from '../ingest/device-data-repo.js';
import type { GroupCommitWriter } from '../ingest/group-commit.js';

/** A device clock further than this from ours raises a device event. */
export const CLOCK_SKEW_LIMIT_MS = 5 * 60_000;
const SKEW_EVENT_EVERY_MS = 3_600_000;
const BAD_PAYLOAD_LOG_EVERY_MS = 60_000;
/**
 * last_seen is written at most this often per device: presence is judged against OFFLINE_AFTER (≥ 1 h) and
 * shown to the minute. Each write moves the device's row and its index entries (random pages: at 10 000 kiosks
 * nearly every touch dirties pages of its own, docs/performance.md "What costs per connection").
 */
const TOUCH_EVERY_MS = 60_000;

export interface MessageHandlerDeps {
  writer: GroupCommitWriter;
  data: DeviceDataRepo;
  metrics: ServerMetrics;
  log: Logger;
  now?: () => number;
  /** Stores a `release` report inside the group commit (server/releases/); bound once the release service exists. */
  releaseReport?: (deviceId: string, message: ReleaseReport, received: number) => void;
}

export function createMessageHandler(deps: MessageHandlerDeps) {
  const { writer, data, metrics, log } = deps;
  const now = deps.now ?? Date.now;
  const lastBadLog = new Map<string, number>();
  const lastSkewEvent = new Map<string, number>();
  const lastTouch = new Map<string, number>();

  function drop(deviceId: string, kind: string, reason: string, detail?: string): Promise<void> {
    metrics.badPayloads.inc({ kind, reason });
    const t = now();
    if ((lastBadLog.get(deviceId) ?? 0) + BAD_PAYLOAD_LOG_EVERY_MS <= t) {
      lastBadLog.set(deviceId, t);
      log.warn(
        { deviceId, kind, reason, detail },
        'dropped a bad payload (further ones from this device are not logged for a minute)',
      );
    }
    return Promise.resolve();
  }

  function parse<S extends z.ZodType>(deviceId: string, kind: string, schema: S, payload: Buffer): z.infer<S> | null {
    let json: unknown;
    try {
      json = JSON.parse(payload.toString('utf8'));
    } catch {
      void drop(deviceId, kind, 'invalid_json');
      return null;
    }
    const parsed = schema.safeParse(json);
    if (!parsed.success) {
      void drop(deviceId, kind, 'invalid_schema', parsed.error.issues[0]?.message);
      return null;
    }
    return parsed.data;
  }

  /** Adds a clock-skew event to this write when the device's clock is off, once per device per hour. */
  function skewCheck(deviceId: string, deviceTs: number, received: number): (() => void) | null {
    const skew = deviceTs - received;
    if (Math.abs(skew) <= CLOCK_SKEW_LIMIT_MS) return null;
    if ((lastSkewEvent.get(deviceId) ?? Number.NEGATIVE_INFINITY) + SKEW_EVENT_EVERY_MS > received) return null;
    lastSkewEvent.set(deviceId, received);
    return () =>
      data.event(
        deviceId,
        'server',
        {
          type: 'clock_skew',
          severity: 'warning',
          message: `device clock is ${Math.round(skew / 1000)} s off the server's`,
          ts: deviceTs,
        },
        received,
      );
  }

  function touchDue(deviceId: string, t: number): boolean {
    if ((lastTouch.get(deviceId) ?? 0) + TOUCH_EVERY_MS > t) return false;
    lastTouch.set(deviceId, t);
    return true;
  }

  /** Handles one publish of `deviceId` on `topic` (authorized and parsed by the broker: devicePublishTopic). */
  function handle(deviceId: string, topic: DevicePublishTopic, payload: Buffer): Promise<void> {
    const kind = topic.kind;
    metrics.messagesIn.inc({ kind });
    if (payload.length > LIMITS.maxPayloadBytes) return drop(deviceId, kind, 'too_large', `${payload.length} bytes`);
    const received = now();
    const touch = touchDue(deviceId, received);

    switch (topic.kind) {
      case 'health': {
        const message = parse(deviceId, kind, HealthMessage, payload);
        if (!message) return Promise.resolve();
        // Buffered samples are legitimately old; only the newest one, and only a clock ahead of ours,
        // proves a wrong clock from health alone (status messages, sent live, check both ways).
        const newest = message.samples.reduce((a, b) => (b.ts > a.ts ? b : a));
        const skew = newest.ts > received + CLOCK_SKEW_LIMIT_MS ? skewCheck(deviceId, newest.ts, received) : null;
        return writer.submit(message.samples.length, () => {
          data.insertHealth(deviceId, message.samples, received);
          if (touch) data.touch(deviceId, received);
          skew?.();
        });
      }
      case 'status': {
        const message = parse(deviceId, kind, StatusMessage, payload);
        if (!message) return Promise.resolve();
        const skew = message.online ? skewCheck(deviceId, message.ts, received) : null;
        return writer.submit(1, () => {
          data.status(deviceId, message, received);
          skew?.();
        });
      }
      case 'events': {
        const message = parse(deviceId, kind, EventMessage, payload);
        if (!message) return Promise.resolve();
        return writer.submit(1, () => {
          data.event(deviceId, 'device', message, received);
          if (touch) data.touch(deviceId, received);
        });
      }
      case 'sync': {
        const message = parse(deviceId, kind, SyncMessage, payload);
        if (!message) return Promise.resolve();
        return writer.submit(1, () => {
          data.sync(deviceId, message, received);
          if (touch) data.touch(deviceId, received);
        });
      }
      case 'stats': {
        const message = parse(deviceId, kind, StatsMessage, payload);
        if (!message) return Promise.resolve();
        return writer.submit(message.days.length, () => {
          data.stats(deviceId, message);
          if (touch) data.touch(deviceId, received);
        });
      }
      case 'release': {
        const message = parse(deviceId, kind, ReleaseReport, payload);
        if (!message) return Promise.resolve();
        return writer.submit(1, () => {
          deps.releaseReport?.(deviceId, message, received);
          if (touch) data.touch(deviceId, received);
        });
      }
      case 'commandResult': {
        const message = parse(deviceId, kind, CommandResultMessage, payload);
        if (!message) return Promise.resolve();
        if (message.id !== topic.commandId) return drop(deviceId, kind, 'id_mismatch');
        return writer.submit(1, () => {
          data.commandResult(deviceId, message, received);
          if (touch) data.touch(deviceId, received);
        });
      }
      default: {
        const unreachable: never = topic;
        return drop(deviceId, String(unreachable), 'unknown_topic');
      }
    }
  }

  return { handle };
}
export type MessageHandler = ReturnType<typeof createMessageHandler>;
