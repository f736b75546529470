/** Reads the shipped Gia Lai seed (server/seed/) as engine data: used by tests and the benchmark. */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'csv-parse/sync';
import { SiteKind } from '../../protocol/index.js';
import type { CoverageSite } from './engine.js';
import { type Plan, parsePlan } from './plan.js';

const SEED_DIR = join(dirname(fileURLToPath(import.meta.url)), '..', 'seed');

export function readSeedPlan(): Plan {
  return parsePlan(JSON.parse(readFileSync(join(SEED_DIR, 'gia-lai-plan-2509.json'), 'utf8')));
}

export function readSeedSites(): CoverageSite[] {
  // The reference file has an unquoted comma inside one note (the Lệ Thanh gate's), so rows are read
  // as arrays and anything past the seventh column is the note.
  const rows: string[][] = parse(readFileSync(join(SEED_DIR, 'gia-lai-border-sites.csv'), 'utf8'), {
    skip_empty_lines: true,
    relax_column_count: true,
    from_line: 2,
  });
  return rows.map(([id, kind, name, parentId, border, adminCode, validTo]) => ({
    id: id as string,
    kind: SiteKind.parse(kind),
    name: name as string,
    parentId: parentId || null,
    border: border === '1',
    adminCode: adminCode || null,
    validFrom: null,
    validTo: validTo || null,
  }));
}
