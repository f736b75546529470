import { createHash } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DomainError } from '../errors.js';
import { kindAccepts } from './mime.js';
import { parseRange } from './serve-file.js';
import { createContentStore } from './store.js';

const PNG = Buffer.from(
  '89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c4890000000a49444154789c63000100000500010d0a2db40000000049454e44ae426082',
  'hex',
);
const refuseUnless = (kind: Parameters<typeof kindAccepts>[0]) => (mime: string) => {
  if (!kindAccepts(kind, mime)) throw new DomainError(422, 'type_mismatch', `${mime} is not a ${kind}`);
};

describe('content store', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'content-store-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('stores content-addressed with the sha256 computed while streaming', async () => {
    const store = createContentStore({ dataDir: dir });
    const bytes = Buffer.concat([PNG, Buffer.alloc(200_000, 7)]);
    const file = await store.put(Readable.from([bytes.subarray(0, 1000), bytes.subarray(1000)]), {
      check: refuseUnless('image'),
    });
    const sha = createHash('sha256').update(bytes).digest('hex');
    expect(file).toEqual({ sha256: sha, size: bytes.length, mime: 'image/png' });
    expect(store.pathOf(sha)).toBe(join(dir, 'content', sha.slice(0, 2), sha));
    expect(await readFile(store.pathOf(sha))).toEqual(bytes);
    expect(await readdir(join(dir, 'content', 'tmp'))).toEqual([]);
  });

  it('refuses a "PDF" that is a PNG and leaves no temporary file', async () => {
    const store = createContentStore({ dataDir: dir });
    await expect(store.put(Readable.from([PNG]), { check: refuseUnless('document') })).rejects.toMatchObject({ status: 422 });
    expect(await readdir(join(dir, 'content', 'tmp'))).toEqual([]);
  });

  it('enforces the size limit while streaming', async () => {
    const store = createContentStore({ dataDir: dir, maxBytes: 100_000 });
    async function* big() {
      for (let i = 0; i < 100; i++) yield Buffer.alloc(10_000, 65);
    }
    await expect(store.put(Readable.from(big()))).rejects.toMatchObject({ status: 413 });
    expect(await readdir(join(dir, 'content', 'tmp'))).toEqual([]);
  });

  it('detects plain text and HTML, and refuses text that stops being UTF-8 after the sniffed head', async () => {
    const store = createContentStore({ dataDir: dir });
    const text = await store.put(Readable.from([Buffer.from('Thông báo: Ư̆ ង្គ\n', 'utf8')]));
    expect(text.mime).toBe('text/plain');
    const html = await store.put(Readable.from([Buffer.from('<!DOCTYPE html><html><body>Xin chào</body></html>')]));
    expect(html.mime).toBe('text/html');
    const bad = [Buffer.alloc(70_000, 97), Buffer.from([0xff, 0xfe, 0x41])];
    await expect(store.put(Readable.from(bad))).rejects.toMatchObject({ status: 422 });
    expect(await readdir(join(dir, 'content', 'tmp'))).toEqual([]);
  });

  it('parses single byte ranges', () => {
    expect(parseRange('bytes=0-9', 100)).toEqual({ start: 0, end: 9 });
    expect(parseRange('bytes=90-', 100)).toEqual({ start: 90, end: 99 });
    expect(parseRange('bytes=-10', 100)).toEqual({ start: 90, end: 99 });
    expect(parseRange('bytes=95-200', 100)).toEqual({ start: 95, end: 99 });
    expect(parseRange('bytes=100-', 100)).toBe('unsatisfiable');
    expect(parseRange('bytes=0-1,5-6', 100)).toBeNull();
    expect(parseRange(undefined, 100)).toBeNull();
  });
});
