/** The per-row report every import returns (protocol `ImportReport`), and the all-or-nothing rule shared by the imports. */
import type { ImportReport, ImportRow } from '../../protocol/index.js';

export type { ImportReport, ImportRow };

type ImportAction = ImportRow['action'];

/** A row that passed every check, with what applying it will do. */
export interface PlannedRow<T> {
  line: number;
  id: string;
  action: 'created' | 'updated';
  value: T;
}

export function summarize(rows: ImportRow[], applied: boolean): ImportReport {
  const count = (action: ImportAction) => rows.filter((r) => r.action === action).length;
  return { applied, created: count('created'), updated: count('updated'), rejected: count('rejected'), rows };
}

/**
 * Atomic mode with any rejected row: nothing is written, and every valid row says why it was not applied.
 * Otherwise the valid rows are applied (by the caller, in one transaction).
 */
export function finishReport<T>(
  planned: PlannedRow<T>[],
  rejected: ImportRow[],
  atomic: boolean,
  apply: (rows: PlannedRow<T>[]) => void,
): ImportReport {
  const byLine = (a: ImportRow, b: ImportRow) => a.line - b.line;
  if (atomic && rejected.length > 0) {
    const notApplied = planned.map(
      (p): ImportRow => ({
        line: p.line,
        id: p.id,
        action: 'rejected',
        reason: `valid, but not applied: atomic import and ${rejected.length} other row(s) rejected`,
      }),
    );
    return summarize([...rejected, ...notApplied].sort(byLine), false);
  }
  if (planned.length > 0) apply(planned);
  const done = planned.map((p): ImportRow => ({ line: p.line, id: p.id, action: p.action }));
  return summarize([...rejected, ...done].sort(byLine), planned.length > 0);
}

/** Header name → field, for one record; fields past the header are joined into the last column. */
export function toRecord(header: string[], fields: string[], joinExtraIntoLast: boolean): Record<string, string> {
  const record: Record<string, string> = {};
  header.forEach((name, i) => {
    const last = i === header.length - 1;
    record[name] = last && joinExtraIntoLast ? fields.slice(i).join(', ') : (fields[i] ?? '');
  });
  return record;
}

/** Why a record's shape is wrong, or null: too few fields names the missing columns. */
export function shapeProblem(header: string[], fields: string[], allowExtra: boolean): string | null {
  if (fields.length < header.length)
    return `row has ${fields.length} of ${header.length} columns: missing ${header.slice(fields.length).join(', ')}`;
  if (fields.length > header.length && !allowExtra) return `row has ${fields.length} fields, the header has ${header.length}`;
  return null;
}
