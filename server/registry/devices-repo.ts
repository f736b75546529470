/** Devices (DESIGN §3): registry rows and the small updates the broker makes as devices come and go. */
import type { DeviceKind, DeviceStatus } from '../../protocol/index.js';
import type { Database } from '../db/open-database.js';
import { hashDeviceSecret } from './device-secret.js';

export interface Device {
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
  bootId: string | null;
  contentSeq: number | null;
  equippedAt: number | null;
  decommissionedAt: number | null;
  createdAt: number;
}

export interface DeviceRow {
  id: string;
  site_id: string | null;
  kind: DeviceKind;
  model: string | null;
  serial: string | null;
  status: DeviceStatus;
  secret_hash: string | null;
  first_seen: number | null;
  last_seen: number | null;
  online: number;
  agent_version: string | null;
  boot_id: string | null;
  content_seq: number | null;
  equipped_at: number | null;
  decommissioned_at: number | null;
  created_at: number;
}

export function toDevice(row: DeviceRow): Device {
  return {
    id: row.id,
    siteId: row.site_id,
    kind: row.kind,
    model: row.model,
    serial: row.serial,
    status: row.status,
    firstSeen: row.first_seen,
    lastSeen: row.last_seen,
    online: row.online === 1,
    agentVersion: row.agent_version,
    bootId: row.boot_id,
    contentSeq: row.content_seq,
    equippedAt: row.equipped_at,
    decommissionedAt: row.decommissioned_at,
    createdAt: row.created_at,
  };
}

export interface RegisterDeviceInput {
  id: string;
  /** The plain secret; only its hash is stored. */
  secret: string;
  siteId?: string | null;
  kind?: DeviceKind;
  model?: string | null;
  serial?: string | null;
  status?: DeviceStatus;
  now?: number;
}

/**
 * Adds a device that may then connect with `id` / `secret` (enrollment calls this). Composable inside a
 * caller's transaction. Throws on a duplicate id (SQLITE_CONSTRAINT_PRIMARYKEY).
 */
export function registerDevice(db: Database, input: RegisterDeviceInput): Device {
  const now = input.now ?? Date.now();
  db.prepare(
    `INSERT INTO devices (id, site_id, kind, model, serial, status, secret_hash, created_at)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
  ).run(
    input.id,
    input.siteId ?? null,
    input.kind ?? 'kiosk',
    input.model ?? null,
    input.serial ?? null,
    input.status ?? 'provisioned',
    hashDeviceSecret(input.secret),
    now,
  );
  return getDevice(db, input.id) as Device;
}

export function getDeviceRow(db: Database, id: string): DeviceRow | null {
  return (db.prepare('SELECT * FROM devices WHERE id = ?').get(id) as DeviceRow | undefined) ?? null;
}

export function getDevice(db: Database, id: string): Device | null {
  const row = getDeviceRow(db, id);
  return row ? toDevice(row) : null;
}

export interface DeviceFilter {
  siteId?: string;
  status?: DeviceStatus;
  online?: boolean;
  limit: number;
  offset: number;
}

export function listDevices(db: Database, filter: DeviceFilter): { total: number; devices: Device[] } {
  const where = `(@siteId IS NULL OR site_id = @siteId) AND (@status IS NULL OR status = @status)
    AND (@online IS NULL OR online = @online)`;
  const params = {
    siteId: filter.siteId ?? null,
    status: filter.status ?? null,
    online: filter.online === undefined ? null : filter.online ? 1 : 0,
  };
  const total = (db.prepare(`SELECT count(*) AS n FROM devices WHERE ${where}`).get(params) as { n: number }).n;
  const rows = db
    .prepare(`SELECT * FROM devices WHERE ${where} ORDER BY id LIMIT @limit OFFSET @offset`)
    .all({ ...params, limit: filter.limit, offset: filter.offset }) as DeviceRow[];
  return { total, devices: rows.map(toDevice) };
}

/** Marks a device decommissioned (its history stays); returns false when it does not exist. */
export function decommissionDevice(db: Database, id: string, now = Date.now()): boolean {
  return (
    db
      .prepare(
        `UPDATE devices SET status = 'decommissioned', online = 0, decommissioned_at = coalesce(decommissioned_at, ?)
         WHERE id = ?`,
      )
      .run(now, id).changes === 1
  );
}

/** Marks every device offline (at start: no connection survives a restart). */
export function markAllOffline(db: Database): number {
  return db.prepare('UPDATE devices SET online = 0 WHERE online = 1').run().changes;
}
