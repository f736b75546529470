/** The audit log: every change a person makes, who made it, when. */
import type { Database } from '../db/open-database.js';

export interface AuditEntry {
  actor: string;
  action: string;
  target?: string | null;
  detail?: unknown;
}

export interface AuditRecord {
  id: number;
  ts: number;
  actor: string;
  action: string;
  target: string | null;
  detail: unknown;
}

export type AuditFn = (entry: AuditEntry) => void;

/** Returns the `audit({actor, action, target, detail})` function other modules call. */
export function createAudit(db: Database, now: () => number = Date.now): AuditFn {
  const insert = db.prepare('INSERT INTO audit (ts, actor, action, target, detail) VALUES (?, ?, ?, ?, ?)');
  return ({ actor, action, target, detail }) => {
    insert.run(now(), actor, action, target ?? null, detail === undefined ? null : JSON.stringify(detail));
  };
}

export function listAudit(
  db: Database,
  filter: { limit: number; beforeId?: number; actor?: string; action?: string },
): AuditRecord[] {
  const rows = db
    .prepare(
      `SELECT * FROM audit WHERE (@beforeId IS NULL OR id < @beforeId) AND (@actor IS NULL OR actor = @actor)
         AND (@action IS NULL OR action = @action)
       ORDER BY id DESC LIMIT @limit`,
    )
    .all({
      limit: filter.limit,
      beforeId: filter.beforeId ?? null,
      actor: filter.actor ?? null,
      action: filter.action ?? null,
    }) as Array<Omit<AuditRecord, 'detail'> & { detail: string | null }>;
  return rows.map((row) => ({ ...row, detail: row.detail === null ? null : JSON.parse(row.detail) }));
}
