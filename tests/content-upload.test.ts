/** Uploads over real HTTP: bytes that lie about their type, a cut-off upload, the size limit. */

import { readdir } from 'node:fs/promises';
import http from 'node:http';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type ContentTestServer, sampleFiles, startContentTestServer } from '../server/content/testing.js';

async function waitFor<T>(probe: () => Promise<T | undefined> | T | undefined, what: string, timeoutMs = 5000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (let i = 0; i < 500; i++) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) break;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  throw new Error(`timed out waiting for ${what}`);
}

describe('content upload', () => {
  let server: ContentTestServer;
  let editor: string;
  beforeEach(async () => {
    server = await startContentTestServer({ maxUploadBytes: 8 * 1024 * 1024 });
    editor = server.addUser('bien.tap', 'editor');
  });
  afterEach(async () => {
    await server.close();
  });

  async function api(method: string, path: string, body?: unknown, headers: Record<string, string> = {}) {
    const init: RequestInit = { method, headers: { authorization: `Bearer ${editor}`, ...headers } };
    if (body instanceof Uint8Array) init.body = body;
    else if (body !== undefined) {
      init.body = JSON.stringify(body);
      (init.headers as Record<string, string>)['content-type'] = 'application/json';
    }
    return fetch(`${server.url}${path}`, init);
  }

  async function newItem(kind: string) {
    const res = await api('POST', '/api/v1/content', { kind, topics: ['border-sovereignty-law'] });
    expect(res.status).toBe(201);
    const { id } = (await res.json()) as { id: string };
    expect((await api('PUT', `/api/v1/content/${id}/translations/vi`, { title: 'Luật Biên giới quốc gia' })).status).toBe(200);
    return id;
  }

  const tmpFiles = () => readdir(join(server.dir, 'content', 'tmp')).catch(() => [] as string[]);
  const storedFiles = () => (server.db.prepare('SELECT count(*) AS n FROM content_files').get() as { n: number }).n;

  it('refuses a "PDF" whose bytes are a PNG, whatever the declared type, and keeps nothing', async () => {
    const id = await newItem('document');
    const declaredPdf = await api('PUT', `/api/v1/content/${id}/translations/vi/file`, sampleFiles.png(), {
      'content-type': 'application/pdf',
    });
    expect(declaredPdf.status).toBe(422);
    expect(((await declaredPdf.json()) as { error: { code: string } }).error.code).toBe('type_mismatch');
    const undeclared = await api('PUT', `/api/v1/content/${id}/translations/vi/file`, sampleFiles.png(), {
      'content-type': 'application/octet-stream',
    });
    expect(undeclared.status).toBe(422);
    expect(storedFiles()).toBe(0);
    expect(await tmpFiles()).toEqual([]);
    const ok = await api('PUT', `/api/v1/content/${id}/translations/vi/file`, sampleFiles.pdf(), {
      'content-type': 'application/pdf',
    });
    expect(ok.status).toBe(201);
    expect(((await ok.json()) as { file: { mime: string } }).file.mime).toBe('application/pdf');
  });

  it('an upload cut off halfway stores nothing and removes its temporary file', async () => {
    const id = await newItem('video');
    const bytes = sampleFiles.mp4(4 * 1024 * 1024);
    const url = new URL(`${server.url}/api/v1/content/${id}/translations/vi/file`);
    const req = http.request(url, {
      method: 'PUT',
      headers: { authorization: `Bearer ${editor}`, 'content-type': 'video/mp4', 'content-length': String(bytes.length) },
    });
    const outcome = new Promise<string>((resolve) => {
      req.on('error', (error) => resolve(`error: ${error.message}`));
      req.on('response', (res) => resolve(`response ${res.statusCode}`));
    });
    req.write(bytes.subarray(0, bytes.length / 2));
    // The server has started writing the upload to a temporary file …
    await waitFor(async () => ((await tmpFiles()).length > 0 ? true : undefined), 'the temporary file');
    // … when the client goes away.
    req.destroy();
    expect(await outcome).toMatch(/^error/);
    await waitFor(async () => ((await tmpFiles()).length === 0 ? true : undefined), 'the temporary file to be removed');
    expect(storedFiles()).toBe(0);
    const item = (await (await api('GET', `/api/v1/content/${id}`)).json()) as {
      current: { translations: { vi: { file: unknown } } };
    };
    expect(item.current.translations.vi.file).toBeNull();
    const audit = server.db.prepare(`SELECT count(*) AS n FROM audit WHERE action = 'content.file'`).get() as { n: number };
    expect(audit.n).toBe(0);
  });

  it('refuses an upload over the size limit, declared or not', async () => {
    const id = await newItem('video');
    const big = sampleFiles.mp4(9 * 1024 * 1024);
    const declared = await api('PUT', `/api/v1/content/${id}/translations/vi/file`, big, { 'content-type': 'video/mp4' });
    expect(declared.status).toBe(413);
    // Chunked, so the limit is only found while streaming.
    const stream = new ReadableStream<Uint8Array>({
      start(controller) {
        for (let i = 0; i < big.length; i += 1024 * 1024) controller.enqueue(big.subarray(i, i + 1024 * 1024));
        controller.close();
      },
    });
    const chunked = await fetch(`${server.url}/api/v1/content/${id}/translations/vi/file`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${editor}`, 'content-type': 'video/mp4' },
      body: stream,
      duplex: 'half',
    } as RequestInit);
    expect(chunked.status).toBe(413);
    expect(storedFiles()).toBe(0);
    await waitFor(async () => ((await tmpFiles()).length === 0 ? true : undefined), 'no temporary file');
  });
});
