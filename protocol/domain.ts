import { z } from 'zod';
import { LIMITS } from './limits.js';

/** Identifier used as a topic segment: no wildcards, no separators, bounded. */
export const Id = z
  .string()
  .min(1)
  .max(LIMITS.maxIdLength)
  .regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, 'must be letters, digits, ".", "_" or "-"');
export type Id = z.infer<typeof Id>;

export const DeviceId = Id;
export type DeviceId = Id;

/** A count or sequence number: non-negative safe integer. */
export const Seq = z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER);

/** Milliseconds since the Unix epoch. */
export const EpochMs = z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER);

/** A calendar day, YYYY-MM-DD. */
export const Day = z.iso.date();

/** A BCP 47 language tag (vi, jra, bdq, en, lo, km, zh-Hant-TW, …). */
export const LangTag = z
  .string()
  .max(35)
  .regex(/^[A-Za-z]{2,8}(-[A-Za-z0-9]{1,8})*$/, 'must be a BCP 47 language tag');

export const ShortText = z.string().max(LIMITS.shortText);
export const LongText = z.string().max(LIMITS.longText);

export const SITE_KINDS = ['district', 'commune', 'station', 'gate', 'office'] as const;
export const SiteKind = z.enum(SITE_KINDS);
export type SiteKind = z.infer<typeof SiteKind>;

export const DEVICE_KINDS = ['kiosk', 'display', 'pc', 'speaker', 'other'] as const;
export const DeviceKind = z.enum(DEVICE_KINDS);
export type DeviceKind = z.infer<typeof DeviceKind>;

export const DEVICE_STATUSES = ['registered', 'provisioned', 'active', 'decommissioned'] as const;
export const DeviceStatus = z.enum(DEVICE_STATUSES);
export type DeviceStatus = z.infer<typeof DeviceStatus>;

export const ROLES = ['admin', 'department', 'editor', 'approver', 'technician'] as const;
export const Role = z.enum(ROLES);
export type Role = z.infer<typeof Role>;

export const CONTENT_KINDS = ['document', 'video', 'image', 'audio', 'bulletin', 'leaflet', 'webpage'] as const;
export const ContentKind = z.enum(CONTENT_KINDS);
export type ContentKind = z.infer<typeof ContentKind>;

export const COMMAND_STATES = ['queued', 'sent', 'acked', 'succeeded', 'failed', 'expired'] as const;
export const CommandState = z.enum(COMMAND_STATES);
export type CommandState = z.infer<typeof CommandState>;

export const Sha256Hex = z.string().regex(/^[0-9a-f]{64}$/, 'must be a lowercase hex sha256');
