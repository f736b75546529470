/**
 * `yearly.docx`: the report the department files each year, as a Word document (the `docx` package writes real
 * OOXML that Word and LibreOffice open; the CSV/XLSX stay for figures). Vietnamese, in the administrative layout:
 * the national header, the plan's number, then one table per section. The figures come from yearly-data.ts.
 */
import {
  AlignmentType,
  BorderStyle,
  Document,
  HeadingLevel,
  Packer,
  Paragraph,
  Table,
  TableCell,
  TableRow,
  TextRun,
  WidthType,
} from 'docx';
import { COMMUNE_HEADER, communeRow, resultText, TARGET_HEADER, targetRow } from '../coverage/report-rows.js';
import type { YearlyReport } from './yearly-data.js';

export const NATIONAL_HEADER = ['CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM', 'Độc lập - Tự do - Hạnh phúc'] as const;

type Cell = string | number | null;

const text = (v: Cell) => (v === null ? '—' : String(v));
const percent = (share: number | null) => (share === null ? '—' : `${(share * 100).toFixed(1)}%`);

function centered(value: string, options: { bold?: boolean; size?: number; italics?: boolean } = {}): Paragraph {
  return new Paragraph({
    alignment: AlignmentType.CENTER,
    children: [new TextRun({ text: value, bold: options.bold, italics: options.italics, size: options.size ?? 26 })],
  });
}

function table(header: Cell[], rows: Cell[][]): Table {
  const border = { style: BorderStyle.SINGLE, size: 4, color: '666666' };
  const cell = (v: Cell, bold = false) =>
    new TableCell({
      borders: { top: border, bottom: border, left: border, right: border },
      children: [new Paragraph({ children: [new TextRun({ text: text(v), bold, size: 18 })] })],
    });
  return new Table({
    width: { size: 100, type: WidthType.PERCENTAGE },
    rows: [
      new TableRow({ tableHeader: true, children: header.map((h) => cell(h, true)) }),
      ...rows.map((r) => new TableRow({ children: r.map((v) => cell(v)) })),
    ],
  });
}

const heading = (value: string) => new Paragraph({ heading: HeadingLevel.HEADING_2, children: [new TextRun(value)] });
const line = (value: string) => new Paragraph({ children: [new TextRun({ text: value, size: 24 })] });

export async function yearlyDocx(r: YearlyReport): Promise<Buffer> {
  const { plan, coverage } = r;
  const met = coverage.targets.filter((t) => t.met).length;
  const doc = new Document({
    creator: 'border-kiosk-fleet',
    title: `Báo cáo năm ${r.year} — ${plan.document}`,
    styles: { default: { document: { run: { font: 'Times New Roman' } } } },
    sections: [
      {
        children: [
          centered(NATIONAL_HEADER[0], { bold: true }),
          centered(NATIONAL_HEADER[1], { bold: true }),
          centered('———————'),
          centered(`BÁO CÁO KẾT QUẢ NĂM ${r.year}`, { bold: true, size: 30 }),
          centered(`Thực hiện Kế hoạch số ${plan.document} ngày ${plan.issued} của ${plan.province}`, { italics: true }),
          centered(plan.title, { italics: true, size: 22 }),
          line(`Số liệu đến ngày ${coverage.asOf}. Đạt ${met}/${coverage.targets.length} chỉ tiêu.`),

          heading('1. Kết quả trang bị theo chỉ tiêu của kế hoạch'),
          table(
            TARGET_HEADER,
            coverage.targets.map((t) => targetRow(t, coverage.asOf)),
          ),
          line(
            coverage.targets
              .map((t) => `${t.id}: ${t.equipped}/${t.total} (yêu cầu ${t.requiredCount}) — ${resultText(t)}`)
              .join('; '),
          ),

          heading('2. Tiến độ theo xã'),
          table(
            COMMUNE_HEADER,
            r.communes.communes.map((row) => communeRow(row, r.utcOffsetMinutes)),
          ),

          heading('3. Nội dung đã xuất bản trong năm theo ngôn ngữ'),
          table(
            ['Ngôn ngữ / Language', 'Số tin bài / Items published'],
            r.publishedByLang.length ? r.publishedByLang.map((p) => [p.lang, p.items]) : [['—', 0]],
          ),

          heading('4. Thời gian hoạt động của máy theo điểm'),
          line(
            'Tỷ lệ số giờ trong năm có ít nhất một máy của điểm gửi tín hiệu tình trạng về máy chủ (máy chạy khi mất kết nối không được tính).',
          ),
          table(
            ['Điểm / Site', 'Loại / Kind', 'Số máy / Devices', 'Giờ hoạt động / Hours online', 'Số giờ / Hours', 'Tỷ lệ / Share'],
            r.availability.map((a) => [a.name, a.kind, a.devices, a.hoursOnline, a.hoursInPeriod, percent(a.share)]),
          ),

          heading('5. Lượt xem theo ngôn ngữ'),
          table(
            ['Ngôn ngữ / Language', 'Lượt xem / Views', 'Thời gian xem (giờ) / Hours viewed'],
            r.viewsByLang.length ? r.viewsByLang.map((v) => [v.lang, v.views, (v.seconds / 3600).toFixed(1)]) : [['—', 0, '0.0']],
          ),
          line(`Lập tự động ngày ${new Date(r.generatedAt + r.utcOffsetMinutes * 60_000).toISOString().slice(0, 10)}.`),
        ],
      },
    ],
  });
  return Packer.toBuffer(doc);
}
