/**
 * Shared by the coverage tests and benchmark: a real SQLite file with the Gia Lai seed, the coverage routes on
 * real HTTP (port 0), and devices written the way the server records them.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { serve } from '@hono/node-server';
import { Hono, type MiddlewareHandler } from 'hono';
import { createMiddleware } from 'hono/factory';
import { HTTPException } from 'hono/http-exception';
import type { Role } from '../protocol/index.js';
import { createCoverageRoutes } from '../server/coverage/coverage-routes.js';
import { type Database, openDatabase } from '../server/db/open-database.js';
import type { AppEnv } from '../server/http/app-env.js';
import { seedReferenceData } from '../server/db/seed.js';

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

/**
 * A role guard with the server's contract (`Authorization: Bearer <token>`, 401 without, 403 for another role,
 * admin passes every check), over a fixed token → role table. The server's own guard reads users from SQLite;
 * these tests are about coverage, so they hold the tokens here.
 */
export function tokenRoleGuard(tokens: Record<string, Role>): (...roles: Role[]) => MiddlewareHandler<AppEnv> {
  return (...roles) =>
    createMiddleware<AppEnv>(async function requireRole(c, next) {
      const header = c.req.header('authorization') ?? '';
      const role = header.startsWith('Bearer ') ? tokens[header.slice(7)] : undefined;
      if (!role) throw new HTTPException(401, { message: 'authentication required' });
      if (role !== 'admin' && !roles.includes(role)) throw new HTTPException(403, { message: 'not allowed for your role' });
      c.set('user', { id: 0, username: `${role}-user`, role, via: 'token' });
      await next();
    });
}

export interface CoverageServer {
  db: Database;
  url: string;
  audit: { actor: string; action: string; target?: string | null }[];
  close(): Promise<void>;
}

export async function startCoverageServer(options: { now: number; dbFile?: string; seed?: boolean }): Promise<CoverageServer> {
  const dir = options.dbFile ? null : mkdtempSync(join(tmpdir(), 'coverage-'));
  const db = openDatabase(options.dbFile ?? join(dir as string, 'fleet.sqlite'));
  if (options.seed !== false) seedReferenceData(db);
  const audit: CoverageServer['audit'] = [];
  const app = new Hono();
  app.route(
    '/api/v1',
    createCoverageRoutes({
      db,
      requireRole: tokenRoleGuard({ 'tok-admin': 'admin', 'tok-dept': 'department', 'tok-tech': 'technician' }),
      offlineAfterMs: 24 * HOUR,
      defaultPlanId: 'gia-lai-2509-2020',
      audit: (entry) => audit.push(entry),
      now: () => options.now,
    }),
  );
  app.onError((error, c) => {
    const status = error instanceof HTTPException ? error.status : 500;
    return c.json({ error: { code: status === 500 ? 'internal' : 'http_error', message: error.message } }, status);
  });
  const server = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' });
  await new Promise<void>((resolve) => server.once('listening', () => resolve()));
  const { port } = server.address() as AddressInfo;
  return {
    db,
    url: `http://127.0.0.1:${port}/api/v1`,
    audit,
    async close() {
      await new Promise<void>((resolve) => server.close(() => resolve()));
      db.close();
      if (dir) rmSync(dir, { recursive: true, force: true });
    },
  };
}
