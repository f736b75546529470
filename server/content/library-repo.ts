/**
 * Reads of the content library: items with their latest and published versions, translations, targets; what a
 * version changes against the published one, and which devices hold it.
 */
import { ContentDiff, ContentHolders, ContentRejection } from '../../protocol/api.js';
import { type ContentKind, canonicalJson } from '../../protocol/index.js';
import { isSyncProblem } from '../coverage/fleet-rules.js';
import type { Database } from '../db/open-database.js';
import type { ContentItem, FileInfo, ItemVersion, ListQuery, Target, Translation, VersionState } from './library-schemas.js';

export interface ItemRow {
  id: string;
  kind: ContentKind;
  created_by: string;
  created_at: number;
  latest_version: number;
  published_version: number | null;
}

export interface VersionRow {
  item_id: string;
  version: number;
  state: VersionState;
  author: string;
  topics: string;
  featured: number;
  valid_from: number | null;
  valid_to: number | null;
  created_at: number;
  updated_at: number;
  submitted_at: number | null;
  approved_by: string | null;
  approved_at: number | null;
  published_by: string | null;
  published_at: number | null;
  retired_by: string | null;
  retired_at: number | null;
  rejected_reason: string | null;
  rejected_by: string | null;
  rejected_at: number | null;
}

interface TranslationRow {
  lang: string;
  title: string;
  summary: string;
  body: string | null;
  file_sha256: string | null;
  size: number | null;
  mime: string | null;
  updated_by: string;
  updated_at: number;
}

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

export function getItemRow(db: Database, id: string): ItemRow | null {
  return (db.prepare('SELECT * FROM content_items WHERE id = ?').get(id) as ItemRow | undefined) ?? null;
}

export function getVersionRow(db: Database, itemId: string, version: number): VersionRow | null {
  return (
    (db.prepare('SELECT * FROM content_versions WHERE item_id = ? AND version = ?').get(itemId, version) as
      | VersionRow
      | undefined) ?? null
  );
}

export function readTargets(db: Database, itemId: string, version: number): Target[] {
  const rows = db
    .prepare('SELECT scope, value FROM content_targets WHERE item_id = ? AND version = ? ORDER BY scope, value')
    .all(itemId, version) as Array<{ scope: Target['scope']; value: string }>;
  return rows.map((row): Target => {
    if (row.scope === 'site_kind')
      return { scope: 'site_kind', kind: row.value as Extract<Target, { scope: 'site_kind' }>['kind'] };
    if (row.scope === 'site') return { scope: 'site', siteId: row.value };
    return { scope: 'all' };
  });
}

export function readTranslations(db: Database, itemId: string, version: number): Record<string, Translation> {
  const rows = db
    .prepare(
      `SELECT t.lang, t.title, t.summary, t.body, t.file_sha256, f.size, f.mime, t.updated_by, t.updated_at
       FROM content_translations t LEFT JOIN content_files f ON f.sha256 = t.file_sha256
       WHERE t.item_id = ? AND t.version = ? ORDER BY t.lang`,
    )
    .all(itemId, version) as TranslationRow[];
  const out: Record<string, Translation> = {};
  for (const row of rows) {
    const file: FileInfo | null =
      row.file_sha256 && row.size !== null && row.mime !== null
        ? { sha256: row.file_sha256, size: row.size, mime: row.mime }
        : null;
    out[row.lang] = {
      title: row.title,
      summary: row.summary,
      body: row.body,
      file,
      updatedBy: row.updated_by,
      updatedAt: new Date(row.updated_at).toISOString(),
    };
  }
  return out;
}

