/**
 * Response shapes of the human API that the dashboard reads and protocol/api.ts does not hold: the content
 * library's items, versions and plays (mirrors server/content/library-schemas.ts's ContentItem), and the fleet and
 * coverage answers — plans, coverage, trend, communes, the dashboard's site table, districts, map points, alerts,
 * device events, devices, a device's sync and health. One definition each: the server's route builds or types its
 * answer through the schema (`.parse`, or `satisfies` where the answer is too large to check per request), the page
 * takes the type with `import type` (z.infer). tests/dashboard-api-shapes.test.ts parses real answers with them.
 */
import { z } from 'zod';
import { ContentRejection, SiteOut } from './api.js';
import { ALERT_TYPES, CONTENT_STATES, SITE_STATES } from './constants.js';
import { ContentKind, DeviceKind, DeviceStatus, Id, LangTag, SiteKind } from './domain.js';

export const ContentTargetOut = z.discriminatedUnion('scope', [
  z.object({ scope: z.literal('all') }),
  z.object({ scope: z.literal('site_kind'), kind: SiteKind }),
  z.object({ scope: z.literal('site'), siteId: Id }),
]);
export type ContentTargetOut = z.infer<typeof ContentTargetOut>;

export const ContentFileOut = z.object({ sha256: z.string(), size: z.number().int(), mime: z.string() });

export const ContentTranslationOut = z.object({
  title: z.string(),
  summary: z.string(),
  body: z.string().nullable(),
  file: ContentFileOut.nullable(),
  updatedBy: z.string(),
  updatedAt: z.string(),
});
export type ContentTranslationOut = z.infer<typeof ContentTranslationOut>;

export const ContentVersionOut = z.object({
  version: z.number().int(),
  state: z.enum(CONTENT_STATES),
  author: z.string(),
  topics: z.array(z.string()),
  featured: z.boolean(),
  validFrom: z.string().nullable(),
  validTo: z.string().nullable(),
  targets: z.array(ContentTargetOut),
  translations: z.record(LangTag, ContentTranslationOut),
  submittedAt: z.string().nullable(),
  approvedBy: z.string().nullable(),
  approvedAt: z.string().nullable(),
  publishedBy: z.string().nullable(),
  publishedAt: z.string().nullable(),
  retiredBy: z.string().nullable(),
  retiredAt: z.string().nullable(),
});
export type ContentVersionOut = z.infer<typeof ContentVersionOut>;

/** `GET /api/v1/content/:id`, and the answer of every write to an item. */
export const ContentItemOut = z.object({
  id: Id,
  kind: ContentKind,
  createdBy: z.string(),
  createdAt: z.string(),
  latestVersion: z.number().int(),
  publishedVersion: z.number().int().nullable(),
  current: ContentVersionOut,
  published: ContentVersionOut.nullable(),
  /** The last rejection of the current version, shown to its editor; absent on a server that does not send it. */
  rejection: ContentRejection.nullable().optional(),
});
export type ContentItemOut = z.infer<typeof ContentItemOut>;

/** `GET /api/v1/content`. */
export const ContentListOut = z.object({ total: z.number().int(), items: z.array(ContentItemOut) });
export type ContentListOut = z.infer<typeof ContentListOut>;

/** `POST /api/v1/content/:id/publish|retire`. */
export const ContentPublishOut = z.object({ item: ContentItemOut, notified: z.array(z.string()) });

/** `PUT /api/v1/content/:id/translations/:lang/file`. */
export const ContentUploadOut = z.object({ file: ContentFileOut, version: z.number().int(), item: ContentItemOut });
export type ContentUploadOut = z.infer<typeof ContentUploadOut>;

/** `GET /api/v1/content/:id/stats`: views per day and language. */
export const ContentStatsOut = z.object({
  itemId: Id,
  days: z.array(
    z.object({ day: z.string(), lang: z.string(), views: z.number(), seconds: z.number(), devices: z.number().int() }),
  ),
});
export type ContentStatsOut = z.infer<typeof ContentStatsOut>;

