/**
 * Issue 12 (1/7), the HTTP edge: every body is size-limited before it is read (the login's tiny, the
 * default small, CSV and uploads larger), a state-changing request a browser sends from another origin
 * is refused, JSON routes take only JSON, and every refusal has the one error shape. Real server, real
 * HTTP on port 0; the huge bodies go over raw sockets so nothing but the server buffers them.
 */
import type { AddressInfo } from 'node:net';
import { connect } from 'node:net';
import { serve } from '@hono/node-server';
import { Hono } from 'hono';
import { HTTPException } from 'hono/http-exception';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sampleFiles } from '../server/content/testing.js';
import { ConflictError } from '../server/errors.js';
import { buildHttpApp } from '../server/http/app.js';
import type { AppEnv } from '../server/http/app-env.js';
import { HttpSession, startTestServer, TEST_ADMIN_PASSWORD, type TestServer } from '../server/testing/test-server.js';

let server: TestServer;
let host: string;
let port: number;
let cookie: string;
let bearer: string;

beforeAll(async () => {
  server = await startTestServer();
  const url = new URL(server.httpUrl);
  host = url.hostname;
  port = Number(url.port);
  const admin = new HttpSession(server.httpUrl);
  const login = await admin.login('admin', TEST_ADMIN_PASSWORD);
  expect(login.status).toBe(200);
  cookie = (login.headers.get('set-cookie') ?? '').split(';')[0] as string;
  const token = await admin.json<{ token: string }>('POST', '/api/v1/auth/tokens', { name: 'edge tests' });
  expect(token.status).toBe(201);
  bearer = `Bearer ${token.body.token}`;
});
afterAll(async () => {
  await server?.stop();
});

interface RawAnswer {
  /** The status line's code, or null when the server closed without answering. */
  status: number | null;
  head: string;
  body: string;
  /** Body bytes the client got onto the socket before the server answered or closed. */
  written: number;
}

/**
 * POSTs `total` bytes of `fill` as the body over a raw socket (with a Content-Length, or chunked), writing
 * only as fast as the socket drains, and stops writing once the server answers or closes.
 */
