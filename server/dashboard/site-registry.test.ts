import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Database, openDatabase } from '../db/open-database.js';
import { seedReferenceData } from '../db/seed.js';
import { createSiteRegistry, type NameSort, SITES_NAMED } from './site-registry.js';

let dir: string;
let db: Database;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'site-registry-'));
  db = openDatabase(join(dir, 'fleet.db'));
  seedReferenceData(db);
  // Names that test the order: accents, "Đ" against "D" and "Z", lower case, and sites outside any district.
  const site = db.prepare('INSERT INTO sites (id, kind, name, parent_id, border) VALUES (?, ?, ?, ?, 0)');
  site.run('o-dz', 'office', 'Dz văn phòng', null);
  site.run('o-dd', 'office', 'Đắk văn phòng', null);
  site.run('o-za', 'office', 'Zê', null);
  site.run('o-lo', 'office', 'đồi', null);
  site.run('o-same', 'office', 'Zê', null);
});

afterAll(() => {
  db?.close();
  rmSync(dir, { recursive: true, force: true });
});

// The order the table had in SQL (and still has for the device-figure sorts).
const vn = (c: string) => `replace(replace(${c}, 'Đ', 'D' || char(127)), 'đ', 'd' || char(127))`;
const SQL_ORDER: Record<NameSort, string> = {
  district: `${vn('district_name')} {dir}, ${vn('commune_name')} {dir}, ${vn('name')} {dir}`,
  commune: `${vn('commune_name')} {dir}, ${vn('name')} {dir}`,
  name: `${vn('name')} {dir}`,
  kind: `kind {dir}, ${vn('name')}`,
};

describe('createSiteRegistry', () => {
  it('pages in exactly the order SQL gives, filtered the way LIKE filters', () => {
    const registry = createSiteRegistry(db);
    for (const sort of ['district', 'commune', 'name', 'kind'] as const) {
      for (const dir of ['asc', 'desc'] as const) {
        const order = SQL_ORDER[sort].replaceAll('{dir}', dir);
        const sql = db.prepare(`SELECT id FROM (${SITES_NAMED}) ORDER BY ${order}, id`).pluck().all() as string[];
        expect(
          registry.page({ q: null, districtId: null, communeId: null, kind: null }, sort, dir, 1000, 0).rows.map((r) => r.id),
        ).toEqual(sql);
        const filtered = db
          .prepare(
            `SELECT id FROM (${SITES_NAMED}) WHERE name LIKE '%ia%' OR commune_name LIKE '%ia%' OR district_name LIKE '%ia%' OR id LIKE '%ia%' ORDER BY ${order}, id`,
          )
          .pluck()
          .all() as string[];
        const page = registry.page({ q: 'IA', districtId: null, communeId: null, kind: null }, sort, dir, 3, 2);
        expect(page.total).toBe(filtered.length);
        expect(page.rows.map((r) => r.id)).toEqual(filtered.slice(2, 5));
      }
    }
  });

  it('sees a renamed, added or removed site on the next read', () => {
    const registry = createSiteRegistry(db);
    const all = { q: null, districtId: null, communeId: null, kind: 'office' };
    const before = registry.page(all, 'name', 'asc', 1000, 0);
    db.prepare(`UPDATE sites SET name = 'Aaa' WHERE id = 'o-za'`).run();
    expect(registry.page(all, 'name', 'asc', 1, 0).rows[0]?.id).toBe('o-za');
    db.prepare(`INSERT INTO sites (id, kind, name, border) VALUES ('o-new', 'office', 'A mới', 0)`).run();
    expect(registry.page(all, 'name', 'asc', 1000, 0).total).toBe(before.total + 1);
    db.prepare(`DELETE FROM sites WHERE id = 'o-new'`).run();
    db.prepare(`UPDATE sites SET name = 'Zê' WHERE id = 'o-za'`).run();
    expect(registry.page(all, 'name', 'asc', 1000, 0).rows).toEqual(before.rows);
  });
});
