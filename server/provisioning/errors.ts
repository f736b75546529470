/**
 * Provisioning's errors are the server's `DomainError` (server/errors.ts) with codes that name the problem
 * (`enrollment_token_used`, `pairing_code_claimed`, …), so the CLI and the dashboard can show them as they
 * are (DESIGN §6). The server's one `onError` (http/app.ts) turns them into responses.
 */
import { DomainError } from '../errors.js';

export const badRequest = (code: string, message: string) => new DomainError(400, code, message);
export const unauthorized = (code: string, message: string) => new DomainError(401, code, message);
export const notFound = (code: string, message: string) => new DomainError(404, code, message);
export const conflict = (code: string, message: string) => new DomainError(409, code, message);
export const gone = (code: string, message: string) => new DomainError(410, code, message);
