/** The contract's value schemas. Their lists (site kinds, roles, …) are defined in constants.ts, which has no zod. */
import { z } from 'zod';
import { COMMAND_STATES, CONTENT_KINDS, DEVICE_KINDS, DEVICE_STATUSES, ROLES, SITE_KINDS } from './constants.js';
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

export const SiteKind = z.enum(SITE_KINDS);
export type SiteKind = z.infer<typeof SiteKind>;

export const DeviceKind = z.enum(DEVICE_KINDS);
export type DeviceKind = z.infer<typeof DeviceKind>;

export const DeviceStatus = z.enum(DEVICE_STATUSES);
export type DeviceStatus = z.infer<typeof DeviceStatus>;

export const Role = z.enum(ROLES);
export type Role = z.infer<typeof Role>;

export const ContentKind = z.enum(CONTENT_KINDS);
export type ContentKind = z.infer<typeof ContentKind>;

export const CommandState = z.enum(COMMAND_STATES);
export type CommandState = z.infer<typeof CommandState>;

export const Sha256Hex = z.string().regex(/^[0-9a-f]{64}$/, 'must be a lowercase hex sha256');
