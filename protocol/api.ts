/**
 * Response (and request) shapes of the human API that the dashboard reads, each defined once: the server route
 * builds its answer through `.parse` of the schema, the page takes its types from `z.infer`. (The device-facing
 * shapes are in manifest.ts, messages.ts and local.ts.)
 */
import { z } from 'zod';
import { ContentKind, EpochMs, Id, LangTag, Role, SiteKind } from './domain.js';
import { UI_LABEL_KEYS, UI_LABEL_PLACEHOLDERS, type UiLabelKey } from './ui-labels.js';

const Lat = z.number().min(-90).max(90);
const Lon = z.number().min(-180).max(180);

// ---- Sites -------------------------------------------------------------------------------------------------

/** A site as `GET/PATCH /api/v1/sites/:id` answer it. */
export const SiteOut = z.object({
  id: Id,
  kind: SiteKind,
  name: z.string(),
  parentId: Id.nullable(),
  border: z.boolean(),
  adminCode: z.string().nullable(),
  lat: Lat.nullable(),
  lon: Lon.nullable(),
  /** The coordinates are an estimate (the commune's centre, a point read off a map), not a surveyed position. */
  coordApprox: z.boolean(),
  validFrom: z.string().nullable(),
  validTo: z.string().nullable(),
  note: z.string().nullable(),
});
export type SiteOut = z.infer<typeof SiteOut>;

/** `PATCH /api/v1/sites/:id` (department, admin): lat and lon together, or both null to clear them. */
export const SitePatch = z
  .strictObject({
    lat: Lat.nullable(),
    lon: Lon.nullable(),
    coordApprox: z.boolean(),
    name: z.string().min(1).max(200),
    note: z.string().max(2000).nullable(),
  })
  .partial()
  .refine((v) => Object.keys(v).length > 0, 'nothing to change')
  .refine((v) => (v.lat === undefined) === (v.lon === undefined), 'lat and lon are set together')
  .refine((v) => (v.lat === null) === (v.lon === null), 'lat and lon are both numbers or both null');
export type SitePatch = z.infer<typeof SitePatch>;

// ---- Map -------------------------------------------------------------------------------------------------

/** `GET /api/v1/map/base`: a pre-projected base map (SVG path data in the frame's pixel space). */
export const MapBase = z.object({
  width: z.number().int().positive(),
  height: z.number().int().positive(),
  /** The projection the paths and `project` use, so the page places sites the same way. */
  projection: z.object({
    kind: z.literal('mercator'),
    scale: z.number(),
    translate: z.tuple([z.number(), z.number()]),
  }),
  /** [[west, south], [east, north]] in degrees: what the frame shows. */
  bounds: z.tuple([z.tuple([Lon, Lat]), z.tuple([Lon, Lat])]),
  countries: z.array(z.object({ id: z.string(), name: z.string(), path: z.string() })),
  /** The national borders between the named countries (Vietnam–Cambodia, Vietnam–Laos, …). */
  borders: z.array(z.object({ between: z.tuple([z.string(), z.string()]), path: z.string() })),
  /** The province's outline, when a packaged dataset has it (Natural Earth admin-0 does not: null). */
  province: z.object({ name: z.string(), path: z.string() }).nullable(),
  /** Where the data comes from, shown on the map. */
  source: z.string(),
  /** Sites of the registry with coordinates, projected into the frame. */
  sites: z.array(z.object({ id: Id, name: z.string(), kind: SiteKind, x: z.number(), y: z.number(), approx: z.boolean() })),
});
export type MapBase = z.infer<typeof MapBase>;

// ---- Interface labels --------------------------------------------------------------------------------------

const labelText = z.string().min(1).max(500);
/** The labels of one language: only keys of kiosk-ui's i18n, each with exactly the placeholders it takes. */
export const UiLabelSetSchema = z
  .partialRecord(z.enum(UI_LABEL_KEYS as [UiLabelKey, ...UiLabelKey[]]), labelText)
  .superRefine((labels, ctx) => {
    for (const [key, text] of Object.entries(labels) as [UiLabelKey, string][]) {
      const wanted = UI_LABEL_PLACEHOLDERS[key] as readonly string[];
      const used = [...text.matchAll(/\{(\w+)\}/g)].map((m) => m[1] as string);
      for (const name of used)
        if (!wanted.includes(name))
          ctx.addIssue({
            code: 'custom',
            path: [key],
            message: `"{${name}}" is not a placeholder of ${key} (${wanted.join(', ') || 'none'})`,
          });
      for (const name of wanted)
        if (!used.includes(name)) ctx.addIssue({ code: 'custom', path: [key], message: `${key} must contain {${name}}` });
    }
  });

