/** `coverage.xlsx`: one sheet per phase (its targets) and one per district (its communes), each with the header. */
import ExcelJS from 'exceljs';
import {
  type Cell,
  COMMUNE_HEADER,
  type CoverageReport,
  communeRow,
  headerLines,
  TARGET_HEADER,
  targetRow,
} from './report-rows.js';

/** Excel refuses sheet names over 31 characters, with []:*?/\ or used twice. */
function sheetName(wanted: string, taken: Set<string>): string {
  const base = wanted.replace(/[[\]:*?/\\]/g, '-').slice(0, 31);
  let name = base;
  for (let i = 2; taken.has(name.toLowerCase()); i++) name = `${base.slice(0, 27)} (${i})`;
  taken.add(name.toLowerCase());
  return name;
}

function addSheet(workbook: ExcelJS.Workbook, name: string, report: CoverageReport, header: Cell[], rows: Cell[][]): void {
  const sheet = workbook.addWorksheet(name);
  for (const line of headerLines(report)) sheet.addRow(line);
  sheet.getRow(1).font = { bold: true, size: 13 };
  sheet.addRow([]);
  const head = sheet.addRow(header);
  head.font = { bold: true };
  for (const row of rows) sheet.addRow(row);
  sheet.columns.forEach((column, i) => {
    column.width = i === 0 ? 24 : 18;
  });
}

export async function coverageXlsx(report: CoverageReport): Promise<Buffer> {
  const workbook = new ExcelJS.Workbook();
  workbook.creator = 'border-kiosk-fleet';
  const taken = new Set<string>();
  const { coverage, communes } = report;
  const phases = [...new Set(coverage.targets.map((t) => t.phase))];
  for (const phase of phases) {
    const rows = coverage.targets.filter((t) => t.phase === phase).map((t) => targetRow(t, coverage.asOf));
    addSheet(workbook, sheetName(`Giai đoạn ${phase}`, taken), report, TARGET_HEADER, rows);
  }
  const districts = new Map<string, Cell[][]>();
  for (const row of communes.communes) {
    const key = row.district?.name ?? 'Không thuộc huyện';
    const list = districts.get(key) ?? [];
    list.push(communeRow(row, report.utcOffsetMinutes));
    districts.set(key, list);
  }
  for (const [district, rows] of districts) {
    addSheet(workbook, sheetName(`Huyện ${district}`, taken), report, COMMUNE_HEADER, rows);
  }
  return Buffer.from(await workbook.xlsx.writeBuffer());
}
