/** Small pieces shared by the content route modules: auth hooks they are given, validation, error mapping. */
import type { Context, Hono, MiddlewareHandler } from 'hono';
import type { z } from 'zod';
import type { Role } from '../../protocol/index.js';
import { badRequest } from './errors.js';
import type { ContentActor } from './workflow.js';

/** The core's auth middlewares: `requireRole` sets `c.var.user`, `requireDevice` sets `c.var.device`. */
export interface ContentAuth {
  requireRole: (...roles: Role[]) => MiddlewareHandler;
  requireDevice: () => MiddlewareHandler;
}

export type ContentEnv = {
  Variables: { user: ContentActor; device: { id: string; siteId: string | null } };
};

function describe(error: z.ZodError): string {
  return error.issues.map((i) => (i.path.length ? `${i.path.join('.')}: ${i.message}` : i.message)).join('; ');
}

export async function jsonBody<S extends z.ZodType>(c: Context, schema: S): Promise<z.infer<S>> {
  let body: unknown;
  try {
    body = await c.req.json();
  } catch {
    throw badRequest('the body must be JSON');
  }
  const parsed = schema.safeParse(body);
  if (!parsed.success) throw badRequest(describe(parsed.error));
  return parsed.data;
}

export function parse<S extends z.ZodType>(schema: S, value: unknown): z.infer<S> {
  const parsed = schema.safeParse(value);
  if (!parsed.success) throw badRequest(describe(parsed.error));
  return parsed.data;
}

/**
 * Errors that carry their own status and code (the content errors, the core's domain errors) become
 * `{error: {code, message}}`; anything else goes on to the server's own error handler.
 */
export function mapErrors<E extends ContentEnv>(app: Hono<E>): Hono<E> {
  app.onError((error, c) => {
    const e = error as Error & { status?: unknown; code?: unknown };
    if (typeof e.status === 'number' && typeof e.code === 'string' && e.status >= 400 && e.status < 500) {
      return c.json({ error: { code: e.code, message: e.message } }, e.status as 400);
    }
    throw error;
  });
  return app;
}
