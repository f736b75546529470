/**
 * Every MQTT topic of the fleet (DESIGN §5). This file is the only place topic strings are written:
 * everything else builds and parses them through these functions.
 */
import { Id } from './domain.js';

export const TOPIC_ROOT = 'fleet/v1/devices';

/** Suffixes a device publishes (device → server). */
export const DEVICE_PUBLISH = ['status', 'health', 'sync', 'stats', 'events', 'release'] as const;
/** Suffixes a device subscribes to (server → device). */
export const DEVICE_SUBSCRIBE = ['commands', 'manifest'] as const;

export type DevicePublishKind = (typeof DEVICE_PUBLISH)[number];
export type DeviceSubscribeKind = (typeof DEVICE_SUBSCRIBE)[number];

export type DeviceTopic =
  | { deviceId: string; kind: DevicePublishKind }
  | { deviceId: string; kind: DeviceSubscribeKind }
  | { deviceId: string; kind: 'commandResult'; commandId: string };

const MAX_TOPIC_LENGTH = 256;

function segment(value: string, what: string): string {
  const parsed = Id.safeParse(value);
  if (!parsed.success) throw new Error(`invalid ${what} for a topic: ${JSON.stringify(value)}`);
  return value;
}

export const topics = {
  base: (deviceId: string) => `${TOPIC_ROOT}/${segment(deviceId, 'device id')}`,
  status: (deviceId: string) => `${topics.base(deviceId)}/status`,
  health: (deviceId: string) => `${topics.base(deviceId)}/health`,
  sync: (deviceId: string) => `${topics.base(deviceId)}/sync`,
  stats: (deviceId: string) => `${topics.base(deviceId)}/stats`,
  events: (deviceId: string) => `${topics.base(deviceId)}/events`,
  release: (deviceId: string) => `${topics.base(deviceId)}/release`,
  commands: (deviceId: string) => `${topics.base(deviceId)}/commands`,
  commandResult: (deviceId: string, commandId: string) =>
    `${topics.base(deviceId)}/commands/${segment(commandId, 'command id')}/result`,
  manifest: (deviceId: string) => `${topics.base(deviceId)}/manifest`,
  /** Subscriptions the server makes to hear every device (wildcards are for the server only). */
  serverSubscriptions: () => [...DEVICE_PUBLISH.map((kind) => `${TOPIC_ROOT}/+/${kind}`), `${TOPIC_ROOT}/+/commands/+/result`],
} as const;

/**
 * Parses a concrete topic (no wildcards) into its device and kind, or returns null when it is not
 * a fleet topic. When `ownerId` is given, a topic of any other device is also rejected.
 */
export function parseTopic(topic: string, ownerId?: string): DeviceTopic | null {
  if (topic.length === 0 || topic.length > MAX_TOPIC_LENGTH) return null;
  const prefix = `${TOPIC_ROOT}/`;
  if (!topic.startsWith(prefix)) return null;
  const parts = topic.slice(prefix.length).split('/');
  const [deviceId, kind, commandId, tail, ...extra] = parts;
  if (deviceId === undefined || kind === undefined || extra.length > 0) return null;
  if (!Id.safeParse(deviceId).success) return null;
  if (ownerId !== undefined && deviceId !== ownerId) return null;
  if (commandId === undefined) {
    if ((DEVICE_PUBLISH as readonly string[]).includes(kind)) return { deviceId, kind: kind as DevicePublishKind };
    if ((DEVICE_SUBSCRIBE as readonly string[]).includes(kind)) return { deviceId, kind: kind as DeviceSubscribeKind };
    return null;
  }
  if (kind === 'commands' && tail === 'result' && Id.safeParse(commandId).success) {
    return { deviceId, kind: 'commandResult', commandId };
  }
  return null;
}

/** A topic a device publishes on (device → server). */
export type DevicePublishTopic = Exclude<DeviceTopic, { kind: DeviceSubscribeKind }>;

/**
 * `topic` parsed, when `deviceId` may publish on it (its own device → server topics only); else null. The
 * broker parses a publish's topic once, here, and hands the result on to what stores the message.
 */
export function devicePublishTopic(deviceId: string, topic: string): DevicePublishTopic | null {
  const parsed = parseTopic(topic, deviceId);
  if (!parsed) return null;
  return parsed.kind === 'commandResult' || (DEVICE_PUBLISH as readonly string[]).includes(parsed.kind)
    ? (parsed as DevicePublishTopic)
    : null;
}

/** True when `deviceId` may publish on `topic` (its own device → server topics only). */
export function mayDevicePublish(deviceId: string, topic: string): boolean {
  return devicePublishTopic(deviceId, topic) !== null;
}

/** True when `deviceId` may subscribe to `filter` (exactly its own `commands` or `manifest`; no wildcards). */
export function mayDeviceSubscribe(deviceId: string, filter: string): boolean {
  const parsed = parseTopic(filter, deviceId);
  return parsed !== null && (DEVICE_SUBSCRIBE as readonly string[]).includes(parsed.kind);
}