function rawUpload(
  path: string,
  headers: Record<string, string>,
  total: number,
  options: { chunked?: boolean; method?: string } = {},
): Promise<RawAnswer> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, host);
    const chunk = Buffer.alloc(64 * 1024, 0x61);
    let written = 0;
    let answer = '';
    let stop = false;
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no answer within 30 s (written ${written})`));
    }, 30_000);
    const finish = () => {
      clearTimeout(timer);
      const [head = '', body = ''] = answer.split('\r\n\r\n');
      const status = /^HTTP\/1\.1 (\d{3})/.exec(head)?.[1];
      resolve({ status: status ? Number(status) : null, head, body, written });
    };
    socket.on('data', (data) => {
      answer += data.toString('latin1');
      stop = true;
    });
    socket.on('error', () => {}); // EPIPE/ECONNRESET once the server closes: expected
    socket.on('close', finish);
    const lengthHeader = options.chunked ? { 'transfer-encoding': 'chunked' } : { 'content-length': String(total) };
    const all = { host: `${host}:${port}`, ...headers, ...lengthHeader };
    socket.write(
      `${options.method ?? 'POST'} ${path} HTTP/1.1\r\n${Object.entries(all)
        .map(([k, v]) => `${k}: ${v}\r\n`)
        .join('')}\r\n`,
    );
    const pump = () => {
      while (!stop && !socket.destroyed && written < total) {
        const piece = chunk.subarray(0, Math.min(chunk.length, total - written));
        written += piece.length;
        const framed = options.chunked
          ? Buffer.concat([Buffer.from(`${piece.length.toString(16)}\r\n`), piece, Buffer.from('\r\n')])
          : piece;
        if (!socket.write(framed)) {
          socket.once('drain', pump);
          return;
        }
      }
      if (!stop && !socket.destroyed && options.chunked) socket.write('0\r\n\r\n');
    };
    pump();
  });
}

/** Runs `work` while sampling this process's RSS (the server runs in it); returns the peak growth in MiB. */
async function peakRssGrowthMiB(work: () => Promise<unknown>): Promise<number> {
  (globalThis as { gc?: () => void }).gc?.();
  const before = process.memoryUsage().rss;
  let peak = before;
  const sampler = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage().rss);
  }, 10);
  try {
    await work();
  } finally {
    clearInterval(sampler);
  }
  peak = Math.max(peak, process.memoryUsage().rss);
  return (peak - before) / 2 ** 20;
}

const MiB = 2 ** 20;
const json = { 'content-type': 'application/json' };

describe('body limits', () => {
  it('refuses a 200 MiB login body with 413 before reading it, and memory stays flat', async () => {
    let declared: RawAnswer | undefined;
    let chunked: RawAnswer | undefined;
    const growth = await peakRssGrowthMiB(async () => {
      declared = await rawUpload('/api/v1/auth/login', json, 200 * MiB);
      chunked = await rawUpload('/api/v1/auth/login', json, 200 * MiB, { chunked: true });
    });
    for (const answer of [declared, chunked] as RawAnswer[]) {
      expect(answer.status).toBe(413);
      expect(JSON.parse(answer.body)).toMatchObject({ error: { code: 'payload_too_large' } });
      expect(answer.head.toLowerCase()).toContain('connection: close');
      // The server answered and closed long before the client could send it all.
      expect(answer.written).toBeLessThan(100 * MiB);
    }
    console.log(
      `200 MiB login bodies: written before the 413 ${declared?.written} B (Content-Length), ${chunked?.written} B (chunked); peak RSS growth ${growth.toFixed(1)} MiB`,
    );
    expect(growth).toBeLessThan(64);
  });

  it('limits every route: the login to a few KiB, JSON routes to the default, larger only where needed', async () => {
    const login = await fetch(`${server.httpUrl}/api/v1/auth/login`, {
      method: 'POST',
      headers: json,
      body: JSON.stringify({ username: 'admin', password: 'x'.repeat(16 * 1024) }),
    });
    expect(login.status).toBe(413);
    expect(await login.json()).toMatchObject({ error: { code: 'payload_too_large' } });

    // A route that declares nothing gets the default (64 KiB), declared or streamed.
    const users = await fetch(`${server.httpUrl}/api/v1/users`, {
      method: 'POST',
      headers: { ...json, authorization: bearer },
      body: JSON.stringify({ username: 'big', role: 'editor', pad: 'x'.repeat(100 * 1024) }),
    });
    expect(users.status).toBe(413);
    const chunkedUsers = await rawUpload('/api/v1/users', { ...json, authorization: bearer }, 1 * MiB, { chunked: true });
    expect(chunkedUsers.status).toBe(413);
    // A route nobody authenticated for is limited all the same.
    const enroll = await rawUpload('/api/v1/enroll', json, 1 * MiB);
    expect(enroll.status).toBe(413);

    // A translation's text may be far larger than the default.
    const item = await fetch(`${server.httpUrl}/api/v1/content`, {
      method: 'POST',
      headers: { ...json, authorization: bearer },
      body: JSON.stringify({ kind: 'bulletin' }),
    });
    expect(item.status).toBe(201);
    const { id } = (await item.json()) as { id: string };
    const translation = (body: string) =>
      fetch(`${server.httpUrl}/api/v1/content/${id}/translations/vi`, {
        method: 'PUT',
        headers: { ...json, authorization: bearer },
        body: JSON.stringify({ title: 'Thông báo', body }),
      });
    expect((await translation('Biên giới. '.repeat(15_000))).status).toBe(200);
    const tooLong = await translation('x'.repeat(3 * MiB));
    expect(tooLong.status).toBe(413);

    // CSV imports take a few MiB (the rows may be refused, the body is not), and not more.
    const csv = `id,kind,name,parent_id,border,admin_code,valid_to,note\nx-1,commune,${'n'.repeat(MiB)},,0,,,\n`;
    const imported = await fetch(`${server.httpUrl}/api/v1/sites/import`, {
      method: 'POST',
      headers: { 'content-type': 'text/csv', authorization: bearer },
      body: csv,
    });
    expect([200, 422]).toContain(imported.status);
    const hugeCsv = await rawUpload('/api/v1/sites/import', { 'content-type': 'text/csv', authorization: bearer }, 8 * MiB, {
      chunked: true,
    });
    expect(hugeCsv.status).toBe(413);
    expect(JSON.parse(hugeCsv.body)).toMatchObject({ error: { code: 'csv_too_large' } });
  });

  it('publishes each route’s limit in the OpenAPI document, with bodies and queries from the validators', async () => {
    const doc = (await (await fetch(`${server.httpUrl}/api/openapi.json`)).json()) as {
      paths: Record<string, Record<string, Record<string, unknown>>>;
    };
    expect(doc.paths['/api/v1/auth/login']?.post?.['x-max-body-bytes']).toBe(8 * 1024);
    expect(doc.paths['/api/v1/users']?.post?.['x-max-body-bytes']).toBe(64 * 1024);
    expect(doc.paths['/api/v1/sites/import']?.post?.['x-max-body-bytes']).toBe(5 * MiB);
    const login = doc.paths['/api/v1/auth/login']?.post as {
      requestBody: { content: { 'application/json': { schema: { properties: Record<string, unknown> } } } };
    };
    expect(Object.keys(login.requestBody.content['application/json'].schema.properties).sort()).toEqual(['password', 'username']);
    const devices = doc.paths['/api/v1/devices']?.get as { parameters: Array<{ name: string; in: string }> };
    expect(devices.parameters.filter((p) => p.in === 'query').map((p) => p.name)).toEqual(
      expect.arrayContaining(['site', 'status', 'limit', 'offset']),
    );
  });
});

describe('cross-site requests', () => {
  const createUser = (username: string, headers: Record<string, string>, body?: string) =>
    fetch(`${server.httpUrl}/api/v1/users`, {
      method: 'POST',
      headers: { cookie, ...headers },
      body: body ?? JSON.stringify({ username, role: 'editor' }),
    });
  const exists = (username: string) => server.db.prepare('SELECT count(*) FROM users WHERE username = ?').pluck().get(username);

  it('refuses a cross-site text/plain POST carrying the admin cookie, and creates nobody', async () => {
    // What a form on another site sends: text/plain (no preflight), the cookie, Origin and Sec-Fetch-Site.
    const forged = await createUser('forged1', {
      'content-type': 'text/plain',
      origin: 'http://evil.example',
      'sec-fetch-site': 'cross-site',
    });
    expect(forged.status).toBe(403);
    expect(await forged.json()).toMatchObject({ error: { code: 'cross_origin' } });
    // Without Origin and Sec-Fetch-Site (an old browser), text/plain is still not JSON.
    const noOrigin = await createUser('forged2', { 'content-type': 'text/plain' });
    expect(noOrigin.status).toBe(415);
    expect(await noOrigin.json()).toMatchObject({ error: { code: 'unsupported_media_type' } });
    expect(exists('forged1')).toBe(0);
    expect(exists('forged2')).toBe(0);
  });

  it('refuses another origin even with a JSON body, including a sibling origin of the same site', async () => {
    const other = await createUser('forged3', { ...json, origin: 'http://evil.example' });
    expect(other.status).toBe(403);
    // Another port of the same host is the same *site*: SameSite=Lax lets the cookie through, this does not.
    const sibling = await createUser('forged4', { ...json, origin: `http://${host}:1`, 'sec-fetch-site': 'same-site' });
    expect(sibling.status).toBe(403);
    const opaque = await createUser('forged5', { ...json, origin: 'null' });
    expect(opaque.status).toBe(403);
    const logout = await fetch(`${server.httpUrl}/api/v1/auth/logout`, {
      method: 'POST',
      headers: { cookie, origin: 'http://evil.example', 'sec-fetch-site': 'cross-site' },
    });
    expect(logout.status).toBe(403);
    const me = await fetch(`${server.httpUrl}/api/v1/auth/me`, { headers: { cookie } });
    expect(me.status).toBe(200); // the session survived the forged logout
    for (const name of ['forged3', 'forged4', 'forged5']) expect(exists(name)).toBe(0);
  });

  it('accepts the dashboard’s own requests, API tokens and clients that are not browsers', async () => {
    const sameOrigin = await createUser('edge-same', { ...json, origin: server.httpUrl, 'sec-fetch-site': 'same-origin' });
    expect(sameOrigin.status).toBe(201);
    const originOnly = await createUser('edge-origin', { ...json, origin: server.httpUrl });
    expect(originOnly.status).toBe(201);
    const cli = await createUser('edge-cli', json);
    expect(cli.status).toBe(201);
    const token = await fetch(`${server.httpUrl}/api/v1/users`, {
      method: 'POST',
      headers: { ...json, authorization: bearer, origin: 'http://evil.example', 'sec-fetch-site': 'cross-site' },
      body: JSON.stringify({ username: 'edge-token', role: 'editor' }),
    });
    expect(token.status).toBe(201);
  });

  it('keeps file uploads working from the dashboard’s origin and refuses them from another', async () => {
    const item = await fetch(`${server.httpUrl}/api/v1/content`, {
      method: 'POST',
      headers: { ...json, cookie, origin: server.httpUrl, 'sec-fetch-site': 'same-origin' },
      body: JSON.stringify({ kind: 'image' }),
    });
    expect(item.status).toBe(201);
    const { id } = (await item.json()) as { id: string };
    const translated = await fetch(`${server.httpUrl}/api/v1/content/${id}/translations/vi`, {
      method: 'PUT',
      headers: { ...json, cookie, origin: server.httpUrl, 'sec-fetch-site': 'same-origin' },
      body: JSON.stringify({ title: 'Bản đồ' }),
    });
    expect(translated.status).toBe(200);
    const upload = (headers: Record<string, string>) =>
      fetch(`${server.httpUrl}/api/v1/content/${id}/translations/vi/file`, {
        method: 'PUT',
        headers: { cookie, 'content-type': 'image/png', ...headers },
        body: sampleFiles.png(),
      });
    expect((await upload({ origin: 'http://evil.example', 'sec-fetch-site': 'cross-site' })).status).toBe(403);
    expect((await upload({ origin: server.httpUrl, 'sec-fetch-site': 'same-origin' })).status).toBe(201);
  });
});