export function toItemVersion(db: Database, row: VersionRow): ItemVersion {
  return {
    version: row.version,
    state: row.state,
    author: row.author,
    topics: JSON.parse(row.topics) as string[],
    featured: row.featured === 1,
    validFrom: iso(row.valid_from),
    validTo: iso(row.valid_to),
    targets: readTargets(db, row.item_id, row.version),
    translations: readTranslations(db, row.item_id, row.version),
    submittedAt: iso(row.submitted_at),
    approvedBy: row.approved_by,
    approvedAt: iso(row.approved_at),
    publishedBy: row.published_by,
    publishedAt: iso(row.published_at),
    retiredBy: row.retired_by,
    retiredAt: iso(row.retired_at),
  };
}

export function getItem(db: Database, id: string): ContentItem | null {
  const item = getItemRow(db, id);
  if (!item) return null;
  const latest = getVersionRow(db, id, item.latest_version) as VersionRow;
  const published =
    item.published_version !== null && item.published_version !== item.latest_version
      ? getVersionRow(db, id, item.published_version)
      : null;
  return {
    id: item.id,
    kind: item.kind,
    createdBy: item.created_by,
    createdAt: new Date(item.created_at).toISOString(),
    latestVersion: item.latest_version,
    publishedVersion: item.published_version,
    current: toItemVersion(db, latest),
    published: published ? toItemVersion(db, published) : null,
    rejection: rejectionOf(latest),
  };
}

/** The last rejection of a version, while it is a draft again (a submit clears it, migration 203). */
function rejectionOf(row: VersionRow): ContentRejection | null {
  if (row.state !== 'draft' || row.rejected_reason === null || row.rejected_by === null || row.rejected_at === null) return null;
  return ContentRejection.parse({ version: row.version, reason: row.rejected_reason, by: row.rejected_by, at: row.rejected_at });
}

type Change = ContentDiff['fields'][number];
/** An empty text and a missing one read the same to an approver: no change between them. */
const blank = (v: unknown) => (v === undefined || v === '' ? null : v);
const same = (a: unknown, b: unknown) => canonicalJson(blank(a)) === canonicalJson(blank(b));

function changes(before: Record<string, unknown>, after: Record<string, unknown>): Change[] {
  return Object.keys({ ...before, ...after })
    .filter((field) => !same(before[field], after[field]))
    .map((field) => ({ field, before: before[field] ?? null, after: after[field] ?? null }));
}

function itemFields(v: ItemVersion | null): Record<string, unknown> {
  if (!v) return {};
  return { topics: v.topics, featured: v.featured, validFrom: v.validFrom, validTo: v.validTo, targets: v.targets };
}

function translationFields(t: Translation | undefined): Record<string, unknown> {
  if (!t) return {};
  return {
    title: t.title,
    summary: t.summary,
    body: t.body,
    'file.sha256': t.file?.sha256 ?? null,
    'file.mime': t.file?.mime ?? null,
    'file.size': t.file?.size ?? null,
  };
}

/**
 * `GET /api/v1/content/:id/diff`: the latest version against the published one, field by field (null when a
 * side lacks it); with nothing published every field of the latest is new, with the latest published nothing
 * changed.
 */
export function contentDiff(db: Database, id: string): ContentDiff | null {
  const item = getItemRow(db, id);
  if (!item) return null;
  const latest = toItemVersion(db, getVersionRow(db, id, item.latest_version) as VersionRow);
  const publishedRow = item.published_version === null ? null : getVersionRow(db, id, item.published_version);
  const published = publishedRow ? toItemVersion(db, publishedRow) : null;
  const translations: ContentDiff['translations'] = [];
  if (publishedRow?.version !== latest.version) {
    const before = published?.translations ?? {};
    const langs = [...new Set([...Object.keys(before), ...Object.keys(latest.translations)])].sort();
    for (const lang of langs) {
      const fields = changes(translationFields(before[lang]), translationFields(latest.translations[lang]));
      if (fields.length === 0) continue;
      const change = !before[lang] ? 'added' : !latest.translations[lang] ? 'removed' : 'changed';
      translations.push({ lang, change, fields });
    }
  }
  return ContentDiff.parse({
    itemId: id,
    publishedVersion: item.published_version,
    latestVersion: item.latest_version,
    fields: publishedRow?.version === latest.version ? [] : changes(itemFields(published), itemFields(latest)),
    translations,
  });
}

