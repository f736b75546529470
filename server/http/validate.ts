/**
 * Validation at the edge, one way for every route. `json(schema)` and `query(schema)` are Hono validator
 * middlewares (`hono/validator`): handlers read the typed result with `c.req.valid('json' | 'query')`.
 * Malformed input is a 400 whose message lists zod's issues (`describeIssues`, the one place they become
 * text): `invalid_json` (not JSON), `invalid_body` (JSON of the wrong shape), `invalid_query`. A JSON route
 * answers a body sent as anything but `Content-Type: application/json` with 415 `unsupported_media_type`
 * (a cross-site form or `text/plain` POST can never reach a handler as JSON). The schemas stay readable on
 * the middleware, so `openapi.ts` describes bodies and queries from what the routes really check.
 */
import type { MiddlewareHandler } from 'hono';
import { HTTPException } from 'hono/http-exception';
import { validator } from 'hono/validator';
import type { z } from 'zod';
import { BadRequestError, UnsupportedMediaTypeError } from '../errors.js';

/** zod's issues as one line: `path: message; path: message`. */
export function describeIssues(error: z.ZodError): string {
  return error.issues.map((i) => (i.path.length ? `${i.path.join('.')}: ${i.message}` : i.message)).join('; ');
}

/** Parses a value the route read itself (a path parameter); malformed input is a 400 with `code`. */
export function parseInput<S extends z.ZodType>(schema: S, value: unknown, code = 'bad_request'): z.output<S> {
  const parsed = schema.safeParse(value);
  if (!parsed.success) throw new BadRequestError(describeIssues(parsed.error), code);
  return parsed.data;
}

/** `application/json` or `application/<something>+json`, as hono's validator reads it. */
const JSON_MEDIA_TYPE = /^application\/([\w.-]+\+)?json$/i;
export function isJsonContentType(header: string | undefined): boolean {
  return JSON_MEDIA_TYPE.test((header ?? '').split(';')[0]?.trim() ?? '');
}

/** Where the schema a validator checks is kept on the middleware (read by `openapi.ts`). */
export const VALIDATED_SCHEMA = Symbol('validatedSchema');
export interface ValidatedSchema {
  target: 'json' | 'query';
  schema: z.ZodType;
}
export function validatedSchemaOf(handler: unknown): ValidatedSchema | undefined {
  return (handler as { [VALIDATED_SCHEMA]?: ValidatedSchema } | null)?.[VALIDATED_SCHEMA];
}

type JsonInput<S extends z.ZodType> = { in: { json: z.input<S> }; out: { json: z.output<S> } };
type QueryInput<S extends z.ZodType> = { in: { query: Record<string, string | string[]> }; out: { query: z.output<S> } };

/** The body as JSON matching `schema`: 415 if not sent as JSON, 400 `invalid_json` / `invalid_body`. */
// biome-ignore lint/suspicious/noExplicitAny: the middleware fits any route env (its typed part is the input)
export function json<S extends z.ZodType>(schema: S): MiddlewareHandler<any, string, JsonInput<S>> {
  const validate = validator('json', (value) => parseInput(schema, value, 'invalid_body')) as unknown as MiddlewareHandler;
  const middleware: MiddlewareHandler = async function jsonBody(c, next) {
    if (!isJsonContentType(c.req.header('content-type')))
      throw new UnsupportedMediaTypeError('the body must be JSON, sent with Content-Type: application/json');
    let reachedHandler = false;
    try {
      return await validate(c, () => {
        reachedHandler = true;
        return next();
      });
    } catch (error) {
      // hono's validator answers unparsable JSON with a bare 400; say it in this API's words.
      if (!reachedHandler && error instanceof HTTPException && error.status === 400)
        throw new BadRequestError('the body must be JSON', 'invalid_json');
      throw error;
    }
  };
  return Object.assign(middleware, { [VALIDATED_SCHEMA]: { target: 'json', schema } satisfies ValidatedSchema });
}

/** The query string matching `schema` (a key given twice is an array): 400 `invalid_query`. */
// biome-ignore lint/suspicious/noExplicitAny: as for json()
export function query<S extends z.ZodType>(schema: S): MiddlewareHandler<any, string, QueryInput<S>> {
  const middleware = validator('query', (value) => parseInput(schema, value, 'invalid_query')) as unknown as MiddlewareHandler<
    // biome-ignore lint/suspicious/noExplicitAny: as above
    any,
    string,
    QueryInput<S>
  >;
  return Object.assign(middleware, { [VALIDATED_SCHEMA]: { target: 'query', schema } satisfies ValidatedSchema });
}
