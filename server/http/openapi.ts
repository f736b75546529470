/**
 * `GET /api/openapi.json` (DESIGN §6): the API's own description. The list of operations and whether each
 * needs a person (role middleware) or a device (HTTP Basic) are read from the routes the app really
 * registers, so a new route shows up by itself; so are its JSON body and query parameters (the zod schemas
 * its `json()` / `query()` validators check, `validate.ts`) and its body limit (`body-limit.ts`). The roles
 * and the summaries come from the table below (role closures cannot be read back).
 * `tests/server-openapi.test.ts` fails when a registered route has no entry here.
 */
import { Hono } from 'hono';
import { z } from 'zod';
import { ContentDiff, ContentHolders } from '../../protocol/api.js';
import {
  ApiError,
  EnrollmentTokensCreated,
  EnrollResponse,
  ImportReport,
  PairingClaimed,
  PairingPoll,
  PairingStarted,
  SignedManifest,
} from '../../protocol/index.js';
import { RELEASE_ROUTE_DOCS } from '../releases/route-docs.js';
import { DEPARTMENT_ROUTE_DOCS } from '../reports/route-docs.js';
import type { RouteModule } from './app.js';
import type { AppEnv } from './app-env.js';
import { DEFAULT_BODY_LIMIT_BYTES, declaredBodyLimit } from './body-limit.js';
import { type ValidatedSchema, validatedSchemaOf } from './validate.js';

/** One route as Hono lists it in `app.routes`. */
export interface RegisteredRoute {
  method: string;
  path: string;
  handler: { name: string; __COMPOSED_HANDLER?: unknown };
}

type Who = 'anyone' | 'device' | 'signed-in' | readonly string[];
interface RouteDoc {
  summary: string;
  /** Roles allowed (`admin` passes every check), `device` (HTTP Basic), `signed-in` (any role) or `anyone`. */
  who: Who;
  response?: z.ZodType;
}

const LoginResponse = z.object({ user: z.object({ username: z.string(), role: z.string() }) });

const FLEET = ['department', 'technician'] as const;
const CONTENT_READ = ['department', 'editor', 'approver'] as const;
const COVERAGE_READ = ['department', 'editor', 'approver', 'technician'] as const;
const DASHBOARD = ['admin', 'department', 'technician'] as const;
const INSTALLERS = ['admin', 'department', 'technician'] as const;

