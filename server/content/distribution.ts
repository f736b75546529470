/**
 * Per-device manifests (DESIGN §7). A device receives the published items targeted to its site (directly, by
 * its site's kind, or through any unit above it) that are valid now or later. Manifests are built on demand from
 * the published library (read once per change and cached in memory); a device's `seq` grows whenever the hash of
 * its item list changes. `issuedAt` is kept with the seq so that an unchanged manifest is byte-identical (stable ETag), and
 * renewed once half its lifetime has passed so a device that keeps its content never holds an expired manifest.
 */
import { createHash } from 'node:crypto';
import {
  canonicalJson,
  type Manifest,
  type ManifestItem,
  type SignedKeysDocument,
  type SignedManifest,
  type SigningKeys,
  signManifest,
} from '../../protocol/index.js';
import type { Database } from '../db/open-database.js';
import { readTargets, type VersionRow } from './library-repo.js';
import type { Target } from './library-schemas.js';
import { type DeviceSite, targetedDevices as devicesTargeted, matchesTargets, siteChain, siteLookup } from './targeting.js';

export const MANIFEST_LIFETIME_MS = 7 * 86_400_000;
const CACHE_TTL_MS = 60_000;
const HAS_ITEMS = 'SELECT 1 FROM device_manifest_items WHERE device_id = ? LIMIT 1';

type Published = Array<{ item: ManifestItem; targets: Target[] }>;
type UiLabels = NonNullable<Manifest['uiLabels']>;
interface SiteView {
  items: ManifestItem[];
  uiLabels: UiLabels;
  hash: string;
}

export interface IssuedManifest {
  signed: SignedManifest;
  etag: string;
  /** True when this call raised the seq. */
  changed: boolean;
}

