/**
 * Domain errors of the content library: the core's DomainError (status + stable `code`), so the server's one
 * error mapping (`http/app.ts`) turns them into `{error: {code, message}}`.
 */
import { DomainError } from '../errors.js';

export class ContentError extends DomainError {
  constructor(status: 400 | 403 | 404 | 409 | 413 | 422, code: string, message: string) {
    super(status, code, message);
  }
}

export const notFound = (what: string) => new ContentError(404, 'not_found', `${what} not found`);
export const forbidden = (message: string) => new ContentError(403, 'forbidden', message);
export const conflict = (message: string) => new ContentError(409, 'conflict', message);
export const badRequest = (message: string) => new ContentError(400, 'bad_request', message);
export const tooLarge = (limit: number) =>
  new ContentError(413, 'payload_too_large', `the file is larger than the limit of ${limit} bytes`);
export const typeMismatch = (message: string) => new ContentError(422, 'type_mismatch', message);
