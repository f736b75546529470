/**
 * The department's coverage report as rows of cells, shared by the CSV and the XLSX: Vietnamese headers
 * first (the report goes to the province), English after a slash.
 */
import type { CommuneRow, CommunesReport } from './communes.js';
import { dayOf } from './days.js';
import type { PlanCoverage, TargetCoverage } from './engine.js';
import type { Plan } from './plan.js';

export type Cell = string | number | null;

export interface CoverageReport {
  plan: Plan;
  coverage: PlanCoverage;
  communes: CommunesReport;
  utcOffsetMinutes: number;
}

export function headerLines(report: CoverageReport): Cell[][] {
  const { plan, coverage } = report;
  return [
    ['Báo cáo tiến độ trang bị khai thác cơ sở dữ liệu thông tin đối ngoại / Coverage report'],
    ['Kế hoạch / Plan', plan.document, plan.title],
    ['Tỉnh / Province', plan.province],
    ['Ngày ban hành / Issued', plan.issued],
    ['Số liệu đến ngày / As of', coverage.asOf],
  ];
}

export const TARGET_HEADER: Cell[] = [
  'Giai đoạn / Phase',
  'Mã / Id',
  'Mục tiêu / Target',
  'Hạn / Deadline',
  'Đánh giá ngày / Judged on',
  'Tổng số / Total',
  'Đã trang bị / Equipped',
  'Đang hoạt động / Operational',
  'Yêu cầu / Required',
  'Kết quả / Result',
];

export function resultText(t: TargetCoverage): string {
  if (t.noUnitsInScope) return 'Không còn đơn vị trong phạm vi / No units in scope';
  return t.met ? 'Đạt / Met' : 'Chưa đạt / Not met';
}

export function targetRow(t: TargetCoverage, asOf: string): Cell[] {
  const judgedOn = t.deadline < asOf ? t.deadline : asOf;
  return [t.phase, t.id, t.label, t.deadline, judgedOn, t.total, t.equipped, t.operational, t.requiredCount, resultText(t)];
}

export const COMMUNE_HEADER: Cell[] = [
  'Huyện (cũ) / District (former)',
  'Xã / Commune',
  'Mã xã / Commune code',
  'Xã đã trang bị / Commune equipped',
  'Số điểm / Sites',
  'Thiết bị / Devices',
  'Điểm đã trang bị / Sites equipped',
  'Điểm đang hoạt động / Sites operational',
  'Điểm đang triển khai / Sites planned',
  'Lần cuối liên lạc / Last seen',
  'Nội dung thấp nhất / Lowest content seq',
  'Mất kết nối / Offline',
  'Chưa áp dụng nội dung / Never applied',
  'Đồng bộ lỗi / Sync failed',
];

export function communeRow(row: CommuneRow, utcOffsetMinutes: number): Cell[] {
  const lastSeen =
    row.lastSeen === null
      ? null
      : `${dayOf(row.lastSeen, utcOffsetMinutes)} ${new Date(row.lastSeen + utcOffsetMinutes * 60_000).toISOString().slice(11, 16)}`;
  return [
    row.district ? row.district.name : null,
    row.commune.name,
    row.commune.adminCode,
    row.communeEquipped ? 'Có / Yes' : 'Chưa / No',
    row.sites,
    row.devices,
    row.equipped,
    row.operational,
    row.planned,
    lastSeen,
    row.contentSeq,
    row.problems.offline,
    row.problems.neverApplied,
    row.problems.syncFailed,
  ];
}
