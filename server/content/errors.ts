/**
 * The content library's errors are the server's `DomainError` (status + stable `code`, server/errors.ts), so
 * the server's one error mapping (`http/app.ts`) turns them into `{error: {code, message}}`.
 */
import { DomainError, PayloadTooLargeError } from '../errors.js';

export const notFound = (what: string) => new DomainError(404, 'not_found', `${what} not found`);
export const forbidden = (message: string) => new DomainError(403, 'forbidden', message);
export const conflict = (message: string) => new DomainError(409, 'conflict', message);
export const badRequest = (message: string) => new DomainError(400, 'bad_request', message);
export const tooLarge = (limit: number) => new PayloadTooLargeError(`the file is larger than the limit of ${limit} bytes`);
export const typeMismatch = (message: string) => new DomainError(422, 'type_mismatch', message);