/** Keyed by `METHOD path` exactly as Hono registers it (`:param`). */
export const ROUTE_DOCS: Record<string, RouteDoc> = {
  'GET /healthz': { summary: 'liveness', who: 'anyone' },
  'GET /metrics': { summary: 'Prometheus text (Bearer METRICS_TOKEN when set)', who: 'anyone' },
  'GET /api/v1/backups': {
    summary: 'scheduled backups: the last success and failure, the next, those kept',
    who: ['admin', 'department'],
  },
  'GET /api/openapi.json': { summary: 'this document', who: 'anyone' },
  'POST /api/v1/auth/login': {
    summary: 'sign in; sets the session cookie',
    who: 'anyone',
    response: LoginResponse,
  },
  'POST /api/v1/auth/logout': { summary: 'sign out', who: 'anyone' },
  'GET /api/v1/auth/me': { summary: 'the signed-in user', who: 'signed-in', response: LoginResponse },
  'POST /api/v1/auth/tokens': { summary: 'create an API token (shown once)', who: 'signed-in' },
  'GET /api/v1/auth/tokens': { summary: 'my API tokens', who: 'signed-in' },
  'DELETE /api/v1/auth/tokens/:id': { summary: 'revoke an API token', who: 'signed-in' },
  'GET /api/v1/users': { summary: 'list users', who: ['admin'] },
  'POST /api/v1/users': { summary: 'create a user (generated password returned once)', who: ['admin'] },
  'PATCH /api/v1/users/:username': { summary: 'change role, disabled, password', who: ['admin'] },
  'GET /api/v1/audit': { summary: 'the audit log, newest first', who: ['admin'] },
  'GET /api/v1/sites': { summary: 'sites', who: ['department', 'technician', 'editor', 'approver'] },
  'GET /api/v1/sites/:id': { summary: 'one site', who: ['department', 'technician', 'editor', 'approver'] },
  'POST /api/v1/sites/import': { summary: 'CSV import of sites', who: ['admin', 'department'], response: ImportReport },
  'GET /api/v1/devices': { summary: 'the fleet', who: FLEET },
  'GET /api/v1/devices/:id': { summary: 'one device with its last sync report', who: FLEET },
  'GET /api/v1/devices/:id/health': { summary: 'health history', who: FLEET },
  'POST /api/v1/devices/:id/revoke': { summary: 'revoke and disconnect', who: ['department'] },
  'POST /api/v1/devices/:id/commands': { summary: 'queue a command', who: FLEET },
  'GET /api/v1/devices/:id/commands': { summary: 'commands and their states', who: FLEET },
  'GET /api/v1/devices/:id/manifest': { summary: 'the signed manifest (ETag)', who: 'device', response: SignedManifest },
  'GET /api/v1/devices/:id/sync': { summary: "the device's sync reports", who: CONTENT_READ },
  'POST /api/v1/devices/import': { summary: 'CSV import of devices', who: INSTALLERS, response: ImportReport },
  'POST /api/v1/enroll': {
    summary: 'enroll a device with a token',
    who: 'anyone',
    response: EnrollResponse,
  },
  'POST /api/v1/enrollment-tokens': {
    summary: 'create enrollment tokens (shown once)',
    who: INSTALLERS,
    response: EnrollmentTokensCreated,
  },
  'GET /api/v1/enrollment-tokens': { summary: 'open enrollment tokens', who: INSTALLERS },
  'DELETE /api/v1/enrollment-tokens/:id': { summary: 'withdraw a token', who: INSTALLERS },
  'GET /api/v1/enrollment-tokens/:id/qr.svg': { summary: 'QR code of the enrollment link', who: INSTALLERS },
  'GET /api/v1/enrollment-tokens/:id/qr.png': { summary: 'QR code of the enrollment link', who: INSTALLERS },
  'POST /api/v1/pairing': {
    summary: 'a device asks for a pairing code',
    who: 'anyone',
    response: PairingStarted,
  },
  'GET /api/v1/pairing/:pollToken': { summary: 'the device polls its pairing', who: 'anyone', response: PairingPoll },
  'POST /api/v1/pairing/claim': {
    summary: 'a technician claims a pairing code',
    who: INSTALLERS,
    response: PairingClaimed,
  },
  'GET /api/v1/plans': { summary: 'plans', who: COVERAGE_READ },
  'POST /api/v1/plans': { summary: 'load a plan', who: ['department'] },
  'GET /api/v1/plans/:id': { summary: 'one plan', who: COVERAGE_READ },
  'GET /api/v1/plans/:id/coverage': { summary: 'coverage per target (?asOf=YYYY-MM-DD)', who: COVERAGE_READ },
  'GET /api/v1/plans/:id/trend': { summary: 'coverage over time', who: COVERAGE_READ },
  'GET /api/v1/plans/:id/communes': { summary: 'per-commune progress', who: COVERAGE_READ },
  'GET /api/v1/reports/coverage.csv': { summary: "the department's report (CSV)", who: COVERAGE_READ },
  'GET /api/v1/reports/coverage.xlsx': { summary: "the department's report (Excel)", who: COVERAGE_READ },
  'GET /api/v1/content': { summary: 'the library', who: CONTENT_READ },
  'POST /api/v1/content': { summary: 'create an item', who: ['editor'] },
  'GET /api/v1/content/topics': { summary: 'topics in use', who: CONTENT_READ },
  'GET /api/v1/content/files/:sha256': { summary: 'preview a stored file', who: CONTENT_READ },
  'GET /api/v1/content/:id': { summary: 'one item', who: CONTENT_READ },
  'PATCH /api/v1/content/:id': { summary: 'edit an item', who: ['editor'] },
  'PUT /api/v1/content/:id/translations/:lang': { summary: 'write a translation', who: ['editor'] },
  'DELETE /api/v1/content/:id/translations/:lang': { summary: 'remove a translation', who: ['editor'] },
  'PUT /api/v1/content/:id/translations/:lang/file': { summary: 'upload the file (streamed, hashed)', who: ['editor'] },
  'POST /api/v1/content/:id/submit': { summary: 'submit for review', who: ['editor'] },
  'POST /api/v1/content/:id/approve': { summary: 'approve (approver ≠ author)', who: ['approver'] },
  'POST /api/v1/content/:id/reject': { summary: 'send back to draft with a reason the editor sees', who: ['approver'] },
  'GET /api/v1/content/:id/diff': {
    summary: 'what the latest version changes against the published one',
    who: CONTENT_READ,
    response: ContentDiff,
  },
  'GET /api/v1/content/:id/holders': {
    summary: 'the devices the item targets: manifest issued, applied, sync problem',
    who: CONTENT_READ,
    response: ContentHolders,
  },
  'POST /api/v1/content/:id/publish': { summary: 'publish', who: ['approver'] },
  'POST /api/v1/content/:id/retire': { summary: 'retire', who: ['approver'] },
  'GET /api/v1/content/:id/stats': { summary: 'play statistics', who: CONTENT_READ },
  'GET /api/v1/keys': { summary: 'manifest keys: root, keys document in force, history', who: ['admin'] },
  'POST /api/v1/keys/rotate': { summary: 'new signing key, the others retired (root on the server)', who: ['admin'] },
  'POST /api/v1/keys/prepare': { summary: 'new signing key and the next keys document, unsigned (offline root)', who: ['admin'] },
  'POST /api/v1/keys/publish': { summary: 'put a root-signed keys document in force', who: ['admin'] },
  'POST /api/v1/keys/tls-cas': {
    summary: 'the CAs kiosks trust for the server (tlsCas of the next keys document; unsigned when the root is offline)',
    who: ['admin'],
  },
  'GET /files/:sha256': { summary: 'a content file by address (Range, ETag, immutable)', who: 'device' },
  'HEAD /files/:sha256': { summary: 'a content file by address', who: 'device' },
  'GET /': { summary: 'the department dashboard', who: 'anyone' },
  'GET /dashboard/:name': { summary: 'dashboard assets', who: 'anyone' },
  'GET /dashboard/fonts/:name': { summary: 'dashboard fonts', who: 'anyone' },
  'GET /api/v1/dashboard/sites': { summary: 'dashboard table', who: DASHBOARD },
  'GET /api/v1/dashboard/districts': { summary: 'dashboard districts', who: DASHBOARD },
  'GET /api/v1/dashboard/map': {
    summary: 'dashboard map (sends an ETag; If-None-Match answers 304 while no site changed state or problems)',
    who: DASHBOARD,
  },
  'GET /api/v1/dashboard/devices/:id/events': { summary: "a device's events", who: DASHBOARD },
  'GET /api/v1/alerts': { summary: 'open alerts', who: DASHBOARD },
  ...RELEASE_ROUTE_DOCS,
  ...DEPARTMENT_ROUTE_DOCS,
};

