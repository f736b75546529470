/** Users, sessions and API tokens. Session ids and tokens are random; only their sha256 is stored. */
import { createHash, randomBytes } from 'node:crypto';
import type { Role } from '../../protocol/index.js';
import type { Database } from '../db/open-database.js';

export interface User {
  id: number;
  username: string;
  role: Role;
  disabled: boolean;
  createdAt: number;
  updatedAt: number;
}

interface UserRow {
  id: number;
  username: string;
  role: Role;
  password_hash: string;
  disabled: number;
  created_at: number;
  updated_at: number;
}

const toUser = (row: UserRow): User => ({
  id: row.id,
  username: row.username,
  role: row.role,
  disabled: row.disabled === 1,
  createdAt: row.created_at,
  updatedAt: row.updated_at,
});

export const sha256 = (text: string): string => createHash('sha256').update(text, 'utf8').digest('hex');

export function countUsers(db: Database): number {
  return db.prepare('SELECT count(*) FROM users').pluck().get() as number;
}

export function insertUser(db: Database, input: { username: string; role: Role; passwordHash: string; now?: number }): User {
  const now = input.now ?? Date.now();
  const id = db
    .prepare('INSERT INTO users (username, role, password_hash, created_at, updated_at) VALUES (?, ?, ?, ?, ?)')
    .run(input.username, input.role, input.passwordHash, now, now).lastInsertRowid;
  return toUser(db.prepare('SELECT * FROM users WHERE id = ?').get(id) as UserRow);
}

/** The user and its password hash, for login. */
export function findUserForLogin(db: Database, username: string): { user: User; passwordHash: string } | null {
  const row = db.prepare('SELECT * FROM users WHERE username = ?').get(username) as UserRow | undefined;
  return row ? { user: toUser(row), passwordHash: row.password_hash } : null;
}

export function getUser(db: Database, username: string): User | null {
  const row = db.prepare('SELECT * FROM users WHERE username = ?').get(username) as UserRow | undefined;
  return row ? toUser(row) : null;
}

export function listUsers(db: Database): User[] {
  return (db.prepare('SELECT * FROM users ORDER BY username').all() as UserRow[]).map(toUser);
}

export function updateUser(
  db: Database,
  username: string,
  change: { role?: Role; disabled?: boolean; passwordHash?: string },
  now = Date.now(),
): User | null {
  const result = db
    .prepare(
      `UPDATE users SET role = coalesce(@role, role), disabled = coalesce(@disabled, disabled),
         password_hash = coalesce(@passwordHash, password_hash), updated_at = @now WHERE username = @username`,
    )
    .run({
      username,
      now,
      role: change.role ?? null,
      disabled: change.disabled === undefined ? null : change.disabled ? 1 : 0,
      passwordHash: change.passwordHash ?? null,
    });
  if (result.changes === 0) return null;
  if (change.disabled || change.passwordHash) {
    // A disabled user or a changed password ends every open session and token at once.
    db.prepare('DELETE FROM sessions WHERE user_id = (SELECT id FROM users WHERE username = ?)').run(username);
  }
  if (change.disabled) {
    db.prepare(
      'UPDATE api_tokens SET revoked_at = coalesce(revoked_at, ?) WHERE user_id = (SELECT id FROM users WHERE username = ?)',
    ).run(now, username);
  }
  return getUser(db, username);
}

export function createSession(db: Database, userId: number, ttlMs: number, now = Date.now()): { id: string; expiresAt: number } {
  const id = randomBytes(32).toString('base64url');
  const expiresAt = now + ttlMs;
  db.prepare('INSERT INTO sessions (id_hash, user_id, created_at, expires_at) VALUES (?, ?, ?, ?)').run(
    sha256(id),
    userId,
    now,
    expiresAt,
  );
  return { id, expiresAt };
}

export function deleteSession(db: Database, id: string): void {
  db.prepare('DELETE FROM sessions WHERE id_hash = ?').run(sha256(id));
}

export function deleteExpiredSessions(db: Database, now = Date.now()): number {
  return db.prepare('DELETE FROM sessions WHERE expires_at <= ?').run(now).changes;
}

/** The enabled user behind a live session, or null. */
export function findSessionUser(db: Database, id: string, now = Date.now()): User | null {
  const row = db
    .prepare(
      `SELECT users.* FROM sessions JOIN users ON users.id = sessions.user_id
       WHERE sessions.id_hash = ? AND sessions.expires_at > ? AND users.disabled = 0`,
    )
    .get(sha256(id), now) as UserRow | undefined;
  return row ? toUser(row) : null;
}

export interface ApiTokenInfo {
  id: string;
  name: string;
  createdAt: number;
  expiresAt: number | null;
  lastUsedAt: number | null;
  revokedAt: number | null;
}

/** Creates a token; the plain value is returned here only. */
export function createApiToken(
  db: Database,
  input: { userId: number; name: string; ttlMs: number | null; now?: number },
): { token: string; info: ApiTokenInfo } {
  const now = input.now ?? Date.now();
  const id = randomBytes(8).toString('hex');
  const token = `fleet_${randomBytes(32).toString('base64url')}`;
  const expiresAt = input.ttlMs === null ? null : now + input.ttlMs;
  db.prepare('INSERT INTO api_tokens (id, user_id, name, token_hash, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?)').run(
    id,
    input.userId,
    input.name,
    sha256(token),
    now,
    expiresAt,
  );
  return { token, info: { id, name: input.name, createdAt: now, expiresAt, lastUsedAt: null, revokedAt: null } };
}

export function findTokenUser(db: Database, token: string, now = Date.now()): User | null {
  const hash = sha256(token);
  const row = db
    .prepare(
      `SELECT users.* FROM api_tokens JOIN users ON users.id = api_tokens.user_id
       WHERE api_tokens.token_hash = ? AND api_tokens.revoked_at IS NULL
         AND (api_tokens.expires_at IS NULL OR api_tokens.expires_at > ?) AND users.disabled = 0`,
    )
    .get(hash, now) as UserRow | undefined;
  if (!row) return null;
  db.prepare('UPDATE api_tokens SET last_used_at = ? WHERE token_hash = ?').run(now, hash);
  return toUser(row);
}

export function listApiTokens(db: Database, userId: number): ApiTokenInfo[] {
  return db
    .prepare(
      `SELECT id, name, created_at AS createdAt, expires_at AS expiresAt, last_used_at AS lastUsedAt, revoked_at AS revokedAt
       FROM api_tokens WHERE user_id = ? ORDER BY created_at`,
    )
    .all(userId) as ApiTokenInfo[];
}

export function revokeApiToken(db: Database, userId: number, id: string, now = Date.now()): boolean {
  return (
    db.prepare('UPDATE api_tokens SET revoked_at = coalesce(revoked_at, ?) WHERE id = ? AND user_id = ?').run(now, id, userId)
      .changes === 1
  );
}
