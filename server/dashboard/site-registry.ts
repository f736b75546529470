/**
 * The non-district sites with their district and commune names, kept in memory and re-read as soon as any site
 * changes (migration 302 bumps `coverage_sites_version` on every insert, update and delete of a site), so never
 * stale. The site table's first page is then chosen without joining and sorting 10 000 rows in SQL on each
 * request: one one-row query, a filter and a slice of an order sorted once per registry version.
 */
import type { Database } from '../db/open-database.js';

export interface NamedSiteRow {
  id: string;
  kind: string;
  name: string;
  border: number;
  lat: number | null;
  lon: number | null;
  valid_to: string | null;
  district_id: string | null;
  district_name: string | null;
  commune_id: string | null;
  commune_name: string | null;
}

/** Every non-district site with the names of its district and commune (a station sits in a commune in a district). */
export const SITES_NAMED = `
  SELECT s.id, s.kind, s.name, s.border, s.lat, s.lon, s.valid_to,
    CASE WHEN p.kind = 'district' THEN p.id WHEN g.kind = 'district' THEN g.id END AS district_id,
    CASE WHEN p.kind = 'district' THEN p.name WHEN g.kind = 'district' THEN g.name END AS district_name,
    CASE WHEN s.kind = 'commune' THEN s.id WHEN p.kind = 'commune' THEN p.id END AS commune_id,
    CASE WHEN s.kind = 'commune' THEN s.name WHEN p.kind = 'commune' THEN p.name END AS commune_name
  FROM sites s
    LEFT JOIN sites p ON p.id = s.parent_id
    LEFT JOIN sites g ON g.id = p.parent_id
  WHERE s.kind <> 'district'`;

export type NameSort = 'district' | 'commune' | 'name' | 'kind';

export interface NameFilter {
  /** Text searched in the name, commune, district and id (as SQL `LIKE '%q%'`: ASCII case folded); null = any. */
  q: string | null;
  districtId: string | null;
  communeId: string | null;
  kind: string | null;
}

/**
 * The same order as the SQL sort keys of dashboard-repo.ts: text compared by code point (SQLite's BINARY
 * collation on UTF-8) with "Đ"/"đ" placed right after "D"/"d", NULL first ascending and last descending, and
 * the id ascending to break ties. Each entry: the column and whether it follows the requested direction.
 */
const KEYS: Record<NameSort, [keyof NamedSiteRow, boolean][]> = {
  district: [
    ['district_name', true],
    ['commune_name', true],
    ['name', true],
    ['id', false],
  ],
  commune: [
    ['commune_name', true],
    ['name', true],
    ['id', false],
  ],
  name: [
    ['name', true],
    ['id', false],
  ],
  kind: [
    ['kind', true],
    ['name', false],
    ['id', false],
  ],
};

const vn = (text: string) => text.replaceAll('Đ', 'D\x7f').replaceAll('đ', 'd\x7f');
/** SQLite's LIKE folds ASCII letters only. */
const foldAscii = (text: string) => text.replace(/[A-Z]/g, (c) => c.toLowerCase());

interface Entry {
  row: NamedSiteRow;
  /** The sort keys, transformed once. */
  key: Partial<Record<keyof NamedSiteRow, string | null>>;
  /** The searchable texts, folded once. */
  search: string[];
}

function compareKeys(a: string | null | undefined, b: string | null | undefined): number {
  if (a === b) return 0;
  if (a === null || a === undefined) return -1;
  if (b === null || b === undefined) return 1;
  return a < b ? -1 : 1;
}

export function createSiteRegistry(db: Database) {
  const versionStmt = db.prepare('SELECT version FROM coverage_sites_version WHERE id = 1').pluck();
  const allNamed = db.prepare(SITES_NAMED);
  let version: number | null = null;
  let entries: Entry[] = [];
  let sorted = new Map<string, Entry[]>();

  function current(): Entry[] {
    const now = versionStmt.get() as number;
    if (now !== version) {
      entries = (allNamed.all() as NamedSiteRow[]).map((row) => ({
        row,
        key: {
          district_name: row.district_name === null ? null : vn(row.district_name),
          commune_name: row.commune_name === null ? null : vn(row.commune_name),
          name: vn(row.name),
          kind: row.kind,
          id: row.id,
        },
        search: [row.name, row.commune_name, row.district_name, row.id].filter((t) => t !== null).map(foldAscii),
      }));
      sorted = new Map();
      version = now;
    }
    return entries;
  }

  function order(sort: NameSort, dir: 'asc' | 'desc'): Entry[] {
    const all = current();
    const cacheKey = `${sort} ${dir}`;
    let list = sorted.get(cacheKey);
    if (!list) {
      const keys = KEYS[sort];
      const sign = dir === 'desc' ? -1 : 1;
      list = [...all].sort((a, b) => {
        for (const [column, followsDir] of keys) {
          const c = compareKeys(a.key[column], b.key[column]);
          if (c !== 0) return followsDir ? sign * c : c;
        }
        return 0;
      });
      sorted.set(cacheKey, list);
    }
    return list;
  }

  return {
    /** Every named site (the map), in no particular order. */
    all(): NamedSiteRow[] {
      return current().map((e) => e.row);
    },
    /** One page in the given order, and how many sites match the filter. */
    page(
      filter: NameFilter,
      sort: NameSort,
      dir: 'asc' | 'desc',
      limit: number,
      offset: number,
    ): { total: number; rows: NamedSiteRow[] } {
      const list = order(sort, dir);
      const q = filter.q === null ? null : foldAscii(filter.q);
      const matches = (e: Entry) =>
        (q === null || e.search.some((t) => t.includes(q))) &&
        (filter.districtId === null || e.row.district_id === filter.districtId) &&
        (filter.communeId === null || e.row.commune_id === filter.communeId) &&
        (filter.kind === null || e.row.kind === filter.kind);
      if (q === null && filter.districtId === null && filter.communeId === null && filter.kind === null) {
        return { total: list.length, rows: list.slice(offset, offset + limit).map((e) => e.row) };
      }
      const rows: NamedSiteRow[] = [];
      let total = 0;
      for (const e of list) {
        if (!matches(e)) continue;
        if (total >= offset && rows.length < limit) rows.push(e.row);
        total++;
      }
      return { total, rows };
    },
  };
}