/** Middleware names that reveal how a route authenticates (the factories in server/auth/auth-middleware.ts). */
function authOf(handler: RegisteredRoute['handler']): 'role' | 'device' | null {
  const inner = (handler.__COMPOSED_HANDLER ?? handler) as { name?: string };
  if (inner.name === 'requireRoleMiddleware') return 'role';
  if (inner.name === 'requireDeviceMiddleware') return 'device';
  return null;
}

function covers(pattern: string, path: string): boolean {
  if (pattern === path || pattern === '*' || pattern === '/*') return true;
  if (!pattern.endsWith('/*')) return false;
  const prefix = pattern.slice(0, -2);
  return path === prefix || path.startsWith(`${prefix}/`);
}

/** Distinct (method, path) operations of the app; `ALL` entries are middleware, not operations. */
export function operationsOf(routes: readonly RegisteredRoute[]): { method: string; path: string }[] {
  const seen = new Map<string, { method: string; path: string }>();
  for (const r of routes) {
    if (r.method === 'ALL') continue;
    seen.set(`${r.method} ${r.path}`, { method: r.method, path: r.path });
  }
  return [...seen.values()];
}

const jsonSchema = (schema: z.ZodType) => z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' });

/** The query parameters a `query()` validator checks, as OpenAPI parameters. */
function queryParameters(schema: z.ZodType) {
  const described = jsonSchema(schema) as { properties?: Record<string, unknown>; required?: string[] };
  return Object.entries(described.properties ?? {}).map(([name, property]) => ({
    name,
    in: 'query',
    required: described.required?.includes(name) ?? false,
    schema: property,
  }));
}
const openApiPath = (path: string) => path.replace(/:([A-Za-z0-9_]+)/g, '{$1}');

