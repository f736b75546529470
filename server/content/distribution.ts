/**
 * Per-device manifests (DESIGN §7). A device receives the published items targeted to its site (directly, by
 * its site's kind, or through any unit above it) that are valid now or later. The manifest is rebuilt from the
 * database on demand; its `seq` grows whenever the item set or a version changes, tracked by a hash of the items
 * per device. `issuedAt` is kept with the seq so that an unchanged manifest is byte-identical (stable ETag), and
 * renewed once half its lifetime has passed so a device that keeps its content never holds an expired manifest.
 */
import { createHash } from 'node:crypto';
import {
  canonicalJson,
  type Manifest,
  type ManifestItem,
  manifestFiles,
  type SignedManifest,
  type SigningKeys,
  signManifest,
} from '../../protocol/index.js';
import type { Database } from '../db/open-database.js';
import { readTargets, readTranslations, type VersionRow } from './library-repo.js';
import type { Target } from './library-schemas.js';

export const MANIFEST_LIFETIME_MS = 7 * 86_400_000;

interface DeviceSite {
  deviceId: string;
  siteId: string | null;
}

interface SiteNode {
  kind: string;
  parentId: string | null;
}

export interface IssuedManifest {
  signed: SignedManifest;
  etag: string;
  /** True when this call raised the seq. */
  changed: boolean;
}