/** `GET /api/v1/content/topics`. */
export const ContentTopicsOut = z.object({
  topics: z.array(z.object({ slug: z.string(), labels: z.object({ vi: z.string(), en: z.string() }) })),
});
export type ContentTopicsOut = z.infer<typeof ContentTopicsOut>;

// ---- Coverage (server/coverage/coverage-routes.ts) ---------------------------------------------------------

const Count = z.number().int().nonnegative();
/** Milliseconds since the Unix epoch, or null when never. */
const MaybeMs = z.number().nullable();

/** What lists and reports show of a plan without its targets. */
export const PlanSummaryOut = z.object({
  id: z.string(),
  province: z.string(),
  document: z.string(),
  issued: z.string(),
  title: z.string(),
});
export type PlanSummaryOut = z.infer<typeof PlanSummaryOut>;

/** `GET /api/v1/plans`. */
export const PlanListOut = z.object({
  plans: z.array(PlanSummaryOut.extend({ targets: Count, loadedAt: z.number() })),
});
export type PlanListOut = z.infer<typeof PlanListOut>;

export const TargetCoverageOut = z.object({
  id: z.string(),
  phase: z.string(),
  deadline: z.string(),
  label: z.string(),
  total: Count,
  equipped: Count,
  /** Null for a day before today (whether a device was online then is not kept). */
  operational: Count.nullable(),
  requiredCount: Count,
  met: z.boolean(),
  noUnitsInScope: z.boolean(),
});
export type TargetCoverageOut = z.infer<typeof TargetCoverageOut>;

/** `GET /api/v1/plans/:id/coverage`. */
export const PlanCoverageOut = z.object({ plan: PlanSummaryOut, asOf: z.string(), targets: z.array(TargetCoverageOut) });
export type PlanCoverageOut = z.infer<typeof PlanCoverageOut>;

export const TrendPointOut = z.object({
  day: z.string(),
  total: Count,
  equipped: Count,
  requiredCount: Count,
  met: z.boolean(),
});
export type TrendPointOut = z.infer<typeof TrendPointOut>;

export const PROJECTION_STATUSES = ['no_units', 'met', 'on_track', 'behind', 'never'] as const;
export const ProjectionOut = z.object({
  since: z.string(),
  ratePerMonth: z.number(),
  requiredBy: z.string().nullable(),
  allBy: z.string().nullable(),
  status: z.enum(PROJECTION_STATUSES),
});
export type ProjectionOut = z.infer<typeof ProjectionOut>;

export const TargetTrendOut = z.object({
  id: z.string(),
  phase: z.string(),
  deadline: z.string(),
  label: z.string(),
  points: z.array(TrendPointOut),
  projection: ProjectionOut,
});
export type TargetTrendOut = z.infer<typeof TargetTrendOut>;

/** `GET /api/v1/plans/:id/trend`. */
export const PlanTrendOut = z.object({
  plan: PlanSummaryOut,
  from: z.string(),
  to: z.string(),
  targets: z.array(TargetTrendOut),
});
export type PlanTrendOut = z.infer<typeof PlanTrendOut>;

/** A commune's or site's devices in trouble (server/coverage/fleet-rules.ts has the rules). */
export const ProblemsOut = z.object({ offline: Count, neverApplied: Count, syncFailed: Count });
export type ProblemsOut = z.infer<typeof ProblemsOut>;

const ProgressOut = {
  devices: Count,
  lastSeen: MaybeMs,
  contentSeq: z.number().int().nullable(),
  problems: ProblemsOut,
};

/** A site of a commune row (`?include=sites`). */
export const CommuneSiteRowOut = z.object({
  id: z.string(),
  kind: SiteKind,
  name: z.string(),
  equipped: z.boolean(),
  operational: z.boolean().nullable(),
  planned: z.boolean(),
  ...ProgressOut,
});
export type CommuneSiteRowOut = z.infer<typeof CommuneSiteRowOut>;

export const CommuneRowOut = z.object({
  commune: z.object({ id: z.string(), name: z.string(), adminCode: z.string().nullable() }),
  district: z.object({ id: z.string(), name: z.string(), abolished: z.boolean() }).nullable(),
  communeEquipped: z.boolean(),
  sites: Count,
  equipped: Count,
  operational: Count.nullable(),
  planned: Count,
  ...ProgressOut,
  siteRows: z.array(CommuneSiteRowOut).optional(),
});
export type CommuneRowOut = z.infer<typeof CommuneRowOut>;

