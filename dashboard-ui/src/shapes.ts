/**
 * The few answers the page reads whose routes protocol/ does not describe yet: a device's commands
 * (server/commands/), enrollment tokens (server/provisioning/), the audit log and the signed-in user (server/auth/).
 * Each should move to protocol/api-dashboard.ts with its route; the fleet, coverage, health, content and people
 * answers come from protocol/ already (api.ts, api-dashboard.ts), typed by the schemas the server answers through.
 */
import type { CommandState, Role } from '../../protocol/domain.js';

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
