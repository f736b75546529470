/** Validation at the edge: malformed input becomes a 400 with a message, handlers get typed data. */
import type { Context } from 'hono';
import type { z } from 'zod';
import { BadRequestError } from '../errors.js';

function describe(error: z.ZodError): string {
  return error.issues.map((i) => (i.path.length ? `${i.path.join('.')}: ${i.message}` : i.message)).join('; ');
}

export async function jsonBody<S extends z.ZodType>(c: Context, schema: S): Promise<z.infer<S>> {
  let body: unknown;
  try {
    body = await c.req.json();
  } catch {
    throw new BadRequestError('the body must be JSON', 'invalid_json');
  }
  const parsed = schema.safeParse(body);
  if (!parsed.success) throw new BadRequestError(describe(parsed.error), 'invalid_body');
  return parsed.data;
}

export function queryParams<S extends z.ZodType>(c: Context, schema: S): z.infer<S> {
  const parsed = schema.safeParse(c.req.query());
  if (!parsed.success) throw new BadRequestError(describe(parsed.error), 'invalid_query');
  return parsed.data;
}
