/**
 * A real HTTP server with only the content routes, a real SQLite file in a temp dir, for the content tests
 * and the benchmark. Users and devices are real rows; requests authenticate with the core's auth middleware
 * shape (`Bearer <token>` for people, HTTP Basic for devices).
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { serve } from '@hono/node-server';
import { Hono } from 'hono';
import { createMiddleware } from 'hono/factory';
import type { Role, SigningKeys } from '../../protocol/index.js';
import { type Database, openDatabase } from '../db/open-database.js';
import { verifyDeviceSecret } from '../registry/device-secret.js';
import { registerDevice } from '../registry/devices-repo.js';
import { upsertSites } from '../registry/sites-repo.js';
import { createContentRoutes } from './content-routes.js';
import { ContentError } from './errors.js';
import { createFileRoutes } from './file-routes.js';
import type { ContentAuth, ContentEnv } from './http-support.js';
import { createContentServices } from './services.js';
import { loadOrCreateSigningKeys } from './signing-keys.js';

export interface ContentTestServer {
  url: string;
  dir: string;
  db: Database;
  keys: SigningKeys;
  notices: Array<{ deviceId: string; seq: number }>;
  addUser(username: string, role: Role): string;
  addDevice(id: string, siteId: string | null): string;
  close(): Promise<void>;
}

/** People's API tokens of this test server: token → username. */
function testAuth(db: Database, tokens: Map<string, string>): ContentAuth {
  return {
    requireRole: (...roles: Role[]) =>
      createMiddleware<ContentEnv>(async (c, next) => {
        const token = c.req.header('authorization')?.replace(/^Bearer /, '') ?? '';
        const username = tokens.get(token);
        const user = username
          ? (db.prepare('SELECT username, role FROM users WHERE username = ? AND disabled = 0').get(username) as
              | { username: string; role: Role }
              | undefined)
          : undefined;
        if (!user) throw new ContentError(403, 'unauthorized', 'authentication required');
        if (user.role !== 'admin' && !roles.includes(user.role))
          throw new ContentError(403, 'forbidden', 'not allowed for your role');
        c.set('user', user);
        await next();
      }),
    requireDevice: () =>
      createMiddleware<ContentEnv>(async (c, next) => {
        const header = c.req.header('authorization') ?? '';
        const decoded = Buffer.from(header.replace(/^Basic /, ''), 'base64').toString('utf8');
        const [id = '', secret = ''] = decoded.split(':');
        const row = db.prepare('SELECT id, site_id, status, secret_hash FROM devices WHERE id = ?').get(id) as
          | { id: string; site_id: string | null; status: string; secret_hash: string | null }
          | undefined;
        if (!row || row.status === 'decommissioned' || !verifyDeviceSecret(secret, row.secret_hash)) {
          throw new ContentError(403, 'unauthorized', 'device credentials required');
        }
        c.set('device', { id: row.id, siteId: row.site_id });
        await next();
      }),
  };
}

/** Gia Lai-like registry: a district with a border commune, a station in it, and a second district's commune. */
export function seedTestSites(db: Database): void {
  const base = { border: true, adminCode: null, lat: null, lon: null, validFrom: null, validTo: null, note: null };
  upsertSites(
    db,
    [
      { ...base, id: 'd-duc-co', kind: 'district', name: 'Huyện Đức Cơ', parentId: null },
      { ...base, id: 'c-ia-dom', kind: 'commune', name: 'Xã Ia Dom', parentId: 'd-duc-co' },
      { ...base, id: 's-ia-dom', kind: 'station', name: 'Đồn Biên phòng Ia Dom', parentId: 'c-ia-dom' },
      { ...base, id: 'd-ia-grai', kind: 'district', name: 'Huyện Ia Grai', parentId: null },
      { ...base, id: 'c-ia-o', kind: 'commune', name: 'Xã Ia O', parentId: 'd-ia-grai' },
    ],
    { overwrite: false },
  );
}

export async function startContentTestServer(options: { maxUploadBytes?: number } = {}): Promise<ContentTestServer> {
  const dir = await mkdtemp(join(tmpdir(), 'content-test-'));
  const db = openDatabase(join(dir, 'fleet.db'));
  seedTestSites(db);
  const keys = await loadOrCreateSigningKeys(dir);
  const notices: ContentTestServer['notices'] = [];
  const tokens = new Map<string, string>();
  const insertAudit = db.prepare('INSERT INTO audit (ts, actor, action, target, detail) VALUES (?, ?, ?, ?, ?)');
  const services = createContentServices({
    db,
    dataDir: dir,
    keys,
    audit: (e) =>
      insertAudit.run(Date.now(), e.actor, e.action, e.target ?? null, e.detail === undefined ? null : JSON.stringify(e.detail)),
    notifyManifest: (deviceId, seq) => notices.push({ deviceId, seq }),
    ...(options.maxUploadBytes ? { maxUploadBytes: options.maxUploadBytes } : {}),
  });
  const auth = testAuth(db, tokens);
  const app = new Hono();
  app.route('/', createContentRoutes({ ...services, auth }));
  app.route('/', createFileRoutes({ ...services, auth }));
  const server = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' });
  await new Promise<void>((resolve) => (server.listening ? resolve() : server.once('listening', () => resolve())));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    dir,
    db,
    keys,
    notices,
    addUser(username, role) {
      const t = Date.now();
      db.prepare('INSERT INTO users (username, role, password_hash, created_at, updated_at) VALUES (?, ?, ?, ?, ?)').run(
        username,
        role,
        'unused',
        t,
        t,
      );
      const token = randomBytes(16).toString('hex');
      tokens.set(token, username);
      return token;
    },
    addDevice(id, siteId) {
      const secret = randomBytes(32).toString('base64url');
      registerDevice(db, { id, secret, siteId, status: 'active' });
      return secret;
    },
    async close() {
      (server as import('node:http').Server).closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      db.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

export const basic = (id: string, secret: string) => `Basic ${Buffer.from(`${id}:${secret}`).toString('base64')}`;

/** Real file heads (what file-type recognises) followed by filler, so sizes can be chosen. */
export const sampleFiles = {
  png: () =>
    Buffer.from(
      '89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c4890000000a49444154789c63000100000500010d0a2db40000000049454e44ae426082',
      'hex',
    ),
  pdf: (text = 'Thông tin đối ngoại') =>
    Buffer.from(
      `%PDF-1.4\n1 0 obj\n<< /Type /Catalog /Pages 2 0 R >>\nendobj\n2 0 obj\n<< /Type /Pages /Kids [] /Count 0 >>\nendobj\n% ${text}\ntrailer\n<< /Root 1 0 R >>\n%%EOF\n`,
    ),
  mp4: (size: number) => {
    const head = Buffer.from('00000018667479706d703432000000006d70343269736f6d', 'hex');
    const filler = randomBytes(Math.max(0, size - head.length));
    return Buffer.concat([head, filler]);
  },
};

/** fetch against the test server with a person's token or a device's Basic credentials; JSON bodies encoded. */
export function client(baseUrl: string, authorization: string) {
  return async (method: string, path: string, body?: unknown, headers: Record<string, string> = {}) => {
    const all: Record<string, string> = { authorization, ...headers };
    let payload: Uint8Array | string | undefined;
    if (body instanceof Uint8Array) payload = body;
    else if (body !== undefined) {
      payload = JSON.stringify(body);
      all['content-type'] = 'application/json';
    }
    return fetch(`${baseUrl}${path}`, { method, headers: all, ...(payload === undefined ? {} : { body: payload }) });
  };
}
