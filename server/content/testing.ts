/**
 * A real HTTP server with the content routes mounted the way the server mounts route modules (the core's
 * error mapping, auth middleware and audit log), a real SQLite file in a temp dir: for the content tests and
 * the benchmark. Users and devices are real rows; people authenticate with API tokens, devices with HTTP Basic.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createAdaptorServer } from '@hono/node-server';
import { pino } from 'pino';
import type { Role, SigningKeys } from '../../protocol/index.js';
import { createAudit } from '../auth/audit.js';
import { createAuthMiddleware } from '../auth/auth-middleware.js';
import { createApiToken, insertUser } from '../auth/users-repo.js';
import { type Database, openDatabase } from '../db/open-database.js';
import { buildHttpApp } from '../http/app.js';
import { registerDevice } from '../registry/devices-repo.js';
import { upsertSites } from '../registry/sites-repo.js';
import { createContentRoutes } from './content-routes.js';
import { createFileRoutes } from './file-routes.js';
import { createContentServices } from './services.js';
import { loadOrCreateSigningKeys } from './signing-keys.js';

export interface ContentTestServer {
  url: string;
  dir: string;
  db: Database;
  keys: SigningKeys;
  notices: Array<{ deviceId: string; seq: number }>;
  /** Adds a user and returns an API token for them. */
  addUser(username: string, role: Role): string;
  /** Adds an active device at a site and returns its secret. */
  addDevice(id: string, siteId: string | null): string;
  close(): Promise<void>;
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
  const services = createContentServices({
    db,
    dataDir: dir,
    keys,
    audit: createAudit(db),
    notifyManifest: (deviceId, seq) => notices.push({ deviceId, seq }),
    ...(options.maxUploadBytes ? { maxUploadBytes: options.maxUploadBytes } : {}),
  });
  const auth = createAuthMiddleware(db);
  const app = buildHttpApp(
    [
      { path: '/', app: createContentRoutes({ ...services, auth }) },
      { path: '/', app: createFileRoutes({ ...services, auth }) },
    ],
    pino({ level: 'silent' }),
  );
  const server = createAdaptorServer({ fetch: app.fetch }) as Server;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    dir,
    db,
    keys,
    notices,
    addUser(username, role) {
      const user = insertUser(db, { username, role, passwordHash: 'unused: this user signs in with a token' });
      return createApiToken(db, { userId: user.id, name: 'test', ttlMs: null }).token;
    },
    addDevice(id, siteId) {
      const secret = randomBytes(32).toString('base64url');
      registerDevice(db, { id, secret, siteId, status: 'active' });
      return secret;
    },
    async close() {
      server.closeAllConnections();
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
