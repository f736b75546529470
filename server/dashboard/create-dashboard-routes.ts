/**
 * The department dashboard (issue 7/8): the page at `/` with its files, and the few reads the other
 * modules' APIs do not give — the paginated district → commune → site table, the map's points, alerts.
 * Everything else the page shows comes from their endpoints (coverage, devices, content, tokens, users).
 */
import { type Env, Hono, type MiddlewareHandler } from 'hono';
import { z } from 'zod';
import { AlertsOut, DeviceEventsOut, DistrictsOut, MAP_COLUMNS, type MapOut, SitePageOut } from '../../protocol/api-dashboard.js';
import type { Role, SiteKind } from '../../protocol/index.js';
import type { Database } from '../db/open-database.js';
import { NotFoundError } from '../errors.js';
import { query } from '../http/validate.js';
import { ALERT_TYPES, alertsPage } from './alerts.js';
import { createDashboardRepo, SITE_SORTS, SITE_STATES, STATE_BY_RANK } from './dashboard-repo.js';
import { createMapBase } from './map-base.js';
import { createStaticFiles } from './static-files.js';

/** The dashboard's CSP (server/http/security-headers.ts) with framing by the dashboard itself allowed. */
const PREVIEW_CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data: blob:",
  "media-src 'self'",
  "font-src 'self'",
  "connect-src 'self'",
  "worker-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'self'",
].join('; ');

/** The part of the server's RouteDeps this module uses (so `createDashboardRoutes(deps)` takes them as they are). */
export interface DashboardDeps<E extends Env = Env> {
  db: Database;
  /** `OFFLINE_AFTER` (DESIGN §9), parsed to ms. */
  config: { OFFLINE_AFTER: number };
  /** The server's role check: 401 without a session, 403 with the wrong role. */
  auth: { requireRole: (...roles: Role[]) => MiddlewareHandler<E> };
  now?: () => number;
  /** Where the page's files are; the folder next to this module by default. */
  dashboardPublicDir?: string;
}

/** Who may read the fleet's state: the department and admins, and technicians who fix what is wrong. */
export const DASHBOARD_READ_ROLES: Role[] = ['admin', 'department', 'technician'];

const Paging = { limit: z.coerce.number().int().min(1).max(500).default(50), offset: z.coerce.number().int().min(0).default(0) };
const emptyToUndefined = (v: unknown) => (v === '' ? undefined : v);

const SiteQuery = z.object({
  q: z.preprocess(emptyToUndefined, z.string().max(100).optional()),
  district: z.preprocess(emptyToUndefined, z.string().max(64).optional()),
  commune: z.preprocess(emptyToUndefined, z.string().max(64).optional()),
  kind: z.preprocess(emptyToUndefined, z.enum(['commune', 'station', 'gate', 'office']).optional()),
  state: z.preprocess(emptyToUndefined, z.enum([...SITE_STATES, 'problem']).optional()),
  sort: z.enum(SITE_SORTS).default('district'),
  dir: z.enum(['asc', 'desc']).default('asc'),
  ...Paging,
});

const EventQuery = z.object({
  before: z.coerce.number().int().positive().optional(),
  limit: z.coerce.number().int().min(1).max(500).default(50),
});

const AlertQuery = z.object({
  type: z.preprocess(emptyToUndefined, z.enum(ALERT_TYPES).optional()),
  ...Paging,
});

