/**
 * Provisioning's domain errors and the one place they become `{error: {code, message}}` responses
 * (DESIGN §6). Every code names the problem (`enrollment_token_used`, `pairing_code_claimed`, …), so the
 * CLI and the dashboard can show it as it is. Anything else is rethrown to the server's own error handler.
 */
import type { Context } from 'hono';
import type { ContentfulStatusCode } from 'hono/utils/http-status';

export class ProvisioningError extends Error {
  constructor(
    readonly status: ContentfulStatusCode,
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'ProvisioningError';
  }
}

export const badRequest = (code: string, message: string) => new ProvisioningError(400, code, message);
export const unauthorized = (code: string, message: string) => new ProvisioningError(401, code, message);
export const notFound = (code: string, message: string) => new ProvisioningError(404, code, message);
export const conflict = (code: string, message: string) => new ProvisioningError(409, code, message);
export const gone = (code: string, message: string) => new ProvisioningError(410, code, message);

/** The route module's `onError`: headers already set on `c` (Retry-After) are kept. */
export function renderProvisioningError(error: Error, c: Context): Response {
  if (error instanceof ProvisioningError) return c.json({ error: { code: error.code, message: error.message } }, error.status);
  throw error;
}
