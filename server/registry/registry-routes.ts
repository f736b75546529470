/** `/api/v1/sites…`, `/api/v1/devices…` (registry, health history, revoke). */
import { Hono } from 'hono';
import { z } from 'zod';
import { SitePatch } from '../../protocol/api.js';
import {
  DeviceDetailOut,
  DeviceRevokedOut,
  DevicesOut,
  type HealthOut,
  SiteListOut,
  SiteOneOut,
} from '../../protocol/api-dashboard.js';
import { DeviceStatus, SiteKind } from '../../protocol/index.js';
import { NotFoundError } from '../errors.js';
import type { AppEnv } from '../http/app-env.js';
import type { RouteDeps } from '../http/route-deps.js';
import { json, query } from '../http/validate.js';
import { getDevice, listDevices } from './devices-repo.js';
import { hourlyHealth, rawHealth } from './health-repo.js';
import { getSite, listSites, updateSite } from './sites-repo.js';

const Bool = z.enum(['true', 'false', '1', '0']).transform((v) => v === 'true' || v === '1');
const SitesQuery = z.object({ kind: SiteKind.optional(), parent: z.string().max(64).optional(), border: Bool.optional() });
const DevicesQuery = z.object({
  site: z.string().max(64).optional(),
  status: DeviceStatus.optional(),
  online: Bool.optional(),
  limit: z.coerce.number().int().min(1).max(1000).default(100),
  offset: z.coerce.number().int().min(0).default(0),
});
const Instant = z.union([
  z.coerce.number().int().nonnegative(),
  z.iso.datetime({ offset: true }).transform((s) => Date.parse(s)),
]);
const HealthQuery = z.object({
  from: Instant.optional(),
  to: Instant.optional(),
  resolution: z.enum(['raw', 'hour']).default('raw'),
  limit: z.coerce.number().int().min(1).max(10_000).default(1000),
});

export function registryRoutes(deps: RouteDeps): Hono<AppEnv> {
  const { db, auth, audit, fleet } = deps;
  const app = new Hono<AppEnv>();
  const readers = auth.requireRole('department', 'technician', 'editor', 'approver');
  const fleetReaders = auth.requireRole('department', 'technician');

  app.get('/sites', readers, query(SitesQuery), (c) => {
    const q = c.req.valid('query');
    return c.json(
      SiteListOut.parse({ sites: listSites(db, { kind: q.kind, parentId: q.parent, border: q.border }) } satisfies SiteListOut),
    );
  });

  app.get('/sites/:id', readers, (c) => {
    const site = getSite(db, c.req.param('id'));
    if (!site) throw new NotFoundError(`site ${c.req.param('id')}`);
    return c.json(SiteOneOut.parse({ site } satisfies SiteOneOut));
  });

  // The site page's edits (coordinates first): the department and admins, each change in the audit log.
  app.patch('/sites/:id', auth.requireRole('department'), json(SitePatch), (c) => {
    const id = c.req.param('id');
    const patch = c.req.valid('json');
    const changed = updateSite(db, id, patch);
    if (!changed) throw new NotFoundError(`site ${id}`);
    const before = Object.fromEntries(Object.keys(patch).map((k) => [k, changed.before[k as keyof typeof changed.before]]));
    audit({ actor: c.get('user').username, action: 'site.update', target: id, detail: { before, after: patch } });
    return c.json(SiteOneOut.parse({ site: changed.after } satisfies SiteOneOut));
  });

  app.get('/devices', fleetReaders, query(DevicesQuery), (c) => {
    const q = c.req.valid('query');
    const { total, devices } = listDevices(db, {
      siteId: q.site,
      status: q.status,
      online: q.online,
      limit: q.limit,
      offset: q.offset,
    });
    return c.json(DevicesOut.parse({ total, limit: q.limit, offset: q.offset, devices } satisfies DevicesOut));
  });

  app.get('/devices/:id', fleetReaders, (c) => {
    const device = getDevice(db, c.req.param('id'));
    if (!device) throw new NotFoundError(`device ${c.req.param('id')}`);
    const sync =
      db
        .prepare(
          'SELECT manifest_seq AS manifestSeq, state, bytes, missing, error, failures, updated_at AS updatedAt FROM device_sync WHERE device_id = ?',
        )
        .get(device.id) ?? null;
    // `sync` comes from SQL untyped: the parse checks it.
    return c.json(DeviceDetailOut.parse({ device, sync }));
  });

  app.get('/devices/:id/health', fleetReaders, query(HealthQuery), (c) => {
    const id = c.req.param('id');
    if (!getDevice(db, id)) throw new NotFoundError(`device ${id}`);
    const q = c.req.valid('query');
    const to = q.to ?? Date.now() + 1;
    const from = q.from ?? to - 86_400_000;
    // Typed by its schema, not parsed per request (up to 10 000 samples); tests/dashboard-api-shapes.test.ts parses it.
    return q.resolution === 'raw'
      ? c.json({ deviceId: id, resolution: 'raw', from, to, samples: rawHealth(db, id, from, to, q.limit) } satisfies HealthOut)
      : c.json({
          deviceId: id,
          resolution: 'hour',
          from,
          to,
          hours: hourlyHealth(db, id, from, to, q.limit),
        } satisfies HealthOut);
  });

  app.post('/devices/:id/revoke', auth.requireRole('department'), (c) => {
    const id = c.req.param('id');
    if (!fleet.revokeDevice(id)) throw new NotFoundError(`device ${id}`);
    audit({ actor: c.get('user').username, action: 'device.revoke', target: id });
    return c.json(DeviceRevokedOut.parse({ device: getDevice(db, id) }));
  });

  return app;
}
