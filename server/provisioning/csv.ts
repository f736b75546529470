/**
 * Reading the CSV files spreadsheets export: UTF-8 with or without BOM (anything else is refused as a whole,
 * because a Latin-1 or Windows-1258 file would turn "Đức Cơ" into mojibake that looks valid), a header row,
 * and records numbered by the file line they start on, so a report can point at the line to fix. A stray quote
 * inside an unquoted field (`Màn hình 55"`) is kept as written rather than failing the whole file.
 */
import { parse } from 'csv-parse/sync';
import { badRequest } from './errors.js';

export interface CsvRecord {
  /** 1-based line of the file where the record starts. */
  line: number;
  fields: string[];
}

export interface CsvFile {
  header: string[];
  records: CsvRecord[];
}

export const MAX_CSV_BYTES = 5 * 1024 * 1024;

export function decodeUtf8(bytes: Uint8Array): string {
  try {
    return new TextDecoder('utf-8', { fatal: true, ignoreBOM: false }).decode(bytes);
  } catch {
    const offset = firstInvalidUtf8(bytes);
    const byte = bytes[offset] ?? 0;
    const line = 1 + bytes.subarray(0, offset).filter((b) => b === 0x0a).length;
    throw badRequest(
      'csv_not_utf8',
      `the file is not UTF-8 (byte 0x${byte.toString(16).toUpperCase().padStart(2, '0')} on line ${line} is invalid): ` +
        'save it as "CSV UTF-8" and import again; nothing was imported',
    );
  }
}

/** Offset of the first byte where UTF-8 decoding fails (for the error message only). */
function firstInvalidUtf8(bytes: Uint8Array): number {
  const decoder = new TextDecoder('utf-8', { fatal: true });
  let low = 0;
  let high = bytes.length;
  // Binary search over prefixes: a valid prefix decodes (possibly with a truncated final sequence, streamed).
  while (low < high) {
    const mid = (low + high + 1) >> 1;
    try {
      decoder.decode(bytes.subarray(0, mid), { stream: true });
      decoder.decode(); // reset
      low = mid;
    } catch {
      high = mid - 1;
    }
  }
  return low;
}

export function readCsv(bytes: Uint8Array): CsvFile {
  if (bytes.length > MAX_CSV_BYTES) throw badRequest('csv_too_large', `the file is larger than ${MAX_CSV_BYTES} bytes`);
  const text = decodeUtf8(bytes);
  let parsed: Array<{ record: string[]; info: { lines: number } }>;
  try {
    parsed = parse(text, {
      bom: true,
      relax_column_count: true,
      relax_quotes: true,
      skip_empty_lines: true,
      trim: true,
      info: true,
    }) as unknown as typeof parsed;
  } catch (error) {
    throw badRequest('csv_malformed', `the file is not valid CSV: ${(error as Error).message}; nothing was imported`);
  }
  const [head, ...body] = parsed;
  if (!head) throw badRequest('csv_empty', 'the file is empty: expected a header row and at least one row');
  return {
    header: head.record.map((name) => name.trim().toLowerCase()),
    // info.lines is the line the record ENDS on; a quoted field may span lines, so count back its newlines.
    records: body.map(({ record, info }) => ({
      line: info.lines - record.reduce((n, field) => n + (field.match(/\n/g)?.length ?? 0), 0),
      fields: record,
    })),
  };
}

/** Refuses a file whose header lacks required columns: every row would be rejected for the same reason. */
export function requireColumns(header: string[], required: readonly string[]): void {
  const missing = required.filter((name) => !header.includes(name));
  if (missing.length)
    throw badRequest(
      'csv_missing_columns',
      `the header lacks column(s) ${missing.join(', ')} (found: ${header.join(', ') || 'none'}); nothing was imported`,
    );
}
