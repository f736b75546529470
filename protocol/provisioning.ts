/**
 * Provisioning shapes between the technicians' CLI (or the dashboard) and the server (DESIGN §6): enrollment
 * tokens, pairing claims, and the per-row report of CSV imports. Enrollment and pairing polls are in http.ts.
 */
import { z } from 'zod';
import { DeviceId, DeviceKind, Id } from './domain.js';
import { DeviceFacts } from './http.js';

/** `POST /api/v1/enrollment-tokens`. */
export const EnrollmentTokensRequest = z.object({
  siteId: Id,
  kind: DeviceKind.default('kiosk'),
  ttlHours: z
    .number()
    .positive()
    .max(24 * 90)
    .default(72),
  count: z.number().int().min(1).max(200).default(1),
});
export type EnrollmentTokensRequest = z.infer<typeof EnrollmentTokensRequest>;

/** One created token: the secret `token` appears here only, once. */
export const CreatedEnrollmentToken = z.object({
  id: Id,
  token: z.string().min(8).max(200),
  siteId: Id,
  kind: DeviceKind,
  expiresAt: z.iso.datetime({ offset: true }),
  /** What the QR code holds: `<publicUrl>/enroll#token=<token>`. */
  enrollUrl: z.string().url(),
  qrSvgUrl: z.string().url(),
  qrPngUrl: z.string().url(),
});
export type CreatedEnrollmentToken = z.infer<typeof CreatedEnrollmentToken>;

export const EnrollmentTokensCreated = z.object({ tokens: z.array(CreatedEnrollmentToken) });
export type EnrollmentTokensCreated = z.infer<typeof EnrollmentTokensCreated>;

/** `POST /api/v1/pairing/claim`: a person assigns the kiosk showing `code` to a site. */
export const PairingClaimRequest = z.object({ code: z.string().min(4).max(20), siteId: Id, kind: DeviceKind.optional() });
export type PairingClaimRequest = z.infer<typeof PairingClaimRequest>;

export const PairingClaimed = z.object({
  code: z.string(),
  deviceId: DeviceId,
  siteId: Id,
  kind: DeviceKind,
  facts: DeviceFacts,
});
export type PairingClaimed = z.infer<typeof PairingClaimed>;

export const IMPORT_ACTIONS = ['created', 'updated', 'rejected'] as const;

/** One CSV row's outcome; `line` is the file's line number, `reason` names the problem of a rejected row. */
export const ImportRow = z.object({
  line: z.number().int().positive(),
  id: z.string().nullable(),
  action: z.enum(IMPORT_ACTIONS),
  reason: z.string().optional(),
});
export type ImportRow = z.infer<typeof ImportRow>;

/** `POST /api/v1/sites/import`, `POST /api/v1/devices/import`: 200, or 422 when nothing was written. */
export const ImportReport = z.object({
  /** False when nothing was written (atomic import with rejected rows, or no valid row). */
  applied: z.boolean(),
  created: z.number().int().nonnegative(),
  updated: z.number().int().nonnegative(),
  rejected: z.number().int().nonnegative(),
  rows: z.array(ImportRow),
});
export type ImportReport = z.infer<typeof ImportReport>;