describe('one error shape', () => {
  it('answers refusals from every module as {error:{code,message}} with their own codes', async () => {
    const get = async (path: string) => {
      const res = await fetch(`${server.httpUrl}${path}`, { headers: { authorization: bearer } });
      return { status: res.status, body: (await res.json()) as { error: { code: string; message: string } } };
    };
    expect(await get('/api/v1/plans/nope')).toMatchObject({ status: 404, body: { error: { code: 'unknown_plan' } } });
    expect(await get('/api/v1/enrollment-tokens?limit=0')).toMatchObject({
      status: 400,
      body: { error: { code: 'invalid_query' } },
    });
    expect(await get('/api/v1/content?limit=x')).toMatchObject({ status: 400, body: { error: { code: 'invalid_query' } } });
    expect(await get('/api/v1/devices?limit=1&limit=2')).toMatchObject({
      status: 400,
      body: { error: { code: 'invalid_query' } },
    });
    const wrongShape = await fetch(`${server.httpUrl}/api/v1/enrollment-tokens`, {
      method: 'POST',
      headers: { ...json, authorization: bearer },
      body: JSON.stringify({ siteId: 42 }),
    });
    expect(wrongShape.status).toBe(400);
    expect(await wrongShape.json()).toMatchObject({
      error: { code: 'invalid_body', message: expect.stringContaining('siteId') },
    });
    const notJson = await fetch(`${server.httpUrl}/api/v1/plans`, {
      method: 'POST',
      headers: { ...json, authorization: bearer },
      body: '{"id": ',
    });
    expect(await notJson.json()).toMatchObject({ error: { code: 'invalid_json' } });
  });
});

