/** `POST/GET /api/v1/devices/{id}/commands`: the outbox, as people use it. */
import { Hono } from 'hono';
import { z } from 'zod';
import { CommandRequest } from '../../protocol/index.js';
import { parseDuration } from '../config.js';
import { BadRequestError, ConflictError, NotFoundError } from '../errors.js';
import type { AppEnv } from '../http/app-env.js';
import type { RouteDeps } from '../http/route-deps.js';
import { json, query } from '../http/validate.js';
import { getDevice } from '../registry/devices-repo.js';
import { getCommand, listCommands } from './commands-repo.js';

const TtlQuery = z.object({ ttl: z.string().max(20).default('24h') });
const ListQuery = z.object({ limit: z.coerce.number().int().min(1).max(500).default(50) });
const MAX_TTL_MS = 30 * 86_400_000;

export function commandRoutes(deps: RouteDeps): Hono<AppEnv> {
  const { db, auth, audit, fleet } = deps;
  const app = new Hono<AppEnv>();

  app.post('/devices/:id/commands', auth.requireRole('department', 'technician'), query(TtlQuery), json(CommandRequest), (c) => {
    const deviceId = c.req.param('id');
    const { ttl } = c.req.valid('query');
    let ttlMs: number;
    try {
      ttlMs = parseDuration(ttl);
    } catch (error) {
      throw new BadRequestError((error as Error).message, 'invalid_query');
    }
    if (ttlMs <= 0 || ttlMs > MAX_TTL_MS) throw new BadRequestError('ttl must be between 1 ms and 30 d', 'invalid_query');
    const request = c.req.valid('json');
    const device = getDevice(db, deviceId);
    if (!device) throw new NotFoundError(`device ${deviceId}`);
    if (device.status === 'decommissioned') throw new ConflictError(`device ${deviceId} is decommissioned`);
    const user = c.get('user').username;
    const { id } = fleet.sendCommand({ deviceId, type: request.type, params: request.params, createdBy: user, ttlMs });
    audit({
      actor: user,
      action: 'command.create',
      target: deviceId,
      detail: { id, type: request.type, params: request.params, ttlMs },
    });
    return c.json({ command: getCommand(db, id) }, 201);
  });

  app.get('/devices/:id/commands', auth.requireRole('department', 'technician'), query(ListQuery), (c) => {
    const deviceId = c.req.param('id');
    if (!getDevice(db, deviceId)) throw new NotFoundError(`device ${deviceId}`);
    return c.json({ commands: listCommands(db, deviceId, c.req.valid('query').limit) });
  });

  return app;
}
