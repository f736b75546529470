/**
 * Answers of the fleet and coverage API that protocol/ does not describe yet, written once from the server's own
 * types (server/coverage/engine.ts, trend.ts, communes.ts, dashboard-repo.ts, alerts.ts, registry/*, commands/*).
 * Each should move to protocol/api.ts and be used by its route too; until then this is the one place the page
 * names their fields. Content and people answers come from protocol/ already.
 */
import type { CommandState, DeviceKind, DeviceStatus, Role, SiteKind } from '../../protocol/domain.js';

export interface PlanSummary {
  id: string;
  province: string;
  document: string;
  issued: string;
  title: string;
}
export interface PlansOut {
  plans: PlanSummary[];
}
export interface TargetCoverage {
  id: string;
  phase: string;
  deadline: string;
  label: string;
  total: number;
  equipped: number;
  operational: number | null;
  requiredCount: number;
  met: boolean;
  noUnitsInScope: boolean;
}
export interface PlanCoverage {
  plan: PlanSummary;
  asOf: string;
  targets: TargetCoverage[];
}
export interface TrendPoint {
  day: string;
  total: number;
  equipped: number;
  requiredCount: number;
  met: boolean;
}
export interface Projection {
  since: string;
  ratePerMonth: number;
  requiredBy: string | null;
  allBy: string | null;
  status: 'no_units' | 'met' | 'on_track' | 'behind' | 'never';
}
export interface TargetTrend {
  id: string;
  phase: string;
  deadline: string;
  label: string;
  points: TrendPoint[];
  projection: Projection;
}
export interface PlanTrend {
  plan: PlanSummary;
  from: string;
  to: string;
  targets: TargetTrend[];
}
export interface Problems {
  offline: number;
  neverApplied: number;
  syncFailed: number;
}
export interface CommuneRow {
  commune: { id: string; name: string; adminCode: string | null };
  district: { id: string; name: string; abolished: boolean } | null;
  communeEquipped: boolean;
  sites: number;
  equipped: number;
  operational: number | null;
  planned: number;
  devices: number;
  lastSeen: number | null;
  contentSeq: number | null;
  problems: Problems;
}
export interface CommunesOut {
  plan: PlanSummary;
  asOf: string;
  total: number;
  limit: number;
  offset: number;
  communes: CommuneRow[];
}
export type SiteState = 'operational' | 'equipped' | 'planned' | 'none';
export interface SiteRowOut {
  id: string;
  kind: SiteKind;
  name: string;
  border: boolean;
  lat: number | null;
  lon: number | null;
  validTo: string | null;
  districtId: string | null;
  districtName: string | null;
  communeId: string | null;
  communeName: string | null;
  devices: number;
  counting: number;
  operational: number;
  planned: number;
  lastSeen: number | null;
  contentSeqMin: number | null;
  contentSeqMax: number | null;
  offline: number;
  syncFailing: number;
  problems: number;
  state: SiteState;
}
export interface SitePageOut {
  total: number;
  limit: number;
  offset: number;
  sites: SiteRowOut[];
}
export interface DistrictsOut {
  districts: Array<{ id: string; name: string }>;
}
export interface MapOut {
  columns: ['id', 'name', 'kind', 'districtName', 'communeName', 'lat', 'lon', 'state', 'problems'];
  sites: Array<[string, string, SiteKind, string | null, string | null, number | null, number | null, SiteState, number]>;
}
export const ALERT_TYPES = ['offline', 'disk', 'not_synced', 'clock_skew', 'download_failures', 'manifest_expired'] as const;
export type AlertType = (typeof ALERT_TYPES)[number];
export interface AlertOut {
  id: string;
  type: AlertType;
  severity: 'critical' | 'warning';
  deviceId: string;
  siteId: string | null;
  siteName: string | null;
  districtName: string | null;
  since: number | null;
  value: number | null;
  detail: string | null;
}
export interface AlertsOut {
  total: number;
  counts: Record<AlertType, number>;
  limit: number;
  offset: number;
  alerts: AlertOut[];
}
export interface SiteOut {
  id: string;
  kind: SiteKind;
  name: string;
  parentId: string | null;
  lat: number | null;
  lon: number | null;
  validTo: string | null;
}
export interface DeviceOut {
  id: string;
  siteId: string | null;
  kind: DeviceKind;
  model: string | null;
  serial: string | null;
  status: DeviceStatus;
  firstSeen: number | null;
  lastSeen: number | null;
  online: boolean;
  agentVersion: string | null;
  contentSeq: number | null;
  equippedAt: number | null;
  decommissionedAt: number | null;
  createdAt: number;
}
export interface DeviceSyncReport {
  manifestSeq: number;
  state: string;
  bytes: number;
  missing: number;
  error: string | null;
  failures: number;
  updatedAt: number;
}
export interface DeviceDetailOut {
  device: DeviceOut;
  sync: DeviceSyncReport | null;
}
export interface DevicesOut {
  devices: DeviceOut[];
}
export interface HealthPoint {
  receivedTs: number;
  cpuLoad: number;
  memUsed: number;
  diskUsed: number;
  tempC: number | null;
}
export interface HealthHour {
  hour: number;
  cpuAvg: number | null;
  memAvg: number | null;
  diskUsedMax: number | null;
  tempMax: number | null;
}
export type HealthOut = { resolution: 'raw'; samples: HealthPoint[] } | { resolution: 'hour'; hours: HealthHour[] };
export interface DeviceEventOut {
  id: number;
  deviceId: string;
  ts: number | null;
  receivedTs: number;
  source: string;
  type: string;
  severity: string;
  message: string;
}
export interface CommandOut {
  id: string;
  type: string;
  status: CommandState;
  createdBy: string;
  createdAt: number;
  detail: string | null;
}
export interface EnrollmentTokenOut {
  id: string;
  token: string;
  siteId: string;
  expiresAt: number;
  qrSvgUrl?: string;
}
export interface AuditEntry {
  id: number;
  ts: number;
  actor: string;
  action: string;
  target: string | null;
  detail: unknown;
}
export interface Me {
  user: { username: string; role: Role };
}
