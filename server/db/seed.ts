/**
 * The default seed (DESIGN §9): Gia Lai's border sites and plan 2509/KH-UBND, so a fresh start shows a real
 * province. Idempotent: rows that exist are left as they are (a person may have edited them).
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'csv-parse/sync';
import { z } from 'zod';
import { type SiteInput, upsertSites } from '../registry/sites-repo.js';
import type { Database } from './open-database.js';

const SEED_DIR = join(dirname(fileURLToPath(import.meta.url)), '..', 'seed');

const emptyToNull = (v: unknown) => (v === '' || v === undefined ? null : v);
const DateOrNull = z.preprocess(emptyToNull, z.iso.date().nullable());
const TextOrNull = z.preprocess(emptyToNull, z.string().nullable());
const Degrees = (limit: number) => z.preprocess(emptyToNull, z.coerce.number().min(-limit).max(limit).nullable());

/** One row of the reference CSV format (also what `POST /api/v1/sites/import` reads). */
export const SiteCsvRow = z
  .object({
    id: z.string().min(1).max(64),
    kind: z.enum(['district', 'commune', 'station', 'gate', 'office']),
    name: z.string().min(1),
    parent_id: TextOrNull.default(null),
    border: z.preprocess((v) => v === '1' || v === 'true' || v === 1 || v === true, z.boolean()),
    admin_code: TextOrNull.default(null),
    /** WGS 84 degrees; lat and lon are given together or not at all. */
    lat: Degrees(90).default(null),
    lon: Degrees(180).default(null),
    /** 1 = the coordinates are an estimate (commune centre, read off a map), 0 or empty = surveyed / official. */
    coord_approx: z.preprocess((v) => v === '1' || v === 'true' || v === 1 || v === true, z.boolean()).default(false),
    valid_from: DateOrNull.default(null),
    valid_to: DateOrNull.default(null),
    note: TextOrNull.default(null),
  })
  .refine((r) => (r.lat === null) === (r.lon === null), { path: ['lon'], message: 'lat and lon are given together' });

/**
 * Parses sites from CSV text in the reference format (header row; unknown columns ignored). Fields beyond
 * the header's count are joined back into the last column: the reference file's free-text `note` holds
 * unquoted commas.
 */
export function parseSitesCsv(text: string): SiteInput[] {
  const rows: string[][] = parse(text, { relax_column_count: true, skip_empty_lines: true, trim: true, bom: true });
  const [header, ...body] = rows;
  if (!header) return [];
  const records = body.map((fields) => {
    const record: Record<string, string> = {};
    header.forEach((name, i) => {
      record[name] = i === header.length - 1 ? fields.slice(i).join(', ') : (fields[i] ?? '');
    });
    return record;
  });
  return records.map((record, i) => {
    const row = SiteCsvRow.safeParse(record);
    if (!row.success)
      throw new Error(`sites CSV line ${i + 2}: ${row.error.issues.map((x) => `${x.path.join('.')}: ${x.message}`).join('; ')}`);
    return siteFromCsvRow(row.data);
  });
}

/** A validated CSV row in the registry's shape. */
export function siteFromCsvRow(r: z.infer<typeof SiteCsvRow>): SiteInput {
  return {
    id: r.id,
    kind: r.kind,
    name: r.name,
    parentId: r.parent_id,
    border: r.border,
    adminCode: r.admin_code,
    lat: r.lat,
    lon: r.lon,
    coordApprox: r.coord_approx,
    validFrom: r.valid_from,
    validTo: r.valid_to,
    note: r.note,
  };
}

/** Loads the shipped seed into an empty registry; returns how many sites and plans were added. */
export function seedReferenceData(db: Database, seedDir: string = SEED_DIR): { sites: number; plans: number } {
  const sites = parseSitesCsv(readFileSync(join(seedDir, 'gia-lai-border-sites.csv'), 'utf8'));
  const planText = readFileSync(join(seedDir, 'gia-lai-plan-2509.json'), 'utf8');
  const plan = z
    .object({ id: z.string().min(1) })
    .passthrough()
    .parse(JSON.parse(planText));
  const insertPlan = db.prepare('INSERT OR IGNORE INTO plans (id, definition, loaded_at) VALUES (?, ?, ?)');
  return db.transaction(() => {
    const addedSites = upsertSites(db, sites, { overwrite: false });
    const addedPlans = insertPlan.run(plan.id, JSON.stringify(plan), Date.now()).changes;
    return { sites: addedSites, plans: addedPlans };
  })();
}
