/** Sites (DESIGN §3): the administrative units and places devices stand in. */
import type { Database } from '../db/open-database.js';

export interface SiteInput {
  id: string;
  kind: 'district' | 'commune' | 'station' | 'gate' | 'office';
  name: string;
  parentId: string | null;
  border: boolean;
  adminCode: string | null;
  lat: number | null;
  lon: number | null;
  /** The coordinates are an estimate (migration 304); false when absent. */
  coordApprox?: boolean;
  validFrom: string | null;
  validTo: string | null;
  note: string | null;
}

export interface Site extends SiteInput {
  coordApprox: boolean;
}

interface SiteRow {
  id: string;
  kind: SiteInput['kind'];
  name: string;
  parent_id: string | null;
  border: number;
  admin_code: string | null;
  lat: number | null;
  lon: number | null;
  coord_approx: number;
  valid_from: string | null;
  valid_to: string | null;
  note: string | null;
}

function toSite(row: SiteRow): Site {
  return {
    id: row.id,
    kind: row.kind,
    name: row.name,
    parentId: row.parent_id,
    border: row.border === 1,
    adminCode: row.admin_code,
    lat: row.lat,
    lon: row.lon,
    coordApprox: row.coord_approx === 1,
    validFrom: row.valid_from,
    validTo: row.valid_to,
    note: row.note,
  };
}

/**
 * Inserts sites (or, with `overwrite`, replaces existing ones) in one transaction; parents may come after
 * their children in the input. Returns the number of rows written.
 */
export function upsertSites(db: Database, sites: SiteInput[], options: { overwrite: boolean }): number {
  const columns = '(id, kind, name, parent_id, border, admin_code, lat, lon, coord_approx, valid_from, valid_to, note)';
  const values = '(@id, @kind, @name, @parentId, @border, @adminCode, @lat, @lon, @coordApprox, @validFrom, @validTo, @note)';
  const stmt = options.overwrite
    ? db.prepare(`INSERT INTO sites ${columns} VALUES ${values}
        ON CONFLICT(id) DO UPDATE SET kind = excluded.kind, name = excluded.name, parent_id = excluded.parent_id,
          border = excluded.border, admin_code = excluded.admin_code, lat = excluded.lat, lon = excluded.lon,
          coord_approx = excluded.coord_approx, valid_from = excluded.valid_from, valid_to = excluded.valid_to, note = excluded.note`)
    : db.prepare(`INSERT OR IGNORE INTO sites ${columns} VALUES ${values}`);
  return db.transaction(() => {
    // A child may be listed before its parent: check references at commit instead of per row.
    db.pragma('defer_foreign_keys = ON');
    let changes = 0;
    for (const site of sites)
      changes += stmt.run({ ...site, border: site.border ? 1 : 0, coordApprox: site.coordApprox ? 1 : 0 }).changes;
    return changes;
  })();
}

export interface SiteFilter {
  kind?: SiteInput['kind'];
  parentId?: string;
  border?: boolean;
}

export function listSites(db: Database, filter: SiteFilter = {}): Site[] {
  const rows = db
    .prepare(
      `SELECT * FROM sites
       WHERE (@kind IS NULL OR kind = @kind) AND (@parentId IS NULL OR parent_id = @parentId)
         AND (@border IS NULL OR border = @border)
       ORDER BY kind, name`,
    )
    .all({
      kind: filter.kind ?? null,
      parentId: filter.parentId ?? null,
      border: filter.border === undefined ? null : filter.border ? 1 : 0,
    }) as SiteRow[];
  return rows.map(toSite);
}

export function getSite(db: Database, id: string): Site | null {
  const row = db.prepare('SELECT * FROM sites WHERE id = ?').get(id) as SiteRow | undefined;
  return row ? toSite(row) : null;
}

/** The fields a person edits on the site page (`PATCH /api/v1/sites/:id`); null when there is no such site. */
export function updateSite(
  db: Database,
  id: string,
  patch: { lat?: number | null; lon?: number | null; coordApprox?: boolean; name?: string; note?: string | null },
): { before: Site; after: Site } | null {
  return db.transaction(() => {
    const before = getSite(db, id);
    if (!before) return null;
    const next = { ...before, ...patch };
    db.prepare('UPDATE sites SET lat = ?, lon = ?, coord_approx = ?, name = ?, note = ? WHERE id = ?').run(
      next.lat,
      next.lon,
      next.coordApprox ? 1 : 0,
      next.name,
      next.note,
      id,
    );
    return { before, after: getSite(db, id) as Site };
  })();
}
