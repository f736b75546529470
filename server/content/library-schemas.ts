/** Shapes of the content library's HTTP API: one zod schema per request body, types inferred from them. */
import { z } from 'zod';
import type { ContentRejection } from '../../protocol/api.js';
import { ContentKind, Id, LangTag, LIMITS, SiteKind } from '../../protocol/index.js';

export const Target = z.discriminatedUnion('scope', [
  z.object({ scope: z.literal('all') }),
  z.object({ scope: z.literal('site_kind'), kind: SiteKind }),
  /** A site and everything under it (a district targets its communes, stations and gates). */
  z.object({ scope: z.literal('site'), siteId: Id }),
]);
export type Target = z.infer<typeof Target>;

const IsoDateTime = z.iso.datetime({ offset: true });
const TopicSlug = z.string().regex(/^[a-z0-9-]{1,64}$/, 'must be a topic slug');

const ItemFields = {
  topics: z.array(TopicSlug).max(20),
  featured: z.boolean(),
  validFrom: IsoDateTime.nullable(),
  validTo: IsoDateTime.nullable(),
  targets: z.array(Target).min(1).max(500),
};

export const CreateItem = z.object({
  id: Id.optional(),
  kind: ContentKind,
  topics: ItemFields.topics.default([]),
  featured: ItemFields.featured.default(false),
  validFrom: ItemFields.validFrom.default(null),
  validTo: ItemFields.validTo.default(null),
  targets: ItemFields.targets.default([{ scope: 'all' }]),
});
export type CreateItem = z.infer<typeof CreateItem>;

export const UpdateItem = z.object(ItemFields).partial();
export type UpdateItem = z.infer<typeof UpdateItem>;

export const TranslationInput = z.object({
  title: z
    .string()
    .trim()
    .min(1)
    .max(LIMITS.shortText * 2),
  summary: z.string().max(LIMITS.longText).default(''),
  body: z.string().max(LIMITS.maxBodyChars).nullable().default(null),
});
export type TranslationInput = z.infer<typeof TranslationInput>;

/** A BCP 47 tag in its canonical case (`zh-hant-tw` → `zh-Hant-TW`); any well-formed tag is accepted. */
export const Lang = LangTag.transform((tag, ctx) => {
  try {
    return Intl.getCanonicalLocales(tag)[0] ?? tag;
  } catch {
    ctx.addIssue({ code: 'custom', message: `${tag} is not a well-formed BCP 47 tag` });
    return z.NEVER;
  }
});

export const ListQuery = z.object({
  state: z.enum(['draft', 'in_review', 'published', 'retired']).optional(),
  kind: ContentKind.optional(),
  topic: TopicSlug.optional(),
  limit: z.coerce.number().int().min(1).max(500).default(100),
  offset: z.coerce.number().int().min(0).default(0),
});
export type ListQuery = z.infer<typeof ListQuery>;

export const STATES = ['draft', 'in_review', 'published', 'retired'] as const;
export type VersionState = (typeof STATES)[number];

export interface FileInfo {
  sha256: string;
  size: number;
  mime: string;
}

export interface Translation {
  title: string;
  summary: string;
  body: string | null;
  file: FileInfo | null;
  updatedBy: string;
  updatedAt: string;
}

export interface ItemVersion {
  version: number;
  state: VersionState;
  author: string;
  topics: string[];
  featured: boolean;
  validFrom: string | null;
  validTo: string | null;
  targets: Target[];
  translations: Record<string, Translation>;
  submittedAt: string | null;
  approvedBy: string | null;
  approvedAt: string | null;
  publishedBy: string | null;
  publishedAt: string | null;
  retiredBy: string | null;
  retiredAt: string | null;
}

export interface ContentItem {
  id: string;
  kind: z.infer<typeof ContentKind>;
  createdBy: string;
  createdAt: string;
  latestVersion: number;
  publishedVersion: number | null;
  /** The version being worked on (the latest). */
  current: ItemVersion;
  /** The version devices receive, when it is not the latest. */
  published: ItemVersion | null;
  /** Why an approver sent the current version back to draft; null once it is submitted again (or never rejected). */
  rejection: ContentRejection | null;
}

/** `POST /api/v1/content/:id/reject` body: the reason the editor will read. */
export const RejectBody = z.object({ reason: z.string().trim().min(1).max(2000) });