/** `PUT /api/v1/ui-labels/:lang` body. */
export const UiLabelsPut = z.strictObject({ labels: UiLabelSetSchema });

/** `GET/PUT /api/v1/ui-labels/:lang`. */
export const UiLabelsOut = z.object({
  lang: LangTag,
  labels: z.record(z.string(), z.string()),
  /** Every key kiosk-ui has, for the editor's form; a missing one shows in Vietnamese on the kiosk. */
  keys: z.array(z.object({ key: z.string(), placeholders: z.array(z.string()) })),
  missing: z.array(z.string()),
  updatedAt: EpochMs.nullable(),
  updatedBy: z.string().nullable(),
});
export type UiLabelsOut = z.infer<typeof UiLabelsOut>;

/** Languages whose interface labels the department enters: defined in constants.ts (zod-free, for the page). */
export { DEPARTMENT_LABEL_LANGS } from './constants.js';

// ---- Content -----------------------------------------------------------------------------------------------

/** `GET /api/v1/content/:id/diff`: what the latest version changes against the published one. */
export const ContentDiff = z.object({
  itemId: Id,
  /** Null when nothing is published yet (everything is new). */
  publishedVersion: z.number().int().nullable(),
  latestVersion: z.number().int(),
  fields: z.array(z.object({ field: z.string(), before: z.unknown(), after: z.unknown() })),
  translations: z.array(
    z.object({
      lang: LangTag,
      change: z.enum(['added', 'removed', 'changed']),
      fields: z.array(z.object({ field: z.string(), before: z.unknown(), after: z.unknown() })),
    }),
  ),
});
export type ContentDiff = z.infer<typeof ContentDiff>;

/** `GET /api/v1/content/:id/holders`: the devices the published version is meant for and their sync state. */
export const ContentHolders = z.object({
  itemId: Id,
  publishedVersion: z.number().int().nullable(),
  devices: z.array(
    z.object({
      deviceId: Id,
      siteId: Id.nullable(),
      siteName: z.string().nullable(),
      /** The manifest the server issued to it lists this item. */
      issued: z.boolean(),
      /** issuedSeq ≤ appliedSeq: the device applied a manifest that has the item. */
      holds: z.boolean(),
      issuedSeq: z.number().int().nullable(),
      appliedSeq: z.number().int().nullable(),
      syncState: z.string().nullable(),
      syncProblem: z.boolean(),
      lastSeen: EpochMs.nullable(),
    }),
  ),
});
export type ContentHolders = z.infer<typeof ContentHolders>;

/** The reason an approver gave when sending a version back; the editor sees it on the item. */
export const ContentRejection = z.object({
  version: z.number().int(),
  reason: z.string(),
  by: z.string(),
  at: EpochMs,
});
export type ContentRejection = z.infer<typeof ContentRejection>;

export const ContentKindOut = ContentKind;

// ---- Users -------------------------------------------------------------------------------------------------

export const UserOut = z.object({
  id: z.number().int(),
  username: z.string(),
  role: Role,
  disabled: z.boolean(),
  createdAt: EpochMs,
  updatedAt: EpochMs,
});
export type UserOut = z.infer<typeof UserOut>;

/** `POST /api/v1/users/:username/reset-password`: the one-time password is in this answer only. */
export const PasswordReset = z.object({ user: UserOut, password: z.string(), sessionsEnded: z.number().int() });
export type PasswordReset = z.infer<typeof PasswordReset>;

export const ApiTokenOut = z.object({
  id: z.string(),
  name: z.string(),
  createdAt: EpochMs,
  expiresAt: EpochMs.nullable(),
  lastUsedAt: EpochMs.nullable(),
  revokedAt: EpochMs.nullable(),
});
/** `GET /api/v1/users/:username/tokens` (admin). */
export const UserTokens = z.object({ username: z.string(), tokens: z.array(ApiTokenOut) });
export type UserTokens = z.infer<typeof UserTokens>;
