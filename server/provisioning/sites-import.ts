/**
 * `POST /api/v1/sites/import`: the reference CSV format (server/seed/gia-lai-border-sites.csv; the row
 * schema is the seed's `SiteCsvRow`). New ids are created, known ids updated; a row whose parent is neither
 * in the registry nor a valid row of the same file is rejected, and so are its descendants.
 */
import { Id } from '../../protocol/index.js';
import type { Database } from '../db/open-database.js';
import { SiteCsvRow, siteFromCsvRow } from '../db/seed.js';
import { getSite, type SiteInput, upsertSites } from '../registry/sites-repo.js';
import { readCsv, requireColumns } from './csv.js';
import { finishReport, type ImportReport, type ImportRow, type PlannedRow, shapeProblem, toRecord } from './import-report.js';

export const SITE_REQUIRED_COLUMNS = ['id', 'kind', 'name', 'parent_id', 'border'] as const;

function issues(error: { issues: Array<{ path: PropertyKey[]; message: string }> }): string {
  return error.issues.map((i) => `${i.path.map(String).join('.') || 'row'}: ${i.message}`).join('; ');
}

export function importSites(db: Database, bytes: Uint8Array, options: { atomic: boolean }): ImportReport {
  const csv = readCsv(bytes);
  requireColumns(csv.header, SITE_REQUIRED_COLUMNS);
  const rejected: ImportRow[] = [];
  const candidates = new Map<string, { line: number; site: SiteInput }>();
  // The reference file's free-text `note` holds unquoted commas: extra fields belong to it (as in the seed).
  const noteLast = csv.header[csv.header.length - 1] === 'note';

  for (const { line, fields } of csv.records) {
    const reject = (id: string | null, reason: string) => rejected.push({ line, id, action: 'rejected', reason });
    const shape = shapeProblem(csv.header, fields, noteLast);
    const record = toRecord(csv.header, fields, noteLast);
    const rawId = record.id || null;
    if (shape) {
      reject(rawId, shape);
      continue;
    }
    const idCheck = Id.safeParse(record.id);
    if (!idCheck.success) {
      reject(rawId, `id '${record.id ?? ''}' ${idCheck.error.issues[0]?.message ?? 'is invalid'}`);
      continue;
    }
    const parsed = SiteCsvRow.safeParse(record);
    if (!parsed.success) {
      reject(rawId, issues(parsed.error));
      continue;
    }
    const r = parsed.data;
    const first = candidates.get(r.id) ?? rejected.find((x) => x.id === r.id);
    if (first) {
      reject(r.id, `duplicate id '${r.id}' (first on line ${first.line})`);
      continue;
    }
    if (r.parent_id === r.id) {
      reject(r.id, `site '${r.id}' cannot be its own parent`);
      continue;
    }
    candidates.set(r.id, {
      line,
      site: siteFromCsvRow(r),
    });
  }

  // A parent resolves when it is in the registry or is itself a resolved row of this file (any order).
  const resolved = new Set<string>();
  let progress = true;
  while (progress) {
    progress = false;
    for (const [id, { site }] of candidates) {
      if (resolved.has(id)) continue;
      if (
        site.parentId === null ||
        resolved.has(site.parentId) ||
        (!candidates.has(site.parentId) && getSite(db, site.parentId))
      ) {
        resolved.add(id);
        progress = true;
      }
    }
  }
  const planned: PlannedRow<SiteInput>[] = [];
  for (const [id, { line, site }] of candidates) {
    if (resolved.has(id)) {
      planned.push({ line, id, action: getSite(db, id) ? 'updated' : 'created', value: site });
      continue;
    }
    const parent = site.parentId as string;
    // The parent is in the file but was rejected itself (or its own chain is unknown), or it is nowhere.
    const parentLine = candidates.get(parent)?.line ?? rejected.find((x) => x.id === parent)?.line;
    const reason =
      parentLine !== undefined
        ? `parent '${parent}' was rejected (line ${parentLine})`
        : `unknown parent '${parent}': not in the registry nor in this file`;
    rejected.push({ line, id, action: 'rejected', reason });
  }

  return finishReport(planned, rejected, options.atomic, (rows) => {
    upsertSites(
      db,
      rows.map((r) => r.value),
      { overwrite: true },
    );
  });
}
