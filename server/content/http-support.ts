/** Small pieces shared by the content route modules. */
import type { z } from 'zod';
import type { AuthMiddleware } from '../auth/auth-middleware.js';
import { badRequest } from './errors.js';

/** The core's auth middlewares: `requireRole` sets `c.var.user`, `requireDevice` sets `c.var.device`. */
export type ContentAuth = Pick<AuthMiddleware, 'requireRole' | 'requireDevice'>;

/** Validates a path or query value; malformed input is a 400 with the schema's message. */
export function parse<S extends z.ZodType>(schema: S, value: unknown): z.infer<S> {
  const parsed = schema.safeParse(value);
  if (!parsed.success) {
    throw badRequest(
      parsed.error.issues.map((i) => (i.path.length ? `${i.path.join('.')}: ${i.message}` : i.message)).join('; '),
    );
  }
  return parsed.data;
}