export function buildOpenApiDocument(routes: readonly RegisteredRoute[]) {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const { method, path } of operationsOf(routes)) {
    const doc = ROUTE_DOCS[`${method} ${path}`];
    const auth = routes
      .filter((r) => (r.method === method || r.method === 'ALL') && covers(r.path, path))
      .map((r) => authOf(r.handler))
      .find((a) => a !== null);
    const who = doc?.who ?? (auth === 'device' ? 'device' : auth === 'role' ? 'signed-in' : 'anyone');
    const handlers = routes.filter((r) => r.method === method && r.path === path).map((r) => r.handler);
    const validated = (target: ValidatedSchema['target']) =>
      handlers.map((h) => validatedSchemaOf(h.__COMPOSED_HANDLER ?? h)).find((v) => v?.target === target)?.schema;
    const body = validated('json');
    const queried = validated('query');
    const bodyLimit = handlers.map(declaredBodyLimit).find((limit) => limit !== undefined) ?? DEFAULT_BODY_LIMIT_BYTES;
    const params = [
      ...[...path.matchAll(/:([A-Za-z0-9_]+)/g)].map((m) => ({
        name: m[1],
        in: 'path',
        required: true,
        schema: { type: 'string' },
      })),
      ...(queried ? queryParameters(queried) : []),
    ];
    const operation: Record<string, unknown> = {
      summary: doc?.summary ?? '(not described yet)',
      'x-roles': typeof who === 'string' ? who : [...who],
      ...(auth === 'role' ? { security: [{ session: [] }, { bearer: [] }] } : {}),
      ...(auth === 'device' ? { security: [{ device: [] }] } : {}),
      ...(doc ? {} : { 'x-undescribed': true }),
      ...(params.length ? { parameters: params } : {}),
      ...(body ? { requestBody: { required: true, content: { 'application/json': { schema: jsonSchema(body) } } } } : {}),
      ...(method === 'GET' || method === 'HEAD' ? {} : { 'x-max-body-bytes': bodyLimit }),
      responses: {
        '200': {
          description: 'success',
          ...(doc?.response ? { content: { 'application/json': { schema: jsonSchema(doc.response) } } } : {}),
        },
        default: { description: 'error', content: { 'application/json': { schema: jsonSchema(ApiError) } } },
      },
    };
    const p = openApiPath(path);
    paths[p] ??= {};
    paths[p][method.toLowerCase()] = operation;
  }
  return {
    openapi: '3.1.0',
    info: { title: 'Border kiosk fleet server', version: 'v1' },
    components: {
      securitySchemes: {
        session: { type: 'apiKey', in: 'cookie', name: 'fleet_session' },
        bearer: { type: 'http', scheme: 'bearer' },
        device: { type: 'http', scheme: 'basic', description: 'device id and secret' },
      },
    },
    paths,
  };
}

/**
 * Mounted at `/api`. `routes` is read on each request (cheap: a few hundred entries) so the document is the
 * app as it is, whatever was mounted after this module.
 */
export function openApiRoutes(routes: () => readonly RegisteredRoute[]): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  app.get('/openapi.json', (c) => c.json(buildOpenApiDocument(routes())));
  return app;
}

/** The routes the root app gets from these modules (Hono's own path merging, as `buildHttpApp` mounts them). */
export function mountedRoutes(modules: readonly RouteModule[]): RegisteredRoute[] {
  const root = new Hono<AppEnv>();
  for (const module of modules) root.route(module.path, module.app);
  return root.routes as RegisteredRoute[];
}