/**
 * `GET /api/v1/content/:id/holders`: for each device the item targets (`targeted`, from the distribution's one
 * targeting rule), whether its issued manifest lists the published version (device_manifest_items), whether
 * the device applied a manifest that does (devices.content_seq ≥ the seq that first listed it), its last sync
 * report and the sync-problem rule of coverage/fleet-rules.ts.
 */
export function contentHolders(
  db: Database,
  id: string,
  targeted: Array<{ deviceId: string; siteId: string | null }>,
): ContentHolders | null {
  const item = getItemRow(db, id);
  if (!item) return null;
  const row = db.prepare(
    `SELECT d.id, d.site_id, s.name AS site_name, d.content_seq, d.last_seen, m.since_seq, y.state, y.failures
     FROM devices d LEFT JOIN sites s ON s.id = d.site_id
       LEFT JOIN device_manifest_items m ON m.device_id = d.id AND m.item_id = @item AND m.version = @version
       LEFT JOIN device_sync y ON y.device_id = d.id
     WHERE d.id = @device`,
  );
  const devices = targeted.flatMap(({ deviceId }) => {
    const d = row.get({ item: id, version: item.published_version ?? -1, device: deviceId }) as
      | {
          id: string;
          site_id: string | null;
          site_name: string | null;
          content_seq: number | null;
          last_seen: number | null;
          since_seq: number | null;
          state: string | null;
          failures: number | null;
        }
      | undefined;
    if (!d) return [];
    const report = d.state === null ? null : { state: d.state, failures: d.failures ?? 0 };
    return [
      {
        deviceId: d.id,
        siteId: d.site_id,
        siteName: d.site_name,
        issued: d.since_seq !== null,
        holds: d.since_seq !== null && d.content_seq !== null && d.content_seq >= d.since_seq,
        issuedSeq: d.since_seq,
        appliedSeq: d.content_seq,
        syncState: d.state,
        syncProblem: isSyncProblem(report),
        lastSeen: d.last_seen,
      },
    ];
  });
  return ContentHolders.parse({ itemId: id, publishedVersion: item.published_version, devices });
}

export function listItems(db: Database, query: ListQuery): { total: number; items: ContentItem[] } {
  const where = `FROM content_items i JOIN content_versions v ON v.item_id = i.id AND v.version = i.latest_version
    WHERE (@state IS NULL OR v.state = @state) AND (@kind IS NULL OR i.kind = @kind)
      AND (@topic IS NULL OR EXISTS (SELECT 1 FROM json_each(v.topics) WHERE value = @topic))`;
  const params = { state: query.state ?? null, kind: query.kind ?? null, topic: query.topic ?? null };
  const total = (db.prepare(`SELECT count(*) AS n ${where}`).get(params) as { n: number }).n;
  const ids = db
    .prepare(`SELECT i.id ${where} ORDER BY v.updated_at DESC, i.id LIMIT @limit OFFSET @offset`)
    .all({ ...params, limit: query.limit, offset: query.offset }) as Array<{ id: string }>;
  return { total, items: ids.map(({ id }) => getItem(db, id) as ContentItem) };
}

export function listTopics(db: Database): Array<{ slug: string; labels: { vi: string; en: string } }> {
  const rows = db.prepare('SELECT slug, label_vi, label_en FROM content_topics ORDER BY rowid').all() as Array<{
    slug: string;
    label_vi: string;
    label_en: string;
  }>;
  return rows.map((row) => ({ slug: row.slug, labels: { vi: row.label_vi, en: row.label_en } }));
}

export function getFile(db: Database, sha256: string): FileInfo | null {
  return (
    (db.prepare('SELECT sha256, size, mime FROM content_files WHERE sha256 = ?').get(sha256) as FileInfo | undefined) ?? null
  );
}