describe('the one onError', () => {
  it('answers a DomainError with its code, an HTTPException in the same shape, anything else as a bare 500', async () => {
    const routes = new Hono<AppEnv>()
      .get('/domain', () => {
        throw new ConflictError('already there');
      })
      .get('/hono', () => {
        throw new HTTPException(413, { message: 'too big' });
      })
      .get('/bug', () => {
        throw new Error('SELECT secret FROM internals');
      });
    const app = buildHttpApp([{ path: '/', app: routes }], pino({ level: 'silent' }));
    const http = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' });
    await new Promise<void>((resolve) => http.once('listening', () => resolve()));
    const base = `http://127.0.0.1:${(http.address() as AddressInfo).port}`;
    try {
      const answer = async (path: string) => {
        const res = await fetch(`${base}${path}`);
        return { status: res.status, text: await res.text() };
      };
      const domain = await answer('/domain');
      expect(domain.status).toBe(409);
      expect(JSON.parse(domain.text)).toEqual({ error: { code: 'conflict', message: 'already there' } });
      const hono = await answer('/hono');
      expect(hono.status).toBe(413);
      expect(JSON.parse(hono.text)).toEqual({ error: { code: 'payload_too_large', message: 'too big' } });
      const bug = await answer('/bug');
      expect(bug.status).toBe(500);
      expect(JSON.parse(bug.text)).toEqual({ error: { code: 'internal', message: 'internal server error' } });
      expect(bug.text).not.toContain('secret');
    } finally {
      await new Promise<void>((resolve) => http.close(() => resolve()));
    }
  });
});

describe('behind a reverse proxy that rewrites Host', () => {
  it('takes PUBLIC_URL as this server when it checks a browser’s Origin', async () => {
    const routes = new Hono<AppEnv>().post('/thing', (c) => c.json({ ok: true }, 201));
    const app = buildHttpApp([{ path: '/', app: routes }], pino({ level: 'silent' }), {
      publicUrl: 'https://fleet.example.vn',
    });
    const http = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' });
    await new Promise<void>((resolve) => http.once('listening', () => resolve()));
    const base = `http://127.0.0.1:${(http.address() as AddressInfo).port}`;
    try {
      const post = (origin: string) => fetch(`${base}/thing`, { method: 'POST', headers: { origin, cookie: 'fleet_session=x' } });
      expect((await post('https://fleet.example.vn')).status).toBe(201);
      expect((await post('https://evil.example')).status).toBe(403);
    } finally {
      await new Promise<void>((resolve) => http.close(() => resolve()));
    }
  });
});