export function createDashboardRoutes<E extends Env>(deps: DashboardDeps<E>): Hono<E> {
  const repo = createDashboardRepo(deps.db);
  const files = createStaticFiles(deps.dashboardPublicDir);
  const now = deps.now ?? Date.now;
  const offlineAfterMs = deps.config.OFFLINE_AFTER;
  const canRead = deps.auth.requireRole(...DASHBOARD_READ_ROLES);
  const app = new Hono<E>();

  // The page itself is public: it asks /api/v1/auth/me and shows the login form when there is no session.
  app.get('/', async (c) => {
    const page = await files.index();
    if (!page) return c.text('dashboard files missing', 500);
    return c.body(new Uint8Array(page.body), 200, { 'content-type': page.type, 'cache-control': 'no-cache' });
  });
  app.get('/dashboard/fonts/:name', async (c) => {
    const font = await files.font(c.req.param('name'));
    if (!font) return c.json({ error: { code: 'not_found', message: 'no such font' } }, 404);
    return c.body(new Uint8Array(font.body), 200, { 'content-type': font.type, 'cache-control': 'public, max-age=86400' });
  });
  app.get('/dashboard/:name', async (c) => {
    const name = c.req.param('name');
    const file = await files.asset(name);
    if (!file) return c.json({ error: { code: 'not_found', message: 'no such dashboard file' } }, 404);
    const headers: Record<string, string> = { 'content-type': file.type, 'cache-control': 'no-cache' };
    // The draft preview is the one page the dashboard frames itself: its own CSP (the dashboard's, framed by
    // 'self' only); every other response keeps frame-ancestors 'none'.
    if (name === 'preview.html') headers['content-security-policy'] = PREVIEW_CSP;
    return c.body(new Uint8Array(file.body), 200, headers);
  });

  app.get('/api/v1/dashboard/sites', canRead, query(SiteQuery), (c) => {
    const q = c.req.valid('query');
    const page = repo.sitePage({
      q: q.q ?? null,
      districtId: q.district ?? null,
      communeId: q.commune ?? null,
      kind: q.kind ?? null,
      state: q.state ?? null,
      sort: q.sort,
      dir: q.dir,
      limit: q.limit,
      offset: q.offset,
      onlineSince: now() - offlineAfterMs,
      now: now(),
    });
    // Parsed, not `satisfies`: the repo types a row's kind as the string SQLite gives (its CHECK keeps it a SiteKind).
    return c.json(SitePageOut.parse({ total: page.total, limit: q.limit, offset: q.offset, sites: page.rows }));
  });

  app.get('/api/v1/dashboard/districts', canRead, (c) =>
    c.json(DistrictsOut.parse({ districts: repo.districts() } satisfies DistrictsOut)),
  );

  // Compact rows (arrays, not objects): the map draws every site and 10 000 of them must stay small. The body is
  // written as text: each site's fixed part (id, names, kind, coordinates) serialized once per registry version
  // (repo.mapSites() returns the same array until the registry changes), its state and problems appended per
  // request, and the whole body (encoded once) reused while every state and problem count is what it was; its ETag
  // names that body, so a browser polling with If-None-Match gets 304 and no body. Not parsed per request (that
  // costs more than the read; the sites table's CHECK keeps `kind` a SiteKind): tests/dashboard-api-shapes.test.ts
  // and tests/dashboard-map-route.test.ts parse it.
  // Unique per process start and route instance: an ETag from before a restart never matches.
  const mapEtagPrefix = `map-${process.pid.toString(36)}-${Date.now().toString(36)}-${++mapRouteInstances}`;
  let mapBodies = 0;
  const utf8 = new TextEncoder();
  let mapText: {
    sites: readonly unknown[];
    fixed: string[];
    ranks: Uint8Array;
    problems: Uint32Array;
    body: Uint8Array<ArrayBuffer>;
    etag: string;
  } | null = null;
  app.get('/api/v1/dashboard/map', canRead, (c) => {
    const at = now();
    const sites = repo.mapSites();
    const { ranks, problems } = repo.mapFigures(sites, at - offlineAfterMs, at);
    if (mapText?.sites !== sites)
      mapText = {
        sites,
        fixed: sites.map((r) => {
          const row: MapOut['sites'][number] = [
            r.id,
            r.name,
            r.kind as SiteKind,
            r.district_name,
            r.commune_name,
            r.lat,
            r.lon,
            'none',
            0,
          ];
          // `[id,…,lon,` — the row without its last two values and closing bracket.
          return `${JSON.stringify(row.slice(0, 7)).slice(0, -1)},`;
        }),
        ranks: new Uint8Array(0),
        problems: new Uint32Array(0),
        body: new Uint8Array(0),
        etag: '',
      };
    const m = mapText;
    if (m.etag === '' || !sameFigures(m.ranks, ranks) || !sameFigures(m.problems, problems)) {
      const rows = m.fixed.map((fixed, i) => `${fixed}"${STATE_BY_RANK[ranks[i] ?? 0]}",${problems[i]}]`);
      m.body = utf8.encode(`{"columns":${JSON.stringify(MAP_COLUMNS)},"sites":[${rows.join(',')}]}`);
      m.ranks = ranks;
      m.problems = problems;
      m.etag = `"${mapEtagPrefix}-${++mapBodies}"`;
    }
    const headers = { 'content-type': 'application/json', etag: m.etag, 'cache-control': 'private, no-cache' };
    if (c.req.header('if-none-match') === m.etag) return c.body(null, 304, headers);
    return c.body(m.body, 200, headers);
  });

  // The base map (no internet): country outlines and borders, projected once on the first request; the sites with
  // coordinates in the same frame. Their state comes from /api/v1/dashboard/map.
  const mapBase = createMapBase(deps.db);
  app.get('/api/v1/map/base', canRead, async (c) => {
    c.header('cache-control', 'private, max-age=300');
    return c.json(await mapBase());
  });

  // Device events (clock skew, disk full, …): stored by ingest, read by no other module's API.
  app.get('/api/v1/dashboard/devices/:id/events', canRead, query(EventQuery), (c) => {
    const q = c.req.valid('query');
    const events = repo.deviceEvents(c.req.param('id'), q.before ?? null, q.limit);
    if (!events) throw new NotFoundError(`device ${c.req.param('id')}`);
    return c.json(DeviceEventsOut.parse({ events } satisfies DeviceEventsOut));
  });

  app.get('/api/v1/alerts', canRead, query(AlertQuery), (c) => {
    const q = c.req.valid('query');
    const { total, counts, alerts } = alertsPage(repo, now(), offlineAfterMs, q);
    return c.json(
      AlertsOut.parse({
        total,
        counts,
        limit: q.limit,
        offset: q.offset,
        alerts,
      } satisfies AlertsOut),
    );
  });

  return app;
}

let mapRouteInstances = 0;

function sameFigures(a: Uint8Array | Uint32Array, b: Uint8Array | Uint32Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
