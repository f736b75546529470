/**
 * Domain errors of the content library. Each carries the HTTP status and the stable `code` of the API's
 * `{error: {code, message}}`; the server's single error mapping turns them into responses.
 */
export class ContentError extends Error {
  constructor(
    readonly status: 400 | 403 | 404 | 409 | 413 | 422,
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'ContentError';
  }
}

export const notFound = (what: string) => new ContentError(404, 'not_found', `${what} not found`);
export const forbidden = (message: string) => new ContentError(403, 'forbidden', message);
export const conflict = (message: string) => new ContentError(409, 'conflict', message);
export const badRequest = (message: string) => new ContentError(400, 'bad_request', message);
export const tooLarge = (limit: number) =>
  new ContentError(413, 'payload_too_large', `the file is larger than the limit of ${limit} bytes`);
export const typeMismatch = (message: string) => new ContentError(422, 'type_mismatch', message);
