/** `GET /files/{sha256}` (DESIGN §6): device-authenticated, and only files in the device's own manifest. */
import { Hono } from 'hono';
import { z } from 'zod';
import type { AppEnv } from '../http/app-env.js';
import { parseInput as parse } from '../http/validate.js';
import { forbidden, notFound } from './errors.js';
import type { ContentAuth } from './http-support.js';
import { getFile } from './library-repo.js';
import { fileResponse } from './serve-file.js';
import type { ContentServices } from './services.js';

const Sha = z.string().regex(/^[0-9a-f]{64}$/, 'must be a lowercase hex sha256');

export function createFileRoutes(deps: ContentServices & { auth: ContentAuth }): Hono<AppEnv> {
  const { db, store, distribution, auth } = deps;
  const app = new Hono<AppEnv>();
  app.on(['GET', 'HEAD'], '/files/:sha256', auth.requireDevice(), async (c) => {
    const sha256 = parse(Sha, c.req.param('sha256'));
    const device = c.var.device;
    if (!distribution.mayFetch({ deviceId: device.id, siteId: device.siteId }, sha256)) {
      throw forbidden('the file is not in this device’s manifest');
    }
    const file = getFile(db, sha256);
    if (!file) throw notFound('file');
    return fileResponse(store, file, c.req.raw);
  });
  return app;
}
