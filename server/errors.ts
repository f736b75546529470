/** Domain errors. `http/app.ts` is the one place they become HTTP responses. */
export class DomainError extends Error {
  constructor(
    readonly status: 400 | 401 | 403 | 404 | 409 | 413 | 422 | 429 | 503,
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
  constructor(message = 'not allowed for your role') {
    super(403, 'forbidden', message);
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
export class TooManyRequestsError extends DomainError {
  constructor(
    message: string,
    readonly retryAfterS: number,
  ) {
    super(429, 'too_many_requests', message);
  }
}