export function createDistribution(deps: {
  db: Database;
  keys: Pick<SigningKeys, 'privateKey' | 'keyId'>;
  notifyManifest: (deviceId: string, seq: number) => void;
  now?: () => number;
  lifetimeMs?: number;
}) {
  const { db, keys } = deps;
  const now = deps.now ?? Date.now;
  const lifetime = deps.lifetimeMs ?? MANIFEST_LIFETIME_MS;

  /** The site and every unit above it (bounded: a cycle in the registry must not loop). */
  function siteChain(siteId: string | null, sites?: Map<string, SiteNode>): { chain: Set<string>; kind: string | null } {
    const chain = new Set<string>();
    let kind: string | null = null;
    let current = siteId;
    const lookup = db.prepare('SELECT kind, parent_id AS parentId FROM sites WHERE id = ?');
    for (let depth = 0; current !== null && depth < 32 && !chain.has(current); depth++) {
      const node = sites ? sites.get(current) : (lookup.get(current) as SiteNode | undefined);
      if (!node) break;
      if (kind === null) kind = node.kind;
      chain.add(current);
      current = node.parentId;
    }
    return { chain, kind };
  }

  function matches(targets: Target[], site: { chain: Set<string>; kind: string | null }): boolean {
    return targets.some((target) => {
      if (target.scope === 'site_kind') return site.kind === target.kind;
      if (target.scope === 'site') return site.chain.has(target.siteId);
      return true;
    });
  }

  function itemsFor(siteId: string | null, at: number): ManifestItem[] {
    const site = siteChain(siteId);
    const rows = db
      .prepare(
        `SELECT v.*, i.kind FROM content_items i
         JOIN content_versions v ON v.item_id = i.id AND v.version = i.published_version
         WHERE v.state = 'published' AND (v.valid_to IS NULL OR v.valid_to >= ?)
         ORDER BY i.id`,
      )
      .all(at) as Array<VersionRow & { kind: ManifestItem['kind'] }>;
    const items: ManifestItem[] = [];
    for (const row of rows) {
      if (!matches(readTargets(db, row.item_id, row.version), site)) continue;
      const translations: ManifestItem['translations'] = {};
      for (const [lang, t] of Object.entries(readTranslations(db, row.item_id, row.version))) {
        translations[lang] = {
          title: t.title,
          summary: t.summary,
          ...(t.body !== null ? { body: t.body } : {}),
          ...(t.file ? { file: t.file } : {}),
        };
      }
      items.push({
        id: row.item_id,
        version: row.version,
        kind: row.kind,
        topics: JSON.parse(row.topics) as string[],
        ...(row.featured === 1 ? { featured: true } : {}),
        validFrom: row.valid_from === null ? null : new Date(row.valid_from).toISOString(),
        validTo: row.valid_to === null ? null : new Date(row.valid_to).toISOString(),
        translations,
      });
    }
    return items;
  }

  /** Brings the device's manifest state up to date; returns the manifest and whether its seq moved. */
  function issue(device: DeviceSite): IssuedManifest {
    return db
      .transaction(() => {
        const t = now();
        const items = itemsFor(device.siteId, t);
        const hash = createHash('sha256').update(canonicalJson(items)).digest('hex');
        const state = db
          .prepare('SELECT seq, items_hash, issued_at FROM device_manifests WHERE device_id = ?')
          .get(device.deviceId) as { seq: number; items_hash: string; issued_at: number } | undefined;
        let seq = state?.seq ?? 0;
        let issuedAt = state?.issued_at ?? t;
        const changed = !state || state.items_hash !== hash;
        if (changed) {
          seq += 1;
          issuedAt = t;
        } else if (t - issuedAt > lifetime / 2) {
          issuedAt = t;
        }
        const manifest: Manifest = {
          v: 1,
          deviceId: device.deviceId,
          seq,
          issuedAt: new Date(issuedAt).toISOString(),
          expiresAt: new Date(issuedAt + lifetime).toISOString(),
          items,
        };
        if (changed || issuedAt !== state?.issued_at) {
          db.prepare(
            `INSERT INTO device_manifests (device_id, seq, items_hash, issued_at, updated_at) VALUES (?, ?, ?, ?, ?)
           ON CONFLICT (device_id) DO UPDATE SET seq = excluded.seq, items_hash = excluded.items_hash,
             issued_at = excluded.issued_at, updated_at = excluded.updated_at`,
          ).run(device.deviceId, seq, hash, issuedAt, t);
        }
        if (changed) {
          db.prepare('DELETE FROM device_manifest_files WHERE device_id = ?').run(device.deviceId);
          const insert = db.prepare('INSERT OR IGNORE INTO device_manifest_files (device_id, sha256) VALUES (?, ?)');
          for (const file of manifestFiles(manifest)) insert.run(device.deviceId, file.sha256);
        }
        const signed = signManifest(manifest, keys);
        const etag = `"${seq}-${createHash('sha256').update(canonicalJson(manifest)).digest('hex').slice(0, 32)}"`;
        return { signed, etag, changed };
      })
      .immediate();
  }

  /** Whether the file is in the device's current manifest (refreshed when the stored one does not list it). */
  function mayFetch(device: DeviceSite, sha256: string): boolean {
    const listed = db.prepare('SELECT 1 FROM device_manifest_files WHERE device_id = ? AND sha256 = ?');
    if (listed.get(device.deviceId, sha256)) return true;
    issue(device);
    return listed.get(device.deviceId, sha256) !== undefined;
  }

  /**
   * After a publish or retire: every device the item's versions target gets its manifest rebuilt, and those
   * whose seq moved are notified (the broker reaches connected ones; others pull when they next connect).
   */
  function contentChanged(itemId: string, versions: Array<number | null>): string[] {
    const targets = versions.flatMap((version) => (version === null ? [] : readTargets(db, itemId, version)));
    if (targets.length === 0) return [];
    const sites = new Map(
      (db.prepare('SELECT id, kind, parent_id AS parentId FROM sites').all() as Array<SiteNode & { id: string }>).map((s) => [
        s.id,
        s,
      ]),
    );
    const devices = db
      .prepare(`SELECT id AS deviceId, site_id AS siteId FROM devices WHERE status <> 'decommissioned'`)
      .all() as DeviceSite[];
    const notified: string[] = [];
    for (const device of devices) {
      if (!matches(targets, siteChain(device.siteId, sites))) continue;
      const issued = issue(device);
      if (issued.changed) {
        deps.notifyManifest(device.deviceId, issued.signed.manifest.seq);
        notified.push(device.deviceId);
      }
    }
    return notified;
  }

  return { issue, mayFetch, contentChanged, itemsFor };
}

export type Distribution = ReturnType<typeof createDistribution>;