export function createDistribution(deps: {
  db: Database;
  /** A fixed signing key (tests), or the keyring's signer: the key in force and the keys document carried along. */
  keys?: Pick<SigningKeys, 'privateKey' | 'keyId'>;
  signer?: () => { keys: Pick<SigningKeys, 'privateKey' | 'keyId'>; document: SignedKeysDocument | null };
  notifyManifest: (deviceId: string, seq: number) => void;
  now?: () => number;
  lifetimeMs?: number;
}) {
  const { db } = deps;
  const signer =
    deps.signer ??
    (() => {
      if (!deps.keys) throw new TypeError('createDistribution needs keys or a signer');
      return { keys: deps.keys, document: null };
    });
  const now = deps.now ?? Date.now;
  const lifetime = deps.lifetimeMs ?? MANIFEST_LIFETIME_MS;

  /**
   * Every published version valid at `at`, with its targets and translations: three queries in all, whatever
   * the number of items (one query per item made a 1 000-item manifest take a second).
   */
  function publishedAt(at: number): Published {
    const rows = db
      .prepare(
        `SELECT v.*, i.kind FROM content_items i
         JOIN content_versions v ON v.item_id = i.id AND v.version = i.published_version
         WHERE v.state = 'published' AND (v.valid_to IS NULL OR v.valid_to >= ?)
         ORDER BY i.id`,
      )
      .all(at) as Array<VersionRow & { kind: ManifestItem['kind'] }>;
    const targets = new Map<string, Target[]>();
    const targetRows = db
      .prepare(
        `SELECT t.item_id, t.scope, t.value FROM content_targets t
         JOIN content_items i ON i.id = t.item_id AND i.published_version = t.version`,
      )
      .all() as Array<{ item_id: string; scope: Target['scope']; value: string }>;
    for (const row of targetRows) {
      const list = targets.get(row.item_id) ?? [];
      if (row.scope === 'site_kind')
        list.push({ scope: 'site_kind', kind: row.value as Extract<Target, { scope: 'site_kind' }>['kind'] });
      else if (row.scope === 'site') list.push({ scope: 'site', siteId: row.value });
      else list.push({ scope: 'all' });
      targets.set(row.item_id, list);
    }
    const translations = new Map<string, ManifestItem['translations']>();
    const translationRows = db
      .prepare(
        `SELECT t.item_id, t.lang, t.title, t.summary, t.body, f.sha256, f.size, f.mime FROM content_translations t
         JOIN content_items i ON i.id = t.item_id AND i.published_version = t.version
         LEFT JOIN content_files f ON f.sha256 = t.file_sha256
         ORDER BY t.item_id, t.lang`,
      )
      .all() as Array<{
      item_id: string;
      lang: string;
      title: string;
      summary: string;
      body: string | null;
      sha256: string | null;
      size: number | null;
      mime: string | null;
    }>;
    for (const row of translationRows) {
      const record = translations.get(row.item_id) ?? {};
      record[row.lang] = {
        title: row.title,
        summary: row.summary,
        ...(row.body !== null ? { body: row.body } : {}),
        ...(row.sha256 !== null && row.size !== null && row.mime !== null
          ? { file: { sha256: row.sha256, size: row.size, mime: row.mime } }
          : {}),
      };
      translations.set(row.item_id, record);
    }
    return rows.map((row) => ({
      targets: targets.get(row.item_id) ?? [],
      item: {
        id: row.item_id,
        version: row.version,
        kind: row.kind,
        topics: JSON.parse(row.topics) as string[],
        ...(row.featured === 1 ? { featured: true } : {}),
        validFrom: row.valid_from === null ? null : new Date(row.valid_from).toISOString(),
        validTo: row.valid_to === null ? null : new Date(row.valid_to).toISOString(),
        translations: translations.get(row.item_id) ?? {},
      },
    }));
  }

  /**
   * What changes a site's item list: publications, retirements, items whose validity ended, the registry.
   * Cheap to read, so a request can tell whether the cached library still holds.
   */
  function libraryKey(at: number): string {
    const v = db
      .prepare(
        `SELECT coalesce(max(updated_at), 0) AS m, sum(state = 'published') AS p, sum(state = 'retired') AS r,
           sum(state = 'published' AND valid_to IS NOT NULL AND valid_to < ?) AS x
         FROM content_versions WHERE state IN ('published', 'retired')`,
      )
      .get(at) as { m: number; p: number | null; r: number | null; x: number | null };
    const s = db.prepare('SELECT count(*) AS n FROM sites').get() as { n: number };
    const l = db.prepare('SELECT coalesce(max(updated_at), 0) AS m, count(*) AS n FROM ui_labels').get() as {
      m: number;
      n: number;
    };
    return `${v.m}:${v.p ?? 0}:${v.r ?? 0}:${v.x ?? 0}:${s.n}:${l.m}:${l.n}`;
  }

  // The published library is read once per change and shared by every site's view (the same item objects), so
  // a manifest request costs a key check, a filter and a signature, not a rebuild. The TTL bounds how long a
  // registry edit that keeps the site count (a parent moved) can go unseen.
  let library: { key: string; at: number; published: Published; uiLabels: UiLabels } | null = null;
  let siteViews = new Map<string, SiteView>();

  /** The interface labels the department entered (migration 305), for every kiosk alike. */
  function readUiLabels(): UiLabels {
    const rows = db.prepare('SELECT lang, labels FROM ui_labels ORDER BY lang').all() as { lang: string; labels: string }[];
    const out: UiLabels = {};
    for (const row of rows) {
      const labels = JSON.parse(row.labels) as Record<string, string>;
      if (Object.keys(labels).length > 0) out[row.lang] = labels;
    }
    return out;
  }

  function siteView(siteId: string | null, at: number): SiteView {
    const key = libraryKey(at);
    if (!library || library.key !== key || at - library.at > CACHE_TTL_MS || at < library.at) {
      library = { key, at, published: publishedAt(at), uiLabels: readUiLabels() };
      siteViews = new Map();
    }
    const cached = siteViews.get(siteId ?? '');
    if (cached) return cached;
    const site = siteChain(siteId, siteLookup(db));
    const items = library.published.filter((p) => matchesTargets(p.targets, site)).map((p) => p.item);
    const uiLabels = library.uiLabels;
    // Without labels the hash is the items' alone, as before labels existed: no device's seq moves on upgrade.
    const hashed = Object.keys(uiLabels).length > 0 ? { items, uiLabels } : items;
    const view = { items, uiLabels, hash: createHash('sha256').update(canonicalJson(hashed)).digest('hex') };
    siteViews.set(siteId ?? '', view);
    return view;
  }

  /**
   * The manifest's items at their versions (migration 203), each with the seq of the first manifest that listed
   * that version: what `GET /api/v1/content/:id/holders` compares with the seq the device applied. A manifest
   * issued before the table existed is recorded on its next request, with its own seq (the earliest provable).
   */
  function recordItems(deviceId: string, items: ManifestItem[], seq: number) {
    const before = new Map(
      (
        db.prepare('SELECT item_id, version, since_seq FROM device_manifest_items WHERE device_id = ?').all(deviceId) as Array<{
          item_id: string;
          version: number;
          since_seq: number;
        }>
      ).map((row) => [row.item_id, row]),
    );
    db.prepare('DELETE FROM device_manifest_items WHERE device_id = ?').run(deviceId);
    const insert = db.prepare('INSERT INTO device_manifest_items (device_id, item_id, version, since_seq) VALUES (?, ?, ?, ?)');
    for (const item of items) {
      const kept = before.get(item.id);
      insert.run(deviceId, item.id, item.version, kept && kept.version === item.version ? kept.since_seq : seq);
    }
  }

  /** The devices (not decommissioned) whose site the targets reach (server/content/targeting.ts), for the holders view too. */
  const targetedDevices = (targets: Target[]): DeviceSite[] => devicesTargeted(db, targets);

  /** Brings the device's seq up to date with its site's items; returns the state to issue. */
  function refresh(device: DeviceSite, at: number): SiteView & { seq: number; issuedAt: number; changed: boolean } {
    return db
      .transaction(() => {
        const view = siteView(device.siteId, at);
        const state = db
          .prepare('SELECT seq, items_hash, issued_at FROM device_manifests WHERE device_id = ?')
          .get(device.deviceId) as { seq: number; items_hash: string; issued_at: number } | undefined;
        let seq = state?.seq ?? 0;
        let issuedAt = state?.issued_at ?? at;
        const changed = !state || state.items_hash !== view.hash;
        if (changed) {
          seq += 1;
          issuedAt = at;
        } else if (at - issuedAt > lifetime / 2) {
          issuedAt = at;
        }
        if (changed || issuedAt !== state?.issued_at) {
          db.prepare(
            `INSERT INTO device_manifests (device_id, seq, items_hash, issued_at, updated_at) VALUES (?, ?, ?, ?, ?)
           ON CONFLICT (device_id) DO UPDATE SET seq = excluded.seq, items_hash = excluded.items_hash,
             issued_at = excluded.issued_at, updated_at = excluded.updated_at`,
          ).run(device.deviceId, seq, view.hash, issuedAt, at);
        }
        if (changed) {
          db.prepare('DELETE FROM device_manifest_files WHERE device_id = ?').run(device.deviceId);
          const insert = db.prepare('INSERT OR IGNORE INTO device_manifest_files (device_id, sha256) VALUES (?, ?)');
          for (const item of view.items) {
            for (const t of Object.values(item.translations)) if (t.file) insert.run(device.deviceId, t.file.sha256);
          }
        }
        if (changed || (view.items.length > 0 && !db.prepare(HAS_ITEMS).get(device.deviceId))) {
          recordItems(device.deviceId, view.items, seq);
        }
        return { ...view, seq, issuedAt, changed };
      })
      .immediate();
  }

  /** The device's signed manifest, its seq raised first if its content changed. */
  function issue(device: DeviceSite): IssuedManifest {
    const state = refresh(device, now());
    const manifest: Manifest = {
      v: 1,
      deviceId: device.deviceId,
      seq: state.seq,
      issuedAt: new Date(state.issuedAt).toISOString(),
      expiresAt: new Date(state.issuedAt + lifetime).toISOString(),
      items: state.items,
      ...(Object.keys(state.uiLabels).length > 0 ? { uiLabels: state.uiLabels } : {}),
    };
    const { keys, document } = signer();
    // Everything the response depends on: same tag ⇔ same manifest, key and keys document.
    const etag = `"${state.seq}-${state.issuedAt}-${state.hash.slice(0, 24)}-${keys.keyId.replace(/[^0-9a-f]/g, '')}-${document?.document.version ?? 0}"`;
    return { signed: signManifest(manifest, keys, document ?? undefined), etag, changed: state.changed };
  }

  /** Whether the file is in the device's current manifest (refreshed when the stored one does not list it). */
  function mayFetch(device: DeviceSite, sha256: string): boolean {
    const listed = db.prepare('SELECT 1 FROM device_manifest_files WHERE device_id = ? AND sha256 = ?');
    if (listed.get(device.deviceId, sha256)) return true;
    refresh(device, now());
    return listed.get(device.deviceId, sha256) !== undefined;
  }

  /**
   * After a publish or retire: every device the item's versions target gets its manifest rebuilt, and those
   * whose seq moved are notified (the broker reaches connected ones; others pull when they next connect).
   */
  function contentChanged(itemId: string, versions: Array<number | null>): string[] {
    const targets = versions.flatMap((version) => (version === null ? [] : readTargets(db, itemId, version)));
    const notified: string[] = [];
    const at = now();
    for (const device of targetedDevices(targets)) {
      const state = refresh(device, at);
      if (state.changed) {
        deps.notifyManifest(device.deviceId, state.seq);
        notified.push(device.deviceId);
      }
    }
    return notified;
  }

  /**
   * After a new keys document (rotation): every device that holds a manifest is told to fetch again, so the
   * connected ones move to the new key (and refuse the retired one) now rather than at their nightly sync.
   */
  function keysChanged(): number {
    const rows = db
      .prepare(
        `SELECT m.device_id AS deviceId, m.seq FROM device_manifests m JOIN devices d ON d.id = m.device_id
         WHERE d.status <> 'decommissioned'`,
      )
      .all() as Array<{ deviceId: string; seq: number }>;
    for (const row of rows) deps.notifyManifest(row.deviceId, row.seq);
    return rows.length;
  }

  /** After the department changed interface labels: every device's manifest is rebuilt, those that moved are told. */
  function labelsChanged(): string[] {
    const devices = db
      .prepare(`SELECT id AS deviceId, site_id AS siteId FROM devices WHERE status <> 'decommissioned'`)
      .all() as DeviceSite[];
    const at = now();
    const notified: string[] = [];
    for (const device of devices) {
      const state = refresh(device, at);
      if (state.changed) {
        deps.notifyManifest(device.deviceId, state.seq);
        notified.push(device.deviceId);
      }
    }
    return notified;
  }

  return { issue, mayFetch, contentChanged, keysChanged, labelsChanged, targetedDevices };
}

export type Distribution = ReturnType<typeof createDistribution>;
