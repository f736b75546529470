/**
 * Response shapes of the content library's human API that the dashboard reads and protocol/api.ts does not (yet)
 * hold: an item with its versions, a page of items, an item's plays. Mirrors server/content/library-schemas.ts's
 * ContentItem; the server route should build its answer through these (see the h16 report).
 */
import { z } from 'zod';
import { ContentRejection } from './api.js';
import { ContentKind, Id, LangTag, SiteKind } from './domain.js';

export const ContentTargetOut = z.discriminatedUnion('scope', [
  z.object({ scope: z.literal('all') }),
  z.object({ scope: z.literal('site_kind'), kind: SiteKind }),
  z.object({ scope: z.literal('site'), siteId: Id }),
]);
export type ContentTargetOut = z.infer<typeof ContentTargetOut>;

export const CONTENT_STATES = ['draft', 'in_review', 'published', 'retired'] as const;

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
