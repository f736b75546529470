/** The command outbox (DESIGN §3): queued → sent → acked → succeeded | failed | expired. */
import type { CommandState } from '../../protocol/index.js';
import type { Database } from '../db/open-database.js';

export interface Command {
  id: string;
  deviceId: string;
  type: string;
  params: unknown;
  status: CommandState;
  createdBy: string;
  createdAt: number;
  expiresAt: number;
  sentAt: number | null;
  sendCount: number;
  ackedAt: number | null;
  finishedAt: number | null;
  detail: string | null;
}

interface CommandRow {
  id: string;
  device_id: string;
  type: string;
  params: string;
  status: CommandState;
  created_by: string;
  created_at: number;
  expires_at: number;
  sent_at: number | null;
  send_count: number;
  acked_at: number | null;
  finished_at: number | null;
  detail: string | null;
}

const toCommand = (r: CommandRow): Command => ({
  id: r.id,
  deviceId: r.device_id,
  type: r.type,
  params: JSON.parse(r.params),
  status: r.status,
  createdBy: r.created_by,
  createdAt: r.created_at,
  expiresAt: r.expires_at,
  sentAt: r.sent_at,
  sendCount: r.send_count,
  ackedAt: r.acked_at,
  finishedAt: r.finished_at,
  detail: r.detail,
});

export function insertCommand(
  db: Database,
  input: { id: string; deviceId: string; type: string; params: unknown; createdBy: string; createdAt: number; expiresAt: number },
): Command {
  db.prepare(
    `INSERT INTO commands (id, device_id, type, params, status, created_by, created_at, expires_at)
     VALUES (?, ?, ?, ?, 'queued', ?, ?, ?)`,
  ).run(input.id, input.deviceId, input.type, JSON.stringify(input.params), input.createdBy, input.createdAt, input.expiresAt);
  return getCommand(db, input.id) as Command;
}

export function getCommand(db: Database, id: string): Command | null {
  const row = db.prepare('SELECT * FROM commands WHERE id = ?').get(id) as CommandRow | undefined;
  return row ? toCommand(row) : null;
}

/** Commands the device has not acknowledged yet and that are still valid, oldest first. */
export function undeliveredCommands(db: Database, deviceId: string, now: number): Command[] {
  return (
    db
      .prepare(
        `SELECT * FROM commands WHERE device_id = ? AND status IN ('queued', 'sent') AND expires_at > ? ORDER BY created_at, id`,
      )
      .all(deviceId, now) as CommandRow[]
  ).map(toCommand);
}

export function markCommandSent(db: Database, id: string, now: number): void {
  db.prepare(
    `UPDATE commands SET status = 'sent', sent_at = ?, send_count = send_count + 1 WHERE id = ? AND status IN ('queued', 'sent')`,
  ).run(now, id);
}

export function listCommands(db: Database, deviceId: string, limit: number): Command[] {
  return (
    db
      .prepare('SELECT * FROM commands WHERE device_id = ? ORDER BY created_at DESC, id DESC LIMIT ?')
      .all(deviceId, limit) as CommandRow[]
  ).map(toCommand);
}

/** Ends every open command whose time is up; returns how many. */
export function expireCommands(db: Database, now: number): number {
  return db
    .prepare(
      `UPDATE commands SET status = 'expired', finished_at = ? WHERE status IN ('queued', 'sent', 'acked') AND expires_at <= ?`,
    )
    .run(now, now).changes;
}
