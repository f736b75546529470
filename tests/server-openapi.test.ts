/**
 * `GET /api/openapi.json` describes every route the real app registers (walked from `app.routes`), with
 * who may call it, so the document cannot silently go stale: a new route without an entry in
 * `server/http/openapi.ts` fails here.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Hono } from 'hono';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAudit } from '../server/auth/audit.js';
import { createAuthMiddleware } from '../server/auth/auth-middleware.js';
import { LoginLimiter } from '../server/auth/login-limiter.js';
import { testConfig } from '../server/config.js';
import { createContentServices, loadOrCreateSigningKeys } from '../server/content/index.js';
import { type Database, openDatabase } from '../server/db/open-database.js';
import { buildHttpApp } from '../server/http/app.js';
import type { AppEnv } from '../server/http/app-env.js';
import { createServerMetrics } from '../server/http/metrics.js';
import type { RouteDeps } from '../server/http/route-deps.js';
import { routeModules } from '../server/http/routes.js';
import { startTestServer, type TestServer } from '../server/testing/test-server.js';

interface Operation {
  summary: string;
  'x-roles': string | string[];
  'x-undescribed'?: true;
  security?: unknown[];
  requestBody?: { content: { 'application/json': { schema: { properties?: Record<string, unknown> } } } };
  responses: Record<string, { content?: unknown }>;
}
interface Doc {
  openapi: string;
  paths: Record<string, Record<string, Operation>>;
}

let dir: string;
let db: Database;
let app: Hono<AppEnv>;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'fleet-openapi-'));
  const config = testConfig({ DATA_DIR: dir });
  db = openDatabase(join(dir, 'fleet.db'));
  const log = pino({ level: 'silent' });
  const signingKeys = await loadOrCreateSigningKeys(dir);
  const audit = createAudit(db);
  const deps: RouteDeps = {
    config,
    db,
    log,
    metrics: createServerMetrics(),
    auth: createAuthMiddleware(db),
    audit,
    loginLimiter: new LoginLimiter({ baseDelayMs: 1 }),
    // No route is called here except the document itself; the broker side is not needed.
    fleet: { revokeDevice: () => false, notifyManifest: () => {}, sendCommand: () => ({ id: 'x' }), connectedDevices: () => 0 },
    urls: { publicUrl: 'http://127.0.0.1:1', mqttUrl: 'mqtt://127.0.0.1:1' },
    signingKeys,
    content: createContentServices({ db, dataDir: dir, keys: signingKeys, audit, notifyManifest: () => {}, maxUploadBytes: 1e6 }),
  };
  app = buildHttpApp(routeModules(deps), log);
});
afterAll(() => {
  db?.close();
  rmSync(dir, { recursive: true, force: true });
});

function op(doc: Doc, path: string, method: string): Operation {
  const found = doc.paths[path]?.[method];
  if (!found) throw new Error(`${method} ${path} is not in the document`);
  return found;
}

const toOpenApi = (path: string) => path.replace(/:([A-Za-z0-9_]+)/g, '{$1}');

describe('GET /api/openapi.json', () => {
  it('lists every method and path the app registers, each described with who may call it', async () => {
    const res = await app.request('/api/openapi.json');
    expect(res.status).toBe(200);
    const doc = (await res.json()) as Doc;
    expect(doc.openapi).toBe('3.1.0');
    const registered = app.routes.filter((r) => r.method !== 'ALL');
    expect(registered.length).toBeGreaterThan(40);
    const missing = registered.filter((r) => !doc.paths[toOpenApi(r.path)]?.[r.method.toLowerCase()]);
    expect(missing.map((r) => `${r.method} ${r.path}`)).toEqual([]);
    const undescribed = Object.entries(doc.paths).flatMap(([path, ops]) =>
      Object.entries(ops)
        .filter(([, op]) => op['x-undescribed'])
        .map(([method]) => `${method.toUpperCase()} ${path}`),
    );
    expect(undescribed, 'add these routes to ROUTE_DOCS in server/http/openapi.ts').toEqual([]);
    // Nothing in the document that the app does not serve.
    const served = new Set(registered.map((r) => `${r.method.toLowerCase()} ${toOpenApi(r.path)}`));
    for (const [path, ops] of Object.entries(doc.paths))
      for (const m of Object.keys(ops)) expect(served).toContain(`${m} ${path}`);
  });

  it('derives authentication from the middleware and bodies from the protocol schemas', async () => {
    const doc = (await (await app.request('/api/openapi.json')).json()) as Doc;
    const manifest = op(doc, '/api/v1/devices/{id}/manifest', 'get');
    expect(manifest['x-roles']).toBe('device');
    expect(manifest.security).toEqual([{ device: [] }]);
    expect(manifest.responses['200']?.content).toBeDefined();
    const revoke = op(doc, '/api/v1/devices/{id}/revoke', 'post');
    expect(revoke['x-roles']).toEqual(['department']);
    expect(revoke.security).toEqual([{ session: [] }, { bearer: [] }]);
    const enroll = op(doc, '/api/v1/enroll', 'post');
    expect(Object.keys(enroll.requestBody?.content['application/json'].schema.properties ?? {}).sort()).toEqual([
      'facts',
      'token',
    ]);
    expect(op(doc, '/healthz', 'get').security).toBeUndefined();
    // A route guarded by app.use('*', requireRole(...)) is recognised too.
    expect(op(doc, '/api/v1/users', 'get').security).toEqual([{ session: [] }, { bearer: [] }]);
  });
});

describe('over real HTTP', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer();
  });
  afterAll(async () => {
    await server?.stop();
  });
  it('is served without a login', async () => {
    const res = await fetch(`${server.httpUrl}/api/openapi.json`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('application/json');
    const doc = (await res.json()) as Doc;
    expect(op(doc, '/api/openapi.json', 'get').summary).toBe('this document');
  });
});
