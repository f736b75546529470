/** `coverage.csv`: UTF-8 with a BOM (so spreadsheets show Vietnamese), CRLF lines, RFC 4180 quoting. */
import {
  type Cell,
  COMMUNE_HEADER,
  type CoverageReport,
  communeRow,
  headerLines,
  TARGET_HEADER,
  targetRow,
} from './report-rows.js';

function csvCell(cell: Cell): string {
  if (cell === null) return '';
  const text = String(cell);
  return /[",\r\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

export function coverageCsv(report: CoverageReport): string {
  const { coverage, communes } = report;
  const lines: Cell[][] = [
    ...headerLines(report),
    [],
    ['Mục tiêu / Targets'],
    TARGET_HEADER,
    ...coverage.targets.map((t) => targetRow(t, coverage.asOf)),
    [],
    ['Xã / Communes'],
    COMMUNE_HEADER,
    ...communes.communes.map((row) => communeRow(row, report.utcOffsetMinutes)),
  ];
  return `\uFEFF${lines.map((line) => line.map(csvCell).join(',')).join('\r\n')}\r\n`;
}
