/**
 * Shared by the coverage tests and benchmark: a real SQLite file with the Gia Lai seed, the coverage routes behind
 * the server's own auth and error mapping on real HTTP (port 0), and devices written the way the server records them.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { serve } from '@hono/node-server';
import pino from 'pino';
import type { Role } from '../protocol/index.js';
import { createAudit } from '../server/auth/audit.js';
import { createAuthMiddleware } from '../server/auth/auth-middleware.js';
import { createApiToken, insertUser } from '../server/auth/users-repo.js';
import { createCoverageRoutes } from '../server/coverage/coverage-routes.js';
import { type Database, openDatabase } from '../server/db/open-database.js';
import { seedReferenceData } from '../server/db/seed.js';
import { buildHttpApp } from '../server/http/app.js';

export const HOUR = 3_600_000;
/** A local (UTC+7) wall-clock time as an instant. */
export const local = (text: string) => Date.parse(`${text}+07:00`);

export interface DeviceFields {
  status?: 'registered' | 'provisioned' | 'active' | 'decommissioned';
  firstSeen?: number | null;
  equippedAt?: number | null;
  decommissionedAt?: number | null;
  lastSeen?: number | null;
  contentSeq?: number | null;
}

export function insertDevice(db: Database, id: string, siteId: string, f: DeviceFields = {}): void {
  db.prepare(
    `INSERT INTO devices (id, site_id, status, first_seen, equipped_at, decommissioned_at, last_seen, content_seq, created_at)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
  ).run(
    id,
    siteId,
    f.status ?? 'active',
    f.firstSeen === undefined ? local('2025-03-01T08:00:00') : f.firstSeen,
    f.equippedAt === undefined ? local('2025-03-01T09:00:00') : f.equippedAt,
    f.decommissionedAt ?? null,
    f.lastSeen === undefined ? local('2026-11-23T09:00:00') : f.lastSeen,
    f.contentSeq === undefined ? 5 : f.contentSeq,
    local('2025-02-01T00:00:00'),
  );
}

export interface CoverageServer {
  db: Database;
  url: string;
  /** `Authorization` header values of real users (API tokens): one admin, one department, one technician. */
  auth: Record<'admin' | 'department' | 'technician', string>;
  close(): Promise<void>;
}

export async function startCoverageServer(options: { now: number; dbFile?: string; seed?: boolean }): Promise<CoverageServer> {
  const dir = options.dbFile ? null : mkdtempSync(join(tmpdir(), 'coverage-'));
  const db = openDatabase(options.dbFile ?? join(dir as string, 'fleet.sqlite'));
  if (options.seed !== false) seedReferenceData(db);
  // Real users with API tokens, the server's own role guard, audit log and error mapping.
  const bearer = (role: Role) => {
    const user = insertUser(db, { username: `${role}-user`, role, passwordHash: 'not-used-tokens-only' });
    return `Bearer ${createApiToken(db, { userId: user.id, name: 'coverage tests', ttlMs: null }).token}`;
  };
  const auth = { admin: bearer('admin'), department: bearer('department'), technician: bearer('technician') };
  const coverage = createCoverageRoutes({
    db,
    requireRole: createAuthMiddleware(db).requireRole,
    offlineAfterMs: 24 * HOUR,
    defaultPlanId: 'gia-lai-2509-2020',
    audit: createAudit(db),
    now: () => options.now,
  });
  const app = buildHttpApp([{ path: '/api/v1', app: coverage }], pino({ level: 'silent' }));
  const server = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' });
  await new Promise<void>((resolve) => server.once('listening', () => resolve()));
  const { port } = server.address() as AddressInfo;
  return {
    db,
    url: `http://127.0.0.1:${port}/api/v1`,
    auth,
    async close() {
      await new Promise<void>((resolve) => server.close(() => resolve()));
      db.close();
      if (dir) rmSync(dir, { recursive: true, force: true });
    },
  };
}