/** `GET /api/v1/plans/:id/communes`. */
export const CommunesOut = z.object({
  plan: PlanSummaryOut,
  asOf: z.string(),
  total: Count,
  limit: Count,
  offset: Count,
  communes: z.array(CommuneRowOut),
});
export type CommunesOut = z.infer<typeof CommunesOut>;

// ---- The dashboard's fleet reads (server/dashboard/create-dashboard-routes.ts) -----------------------------

export const SiteState = z.enum(SITE_STATES);
export type SiteState = z.infer<typeof SiteState>;

/** A row of the district → commune → site table. */
export const SiteRowOut = z.object({
  id: z.string(),
  kind: SiteKind,
  name: z.string(),
  border: z.boolean(),
  lat: z.number().nullable(),
  lon: z.number().nullable(),
  validTo: z.string().nullable(),
  districtId: z.string().nullable(),
  districtName: z.string().nullable(),
  communeId: z.string().nullable(),
  communeName: z.string().nullable(),
  devices: Count,
  counting: Count,
  operational: Count,
  planned: Count,
  lastSeen: MaybeMs,
  contentSeqMin: z.number().int().nullable(),
  contentSeqMax: z.number().int().nullable(),
  offline: Count,
  syncFailing: Count,
  problems: Count,
  state: SiteState,
});
export type SiteRowOut = z.infer<typeof SiteRowOut>;

/** `GET /api/v1/dashboard/sites`. */
export const SitePageOut = z.object({ total: Count, limit: Count, offset: Count, sites: z.array(SiteRowOut) });
export type SitePageOut = z.infer<typeof SitePageOut>;

/** `GET /api/v1/dashboard/districts`. */
export const DistrictsOut = z.object({
  districts: z.array(z.object({ id: z.string(), name: z.string(), validTo: z.string().nullable() })),
});
export type DistrictsOut = z.infer<typeof DistrictsOut>;

export const MAP_COLUMNS = ['id', 'name', 'kind', 'districtName', 'communeName', 'lat', 'lon', 'state', 'problems'] as const;
/** `GET /api/v1/dashboard/map`: one compact row (an array in MAP_COLUMNS order) per non-district site. */
export const MapOut = z.object({
  columns: z.tuple([
    z.literal('id'),
    z.literal('name'),
    z.literal('kind'),
    z.literal('districtName'),
    z.literal('communeName'),
    z.literal('lat'),
    z.literal('lon'),
    z.literal('state'),
    z.literal('problems'),
  ]),
  sites: z.array(
    z.tuple([
      z.string(),
      z.string(),
      SiteKind,
      z.string().nullable(),
      z.string().nullable(),
      z.number().nullable(),
      z.number().nullable(),
      SiteState,
      Count,
    ]),
  ),
});
export type MapOut = z.infer<typeof MapOut>;

export const AlertType = z.enum(ALERT_TYPES);
export type AlertType = z.infer<typeof AlertType>;

export const AlertOut = z.object({
  id: z.string(),
  type: AlertType,
  severity: z.enum(['critical', 'warning']),
  deviceId: z.string(),
  siteId: z.string().nullable(),
  siteName: z.string().nullable(),
  districtName: z.string().nullable(),
  /** Since when (ms): last seen, first sample over the limit, last sync report, first skew event. */
  since: MaybeMs,
  value: z.number().nullable(),
  detail: z.string().nullable(),
});
export type AlertOut = z.infer<typeof AlertOut>;

/** `GET /api/v1/alerts`: `counts` has every type, `total` the ones matching `?type=`. */
export const AlertsOut = z.object({
  total: Count,
  counts: z.record(AlertType, Count),
  limit: Count,
  offset: Count,
  alerts: z.array(AlertOut),
});
export type AlertsOut = z.infer<typeof AlertsOut>;

