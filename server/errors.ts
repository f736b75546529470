/**
 * The server's one error type: a `DomainError` carries the HTTP status and a stable `code` (the CLI and the
 * dashboard show and branch on codes, so they never change meaning). Every module throws these (or the
 * helpers below, or its own named-code helpers built on them); `http/app.ts` is the one place they become
 * `{error: {code, message}}` responses. Anything else thrown is a 500 without details.
 */
export type ErrorStatus = 400 | 401 | 403 | 404 | 409 | 410 | 413 | 415 | 422 | 429 | 503;

export class DomainError extends Error {
  constructor(
    readonly status: ErrorStatus,
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = new.target.name;
  }
}

export class BadRequestError extends DomainError {
  constructor(message: string, code = 'bad_request') {
    super(400, code, message);
  }
}
export class UnauthorizedError extends DomainError {
  constructor(message = 'authentication required') {
    super(401, 'unauthorized', message);
  }
}
export class ForbiddenError extends DomainError {
  constructor(message = 'not allowed for your role', code = 'forbidden') {
    super(403, code, message);
  }
}
export class NotFoundError extends DomainError {
  constructor(what: string) {
    super(404, 'not_found', `${what} not found`);
  }
}
export class ConflictError extends DomainError {
  constructor(message: string) {
    super(409, 'conflict', message);
  }
}
/** The body is over the route's limit; it was refused before it was read whole. */
export class PayloadTooLargeError extends DomainError {
  constructor(message: string, code = 'payload_too_large') {
    super(413, code, message);
  }
}
export class UnsupportedMediaTypeError extends DomainError {
  constructor(message: string) {
    super(415, 'unsupported_media_type', message);
  }
}
export class TooManyRequestsError extends DomainError {
  constructor(
    message: string,
    readonly retryAfterS: number,
    code = 'too_many_requests',
  ) {
    super(429, code, message);
  }
}
