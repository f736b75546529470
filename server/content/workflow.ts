/**
 * The editorial workflow: draft → in_review → published → retired. Editors write, an approver who did not write
 * the version approves, and only an approved version is published. Editing a published (or retired) item opens
 * a new version, which goes through review again while devices keep the published one. Every step is audited.
 */
import { randomUUID } from 'node:crypto';
import type { Role } from '../../protocol/index.js';
import type { AuditFn } from '../auth/audit.js';
import type { Database } from '../db/open-database.js';
import { DomainError } from '../errors.js';
import { badRequest, conflict, forbidden, notFound } from './errors.js';
import { getItemRow, getVersionRow, type ItemRow, type VersionRow } from './library-repo.js';
import type { CreateItem, FileInfo, Target, TranslationInput, UpdateItem } from './library-schemas.js';
import { kindAccepts } from './mime.js';

export interface ContentActor {
  username: string;
  role: Role;
}

/** Kinds whose every translation must carry a file; a bulletin may be text only. */
const FILE_KINDS = new Set(['document', 'video', 'image', 'audio', 'leaflet', 'webpage']);

const ms = (iso: string | null | undefined) => (iso ? Date.parse(iso) : null);

export function createWorkflow(deps: { db: Database; audit: AuditFn; now?: () => number }) {
  const { db, audit } = deps;
  const now = deps.now ?? Date.now;

  function requireItem(id: string): ItemRow {
    const item = getItemRow(db, id);
    if (!item) throw notFound(`content item ${id}`);
    return item;
  }

  function checkTopics(topics: string[]) {
    const known = db.prepare('SELECT 1 FROM content_topics WHERE slug = ?');
    for (const topic of topics) if (!known.get(topic)) throw badRequest(`unknown topic ${topic}`);
  }

  function checkTargets(targets: Target[]) {
    const site = db.prepare('SELECT 1 FROM sites WHERE id = ?');
    for (const target of targets) {
      if (target.scope === 'site' && !site.get(target.siteId)) throw badRequest(`unknown site ${target.siteId}`);
    }
  }

  function checkWindow(validFrom: number | null, validTo: number | null) {
    if (validFrom !== null && validTo !== null && validTo < validFrom) throw badRequest('validTo is before validFrom');
  }

  function writeTargets(itemId: string, version: number, targets: Target[]) {
    db.prepare('DELETE FROM content_targets WHERE item_id = ? AND version = ?').run(itemId, version);
    const insert = db.prepare('INSERT OR IGNORE INTO content_targets (item_id, version, scope, value) VALUES (?, ?, ?, ?)');
    for (const target of targets) {
      const value = target.scope === 'all' ? '' : target.scope === 'site_kind' ? target.kind : target.siteId;
      insert.run(itemId, version, target.scope, value);
    }
  }

  function noteEditor(itemId: string, version: number, actor: ContentActor) {
    db.prepare('INSERT OR IGNORE INTO content_version_editors (item_id, version, username) VALUES (?, ?, ?)').run(
      itemId,
      version,
      actor.username,
    );
  }

  /**
   * The version an edit applies to: the latest while it is a draft; an edit during review sends it back to
   * draft (its approval no longer covers the new text); a published or retired latest gets a new version.
   */
  function editableVersion(item: ItemRow, actor: ContentActor): number {
    const latest = getVersionRow(db, item.id, item.latest_version) as VersionRow;
    const t = now();
    if (latest.state === 'draft') {
      db.prepare('UPDATE content_versions SET updated_at = ? WHERE item_id = ? AND version = ?').run(t, item.id, latest.version);
    } else if (latest.state === 'in_review') {
      db.prepare(
        `UPDATE content_versions SET state = 'draft', submitted_at = NULL, approved_by = NULL, approved_at = NULL, updated_at = ?
         WHERE item_id = ? AND version = ?`,
      ).run(t, item.id, latest.version);
      audit({ actor: actor.username, action: 'content.returned_to_draft', target: item.id, detail: { version: latest.version } });
    } else {
      const version = latest.version + 1;
      db.prepare(
        `INSERT INTO content_versions (item_id, version, state, author, topics, featured, valid_from, valid_to, created_at, updated_at)
         SELECT item_id, ?, 'draft', ?, topics, featured, valid_from, valid_to, ?, ? FROM content_versions
         WHERE item_id = ? AND version = ?`,
      ).run(version, actor.username, t, t, item.id, latest.version);
      db.prepare(
        `INSERT INTO content_targets (item_id, version, scope, value)
         SELECT item_id, ?, scope, value FROM content_targets WHERE item_id = ? AND version = ?`,
      ).run(version, item.id, latest.version);
      db.prepare(
        `INSERT INTO content_translations (item_id, version, lang, title, summary, body, file_sha256, updated_by, updated_at)
         SELECT item_id, ?, lang, title, summary, body, file_sha256, updated_by, updated_at FROM content_translations
         WHERE item_id = ? AND version = ?`,
      ).run(version, item.id, latest.version);
      db.prepare('UPDATE content_items SET latest_version = ? WHERE id = ?').run(version, item.id);
      audit({ actor: actor.username, action: 'content.new_version', target: item.id, detail: { version, from: latest.version } });
    }
    const version = getItemRow(db, item.id)?.latest_version as number;
    noteEditor(item.id, version, actor);
    return version;
  }

  function create(actor: ContentActor, input: CreateItem): string {
    const id = input.id ?? randomUUID();
    const validFrom = ms(input.validFrom);
    const validTo = ms(input.validTo);
    checkWindow(validFrom, validTo);
    return db.transaction(() => {
      checkTopics(input.topics);
      checkTargets(input.targets);
      if (getItemRow(db, id)) throw conflict(`content item ${id} exists`);
      const t = now();
      db.prepare(
        'INSERT INTO content_items (id, kind, created_by, created_at, latest_version, published_version) VALUES (?, ?, ?, ?, 1, NULL)',
      ).run(id, input.kind, actor.username, t);
      db.prepare(
        `INSERT INTO content_versions (item_id, version, state, author, topics, featured, valid_from, valid_to, created_at, updated_at)
         VALUES (?, 1, 'draft', ?, ?, ?, ?, ?, ?, ?)`,
      ).run(id, actor.username, JSON.stringify(input.topics), input.featured ? 1 : 0, validFrom, validTo, t, t);
      writeTargets(id, 1, input.targets);
      noteEditor(id, 1, actor);
      audit({ actor: actor.username, action: 'content.create', target: id, detail: { kind: input.kind } });
      return id;
    })();
  }

  function update(actor: ContentActor, id: string, input: UpdateItem): number {
    return db.transaction(() => {
      const item = requireItem(id);
      if (input.topics) checkTopics(input.topics);
      if (input.targets) checkTargets(input.targets);
      const version = editableVersion(item, actor);
      const row = getVersionRow(db, id, version) as VersionRow;
      const validFrom = input.validFrom === undefined ? row.valid_from : ms(input.validFrom);
      const validTo = input.validTo === undefined ? row.valid_to : ms(input.validTo);
      checkWindow(validFrom, validTo);
      db.prepare(
        'UPDATE content_versions SET topics = ?, featured = ?, valid_from = ?, valid_to = ? WHERE item_id = ? AND version = ?',
      ).run(
        input.topics ? JSON.stringify(input.topics) : row.topics,
        input.featured === undefined ? row.featured : input.featured ? 1 : 0,
        validFrom,
        validTo,
        id,
        version,
      );
      if (input.targets) writeTargets(id, version, input.targets);
      audit({ actor: actor.username, action: 'content.update', target: id, detail: { version, fields: Object.keys(input) } });
      return version;
    })();
  }

  function putTranslation(actor: ContentActor, id: string, lang: string, input: TranslationInput): number {
    return db.transaction(() => {
      const item = requireItem(id);
      const version = editableVersion(item, actor);
      db.prepare(
        `INSERT INTO content_translations (item_id, version, lang, title, summary, body, file_sha256, updated_by, updated_at)
         VALUES (?, ?, ?, ?, ?, ?, NULL, ?, ?)
         ON CONFLICT (item_id, version, lang) DO UPDATE SET title = excluded.title, summary = excluded.summary,
           body = excluded.body, updated_by = excluded.updated_by, updated_at = excluded.updated_at`,
      ).run(id, version, lang, input.title, input.summary, input.body, actor.username, now());
      audit({ actor: actor.username, action: 'content.translation', target: id, detail: { version, lang } });
      return version;
    })();
  }

  function removeTranslation(actor: ContentActor, id: string, lang: string): number {
    return db.transaction(() => {
      const item = requireItem(id);
      const version = editableVersion(item, actor);
      const removed = db
        .prepare('DELETE FROM content_translations WHERE item_id = ? AND version = ? AND lang = ?')
        .run(id, version, lang).changes;
      if (removed === 0) throw notFound(`translation ${lang} of ${id}`);
      audit({ actor: actor.username, action: 'content.translation_removed', target: id, detail: { version, lang } });
      return version;
    })();
  }

  /** Checked before an upload starts, so a doomed upload is refused before any byte is stored. */
  function checkFileTarget(id: string, lang: string): ItemRow {
    const item = requireItem(id);
    const latest = getVersionRow(db, id, item.latest_version) as VersionRow;
    const exists = db.prepare('SELECT 1 FROM content_translations WHERE item_id = ? AND version = ? AND lang = ?');
    if (!exists.get(id, latest.version, lang) && !(item.published_version && exists.get(id, item.published_version, lang))) {
      throw notFound(`translation ${lang} of ${id} (create it with its title first)`);
    }
    return item;
  }

  function fileCheck(item: ItemRow) {
    return (mime: string) => {
      if (!kindAccepts(item.kind, mime)) throw new DomainError(422, 'type_mismatch', `a ${item.kind} cannot be ${mime}`);
    };
  }

  function attachFile(actor: ContentActor, id: string, lang: string, file: FileInfo): number {
    return db.transaction(() => {
      const item = requireItem(id);
      const version = editableVersion(item, actor);
      db.prepare('INSERT OR IGNORE INTO content_files (sha256, size, mime, uploaded_by, uploaded_at) VALUES (?, ?, ?, ?, ?)').run(
        file.sha256,
        file.size,
        file.mime,
        actor.username,
        now(),
      );
      const changed = db
        .prepare(
          'UPDATE content_translations SET file_sha256 = ?, updated_by = ?, updated_at = ? WHERE item_id = ? AND version = ? AND lang = ?',
        )
        .run(file.sha256, actor.username, now(), id, version, lang).changes;
      if (changed === 0) throw notFound(`translation ${lang} of ${id}`);
      audit({ actor: actor.username, action: 'content.file', target: id, detail: { version, lang, ...file } });
      return version;
    })();
  }

  function latestIn(item: ItemRow, state: VersionRow['state'], step: string): VersionRow {
    const latest = getVersionRow(db, item.id, item.latest_version) as VersionRow;
    if (latest.state !== state) throw conflict(`cannot ${step}: version ${latest.version} is ${latest.state}`);
    return latest;
  }

  function submit(actor: ContentActor, id: string): void {
    db.transaction(() => {
      const item = requireItem(id);
      const version = latestIn(item, 'draft', 'submit');
      const translations = db
        .prepare('SELECT lang, body, file_sha256 FROM content_translations WHERE item_id = ? AND version = ?')
        .all(id, version.version) as Array<{ lang: string; body: string | null; file_sha256: string | null }>;
      if (translations.length === 0) throw new DomainError(422, 'incomplete', 'an item needs at least one translation');
      for (const t of translations) {
        if (FILE_KINDS.has(item.kind) && !t.file_sha256)
          throw new DomainError(422, 'incomplete', `translation ${t.lang} has no file`);
        if (!t.file_sha256 && !t.body)
          throw new DomainError(422, 'incomplete', `translation ${t.lang} has neither body nor file`);
      }
      const t = now();
      db.prepare(
        `UPDATE content_versions SET state = 'in_review', submitted_at = ?, updated_at = ?,
           rejected_reason = NULL, rejected_by = NULL, rejected_at = NULL
         WHERE item_id = ? AND version = ?`,
      ).run(t, t, id, version.version);
      audit({ actor: actor.username, action: 'content.submit', target: id, detail: { version: version.version } });
    })();
  }

  function approve(actor: ContentActor, id: string): void {
    db.transaction(() => {
      if (actor.role !== 'approver') throw forbidden('only an approver may approve content');
      const item = requireItem(id);
      const version = latestIn(item, 'in_review', 'approve');
      const wrote = db
        .prepare('SELECT 1 FROM content_version_editors WHERE item_id = ? AND version = ? AND username = ?')
        .get(id, version.version, actor.username);
      if (version.author === actor.username || wrote) throw forbidden('an approver cannot approve a version they wrote');
      const t = now();
      db.prepare(
        'UPDATE content_versions SET approved_by = ?, approved_at = ?, updated_at = ? WHERE item_id = ? AND version = ?',
      ).run(actor.username, t, t, id, version.version);
      audit({ actor: actor.username, action: 'content.approve', target: id, detail: { version: version.version } });
    })();
  }

  /** Back to draft with the reason, which the item shows its editor until the version is submitted again. */
  function reject(actor: ContentActor, id: string, reason: string): void {
    db.transaction(() => {
      const item = requireItem(id);
      const version = latestIn(item, 'in_review', 'reject');
      const t = now();
      db.prepare(
        `UPDATE content_versions SET state = 'draft', submitted_at = NULL, approved_by = NULL, approved_at = NULL, updated_at = ?,
           rejected_reason = ?, rejected_by = ?, rejected_at = ?
         WHERE item_id = ? AND version = ?`,
      ).run(t, reason, actor.username, t, id, version.version);
      audit({ actor: actor.username, action: 'content.reject', target: id, detail: { version: version.version, reason } });
    })();
  }

  function publish(actor: ContentActor, id: string): { previous: number | null; version: number } {
    return db.transaction(() => {
      const item = requireItem(id);
      const version = latestIn(item, 'in_review', 'publish');
      if (!version.approved_by) throw new DomainError(409, 'not_approved', 'a version must be approved before it is published');
      const t = now();
      if (item.published_version !== null) {
        // The newer version replaces it on devices.
        db.prepare(
          `UPDATE content_versions SET state = 'retired', retired_by = ?, retired_at = ?, updated_at = ? WHERE item_id = ? AND version = ?`,
        ).run(actor.username, t, t, id, item.published_version);
      }
      db.prepare(
        `UPDATE content_versions SET state = 'published', published_by = ?, published_at = ?, updated_at = ? WHERE item_id = ? AND version = ?`,
      ).run(actor.username, t, t, id, version.version);
      db.prepare('UPDATE content_items SET published_version = ? WHERE id = ?').run(version.version, id);
      audit({
        actor: actor.username,
        action: 'content.publish',
        target: id,
        detail: { version: version.version, replaces: item.published_version },
      });
      return { previous: item.published_version, version: version.version };
    })();
  }

  function retire(actor: ContentActor, id: string): { previous: number } {
    return db.transaction(() => {
      const item = requireItem(id);
      if (item.published_version === null) throw conflict(`content item ${id} is not published`);
      const t = now();
      db.prepare(
        `UPDATE content_versions SET state = 'retired', retired_by = ?, retired_at = ?, updated_at = ? WHERE item_id = ? AND version = ?`,
      ).run(actor.username, t, t, id, item.published_version);
      db.prepare('UPDATE content_items SET published_version = NULL WHERE id = ?').run(id);
      audit({ actor: actor.username, action: 'content.retire', target: id, detail: { version: item.published_version } });
      return { previous: item.published_version };
    })();
  }

  return {
    create,
    update,
    putTranslation,
    removeTranslation,
    checkFileTarget,
    fileCheck,
    attachFile,
    submit,
    approve,
    reject,
    publish,
    retire,
  };
}

export type Workflow = ReturnType<typeof createWorkflow>;