export const DeviceEventOut = z.object({
  id: z.number().int(),
  deviceId: z.string(),
  ts: MaybeMs,
  receivedTs: z.number(),
  source: z.string(),
  type: z.string(),
  severity: z.string(),
  message: z.string(),
});
export type DeviceEventOut = z.infer<typeof DeviceEventOut>;

/** `GET /api/v1/dashboard/devices/:id/events`, newest first. */
export const DeviceEventsOut = z.object({ events: z.array(DeviceEventOut) });
export type DeviceEventsOut = z.infer<typeof DeviceEventsOut>;

// ---- The registry: sites, devices and their health (server/registry/registry-routes.ts) -------------------

/** `GET /api/v1/sites`. */
export const SiteListOut = z.object({ sites: z.array(SiteOut) });
export type SiteListOut = z.infer<typeof SiteListOut>;

/** `GET /api/v1/sites/:id` (and `PATCH`). */
export const SiteOneOut = z.object({ site: SiteOut });
export type SiteOneOut = z.infer<typeof SiteOneOut>;

export const DeviceOut = z.object({
  id: z.string(),
  siteId: z.string().nullable(),
  kind: DeviceKind,
  model: z.string().nullable(),
  serial: z.string().nullable(),
  status: DeviceStatus,
  firstSeen: MaybeMs,
  lastSeen: MaybeMs,
  online: z.boolean(),
  agentVersion: z.string().nullable(),
  bootId: z.string().nullable(),
  contentSeq: z.number().int().nullable(),
  equippedAt: MaybeMs,
  decommissionedAt: MaybeMs,
  createdAt: z.number(),
});
export type DeviceOut = z.infer<typeof DeviceOut>;

/** `GET /api/v1/devices`. */
export const DevicesOut = z.object({ total: Count, limit: Count, offset: Count, devices: z.array(DeviceOut) });
export type DevicesOut = z.infer<typeof DevicesOut>;

/** The device's last sync report (`device_sync`). */
export const DeviceSyncOut = z.object({
  manifestSeq: z.number().int(),
  state: z.string(),
  bytes: z.number(),
  missing: z.number().int(),
  error: z.string().nullable(),
  failures: z.number().int(),
  updatedAt: z.number(),
});
export type DeviceSyncOut = z.infer<typeof DeviceSyncOut>;

/** `GET /api/v1/devices/:id`. */
export const DeviceDetailOut = z.object({ device: DeviceOut, sync: DeviceSyncOut.nullable() });
export type DeviceDetailOut = z.infer<typeof DeviceDetailOut>;

/** `POST /api/v1/devices/:id/revoke`. */
export const DeviceRevokedOut = z.object({ device: DeviceOut });

export const HealthPointOut = z.object({
  seq: z.number().int(),
  deviceTs: z.number(),
  receivedTs: z.number(),
  cpuLoad: z.number(),
  memUsed: z.number(),
  diskUsed: z.number(),
  diskFree: z.number(),
  tempC: z.number().nullable(),
  uptimeS: z.number(),
  contentSeq: z.number().int(),
  queueDepth: z.number().int(),
  queueDropped: z.number().int().nullable(),
});
export type HealthPointOut = z.infer<typeof HealthPointOut>;

export const HealthHourOut = z.object({
  hour: z.number(),
  samples: Count,
  cpuAvg: z.number().nullable(),
  cpuMax: z.number().nullable(),
  memAvg: z.number().nullable(),
  memMax: z.number().nullable(),
  diskUsedMax: z.number().nullable(),
  diskFreeMin: z.number().nullable(),
  tempMax: z.number().nullable(),
});
export type HealthHourOut = z.infer<typeof HealthHourOut>;

/** `GET /api/v1/devices/:id/health`: the samples, or hourly aggregates with `?resolution=hour`. */
export const HealthOut = z.discriminatedUnion('resolution', [
  z.object({
    deviceId: z.string(),
    resolution: z.literal('raw'),
    from: z.number(),
    to: z.number(),
    samples: z.array(HealthPointOut),
  }),
  z.object({
    deviceId: z.string(),
    resolution: z.literal('hour'),
    from: z.number(),
    to: z.number(),
    hours: z.array(HealthHourOut),
  }),
]);
export type HealthOut = z.infer<typeof HealthOut>;
