/**
 * HTTP of over-the-air releases (docs/releases.md). People (admin, department) upload releases and run rollouts;
 * technicians and the department read them. Devices read the release they should run and download its files.
 * Mount at `/`.
 */
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { Hono } from 'hono';
import { z } from 'zod';
import { type DeviceReleaseTarget, Id, ReleaseVersion, Sha256Hex } from '../../protocol/index.js';
import { fileResponse } from '../content/serve-file.js';
import { DomainError } from '../errors.js';
import type { AppEnv } from '../http/app-env.js';
import { bodyLimit, streamedBodyLimit } from '../http/body-limit.js';
import type { RouteDeps } from '../http/route-deps.js';
import { json, parseInput as parse } from '../http/validate.js';
import { releaseServiceFor } from './index.js';
import { CreateRollout, type ReleaseService } from './releases.js';

/** A manifest of up to 20 000 files. */
const MANIFEST_BODY_LIMIT_BYTES = 8 * 1024 * 1024;
const AbortBody = z.object({ reason: z.string().min(1).max(2000).optional() });

export function releaseRoutes(deps: RouteDeps): Hono<AppEnv> {
  const { auth } = deps;
  const releases: ReleaseService =
    deps.releases ??
    releaseServiceFor({
      db: deps.db,
      dataDir: deps.config.DATA_DIR,
      audit: deps.audit,
      keyring: deps.content.keyring,
      notifyManifest: deps.fleet.notifyManifest,
    });
  const app = new Hono<AppEnv>();
  const manage = auth.requireRole('department');
  const read = auth.requireRole('department', 'technician');

  app.get('/api/v1/releases', read, async (c) => c.json({ releases: await releases.listReleases() }));
  app.get('/api/v1/releases/fleet', read, (c) => c.json({ devices: releases.versions() }));
  app.post('/api/v1/releases', manage, bodyLimit(MANIFEST_BODY_LIMIT_BYTES), async (c) => {
    const body: unknown = await c.req.json().catch(() => {
      throw new DomainError(400, 'bad_request', 'the body must be the signed release manifest (release.json)');
    });
    const result = await releases.upload(c.var.user.username, body);
    return c.json(result, result.created ? 201 : 200);
  });
  app.get('/api/v1/releases/:version', read, async (c) =>
    c.json(await releases.releaseView(parse(ReleaseVersion, c.req.param('version')))),
  );
  // The body is the file itself, streamed into the store and hashed; only files a release lists are taken.
  app.put('/api/v1/releases/files/:sha256', manage, streamedBodyLimit(2 * 1024 ** 3), async (c) => {
    const sha256 = parse(Sha256Hex, c.req.param('sha256'));
    const incoming = (c.env as { incoming?: unknown } | undefined)?.incoming;
    const body = incoming instanceof Readable ? incoming : c.req.raw.body;
    if (!body) throw new DomainError(400, 'bad_request', 'the body must be the file');
    return c.json(await releases.putFile(sha256, body), 201);
  });

  app.get('/api/v1/rollouts', read, (c) => c.json({ rollouts: releases.listRollouts() }));
  app.post('/api/v1/rollouts', manage, json(CreateRollout), async (c) => {
    const input = c.req.valid('json');
    const release = await releases.releaseView(input.version);
    if (!release.complete) {
      throw new DomainError(
        409,
        'release_incomplete',
        `release ${input.version} still misses ${release.missing.length} file(s); upload them first`,
      );
    }
    const id = releases.createRollout(c.var.user.username, input);
    releases.evaluate();
    return c.json(releases.rolloutView(id), 201);
  });
  app.get('/api/v1/rollouts/:id', read, (c) => {
    releases.evaluate();
    return c.json(releases.rolloutView(parse(Id, c.req.param('id'))));
  });
  app.post('/api/v1/rollouts/:id/pause', manage, (c) =>
    c.json(releases.act(c.var.user.username, parse(Id, c.req.param('id')), 'pause')),
  );
  app.post('/api/v1/rollouts/:id/resume', manage, (c) =>
    c.json(releases.act(c.var.user.username, parse(Id, c.req.param('id')), 'resume')),
  );
  app.post('/api/v1/rollouts/:id/abort', manage, json(AbortBody), (c) =>
    c.json(releases.act(c.var.user.username, parse(Id, c.req.param('id')), 'abort', c.req.valid('json').reason)),
  );

  app.get('/api/v1/devices/:id/release', auth.requireDevice(), (c) => {
    const device = c.var.device;
    if (c.req.param('id') !== device.id) throw new DomainError(403, 'forbidden', 'a device may read only its own release');
    const target: DeviceReleaseTarget = releases.targetFor(device.id);
    const etag = `"${createHash('sha256').update(`${target.rolloutId}:${target.version}`).digest('hex').slice(0, 32)}"`;
    c.header('ETag', etag);
    c.header('Cache-Control', 'no-cache');
    if (
      c.req
        .header('if-none-match')
        ?.split(',')
        .some((t) => t.trim() === etag)
    )
      return c.body(null, 304);
    return c.json(target);
  });
  // The agent's downloader resumes with Range from `<base>/files/<sha256>`: this base is the device's release.
  app.on(['GET', 'HEAD'], '/api/v1/devices/:id/release/files/:sha256', auth.requireDevice(), async (c) => {
    const device = c.var.device;
    const sha256 = parse(Sha256Hex, c.req.param('sha256'));
    if (c.req.param('id') !== device.id || !releases.mayFetch(device.id, sha256)) {
      throw new DomainError(403, 'forbidden', 'the file is not in the release this device is to run');
    }
    return fileResponse(releases.store, { sha256, mime: 'application/octet-stream' }, c.req.raw);
  });
  return app;
}
