/**
 * The CLI's only way to the server: its HTTP API (DESIGN §2). A refusal carries the server's
 * `{error: {code, message}}` so the technician sees the server's own words.
 */
import { ApiError } from '../protocol/index.js';
import { CliError, EXIT } from './cli-support.js';
import { pinnedDispatcher } from './server-identity.js';

export interface ApiClientOptions {
  server: string;
  /** API token of a person (Bearer); absent for device calls such as enroll. */
  token?: string | undefined;
  /** A session cookie (`name=value`), used by `login` to create an API token. */
  cookie?: string | undefined;
  /** Links in the field are slow: the default is generous. */
  timeoutMs?: number;
  /** Trust only this CA for https (the one the enrollment link's fingerprint named). */
  ca?: string | undefined;
}

export class ApiRefusal extends CliError {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(`server refused (${status} ${code}): ${message}`, EXIT.refused);
  }
}

export function normalizeServerUrl(server: string): string {
  let url: URL;
  try {
    url = new URL(server);
  } catch {
    throw new CliError(`--server: not a URL: ${JSON.stringify(server)} (e.g. https://fleet.example.vn)`, EXIT.usage);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    throw new CliError(`--server must be http(s), got ${url.protocol}`, EXIT.usage);
  return url.origin + url.pathname.replace(/\/+$/, '');
}

export function createApiClient(options: ApiClientOptions) {
  const base = normalizeServerUrl(options.server);
  const timeoutMs = options.timeoutMs ?? 60_000;
  const dispatcher = options.ca ? pinnedDispatcher(options.ca) : undefined;

  async function request(
    method: string,
    path: string,
    body?: { json: unknown } | { bytes: Uint8Array; type: string },
    /** Error statuses whose body is still an answer (an atomic import's 422 report). */
    alsoOk: number[] = [],
  ): Promise<unknown> {
    const headers: Record<string, string> = { accept: 'application/json' };
    if (options.token) headers.authorization = `Bearer ${options.token}`;
    if (options.cookie) headers.cookie = options.cookie;
    let payload: string | Uint8Array | undefined;
    if (body && 'json' in body) {
      headers['content-type'] = 'application/json';
      payload = JSON.stringify(body.json);
    } else if (body) {
      headers['content-type'] = body.type;
      payload = body.bytes;
    }
    let res: Response;
    try {
      res = await fetch(`${base}${path}`, {
        method,
        headers,
        ...(payload !== undefined ? { body: payload } : {}),
        signal: AbortSignal.timeout(timeoutMs),
        ...(dispatcher ? { dispatcher } : {}),
      } as RequestInit);
    } catch (error) {
      const cause = (error as { cause?: { code?: string; message?: string } }).cause;
      const why =
        (error as Error).name === 'TimeoutError'
          ? `no answer within ${timeoutMs / 1000} s`
          : (cause?.code ?? cause?.message ?? (error as Error).message);
      throw new CliError(`cannot reach the server at ${base}: ${why}`, EXIT.unreachable);
    }
    const text = await res.text();
    let data: unknown = text;
    try {
      data = text ? JSON.parse(text) : null;
    } catch {
      // not JSON: keep the text for the message
    }
    if (!res.ok && !alsoOk.includes(res.status)) {
      const parsed = ApiError.safeParse(data);
      if (parsed.success) throw new ApiRefusal(res.status, parsed.data.error.code, parsed.data.error.message);
      throw new ApiRefusal(res.status, 'http_error', typeof data === 'string' && data ? data.slice(0, 300) : res.statusText);
    }
    lastSetCookie = res.headers.get('set-cookie');
    return data;
  }
  let lastSetCookie: string | null = null;

  return {
    base,
    /** The CA this client trusts for the server (undefined: the system's). */
    ca: options.ca,
    postJson: (path: string, json: unknown) => request('POST', path, { json }),
    postBytes: (path: string, bytes: Uint8Array, type: string, alsoOk: number[] = []) =>
      request('POST', path, { bytes, type }, alsoOk),
    post: (path: string) => request('POST', path),
    getJson: (path: string) => request('GET', path),
    /** Logs in; returns the session cookie to build a client that creates an API token. */
    async login(username: string, password: string): Promise<{ cookie: string }> {
      await request('POST', '/api/v1/auth/login', { json: { username, password } });
      const cookie = lastSetCookie?.split(';')[0];
      if (!cookie) throw new CliError('the server accepted the login but set no session cookie', EXIT.refused);
      return { cookie };
    },
  };
}
export type ApiClient = ReturnType<typeof createApiClient>;
