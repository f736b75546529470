/**
 * The content store: files content-addressed by sha256 under `DATA_DIR/content/ab/abcdef…`.
 * An upload streams to a temporary file while it is hashed, counted against the size limit and sniffed;
 * only a complete, accepted file is renamed into place. Anything else (abort, error, too large, wrong type)
 * removes the temporary file, so a half upload never becomes content.
 */
import { createHash, randomUUID } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable, Transform, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import { TextDecoder } from 'node:util';
import { tooLarge, typeMismatch } from './errors.js';
import { isText, SNIFF_BYTES, sniffMime } from './mime.js';

export const DEFAULT_MAX_UPLOAD_BYTES = 2 * 1024 ** 3;

export interface StoredFile {
  sha256: string;
  size: number;
  mime: string;
}

export interface PutOptions {
  /** Decides whether the detected mime type is acceptable; throw a DomainError to refuse it. */
  check?: (mime: string) => void;
  /** Aborts the upload (e.g. the request was cancelled). */
  signal?: AbortSignal;
}

export interface ContentStore {
  readonly root: string;
  put(source: Readable | WebReadableStream<Uint8Array> | ReadableStream<Uint8Array>, options?: PutOptions): Promise<StoredFile>;
  pathOf(sha256: string): string;
  /** Size of a stored file, or null when it is not in the store. */
  sizeOf(sha256: string): Promise<number | null>;
  open(sha256: string, range?: { start: number; end: number }): Readable;
}

export function createContentStore(options: { dataDir: string; maxBytes?: number }): ContentStore {
  const root = join(options.dataDir, 'content');
  const tmpDir = join(root, 'tmp');
  const maxBytes = options.maxBytes ?? DEFAULT_MAX_UPLOAD_BYTES;
  const pathOf = (sha256: string) => join(root, sha256.slice(0, 2), sha256);

  async function put(
    source: Readable | WebReadableStream<Uint8Array> | ReadableStream<Uint8Array>,
    putOptions: PutOptions = {},
  ): Promise<StoredFile> {
    await mkdir(tmpDir, { recursive: true });
    const tmp = join(tmpDir, `${randomUUID()}.part`);
    const inspector = new UploadInspector(maxBytes, putOptions.check);
    const input = source instanceof Readable ? source : Readable.fromWeb(source as WebReadableStream<Uint8Array>);
    try {
      await pipeline(input, inspector, createWriteStream(tmp, { flags: 'wx', mode: 0o640 }), {
        ...(putOptions.signal ? { signal: putOptions.signal } : {}),
      });
      const file = inspector.result();
      const target = pathOf(file.sha256);
      await mkdir(join(root, file.sha256.slice(0, 2)), { recursive: true });
      // Same bytes → same name: replacing an existing copy with identical content is harmless.
      await rename(tmp, target);
      return file;
    } catch (error) {
      input.destroy();
      await rm(tmp, { force: true });
      throw error;
    }
  }

  async function sizeOf(sha256: string): Promise<number | null> {
    if (!/^[0-9a-f]{64}$/.test(sha256)) return null;
    try {
      const info = await stat(pathOf(sha256));
      return info.isFile() ? info.size : null;
    } catch {
      return null;
    }
  }

  function open(sha256: string, range?: { start: number; end: number }): Readable {
    // 1 MiB reads: fewer, larger chunks on the way out (the default 64 KiB halves download throughput).
    return createReadStream(pathOf(sha256), {
      highWaterMark: 1024 * 1024,
      ...(range ? { start: range.start, end: range.end } : {}),
    });
  }

  return { root, put, pathOf, sizeOf, open };
}

/** Pass-through that hashes, counts, enforces the limit, sniffs the head and checks text is UTF-8 throughout. */
class UploadInspector extends Transform {
  private readonly hash = createHash('sha256');
  private size = 0;
  private head: Buffer[] = [];
  private headBytes = 0;
  private mime: string | null = null;
  private textDecoder: TextDecoder | null = null;

  constructor(
    private readonly maxBytes: number,
    private readonly check: ((mime: string) => void) | undefined,
  ) {
    super();
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.size += chunk.length;
    if (this.size > this.maxBytes) {
      callback(tooLarge(this.maxBytes));
      return;
    }
    this.hash.update(chunk);
    if (this.mime !== null) {
      this.checkText(chunk, callback);
      return;
    }
    // Hold the head back until it is long enough to sniff; nothing reaches the disk before the type is known.
    this.head.push(chunk);
    this.headBytes += chunk.length;
    if (this.headBytes < SNIFF_BYTES) {
      callback();
      return;
    }
    this.decide(false).then(() => callback(), callback);
  }

  override _flush(callback: TransformCallback): void {
    const finish = () => {
      try {
        this.textDecoder?.decode(new Uint8Array(), { stream: false });
        callback();
      } catch {
        callback(typeMismatch('the text is not valid UTF-8'));
      }
    };
    if (this.mime !== null) finish();
    else this.decide(true).then(finish, callback);
  }

  private async decide(complete: boolean): Promise<void> {
    const head = Buffer.concat(this.head);
    this.head = [];
    const mime = await sniffMime(head, complete);
    this.check?.(mime);
    this.mime = mime;
    if (isText(mime)) this.textDecoder = new TextDecoder('utf-8', { fatal: true });
    this.textDecoder?.decode(head, { stream: true });
    this.push(head);
  }

  private checkText(chunk: Buffer, callback: TransformCallback): void {
    try {
      this.textDecoder?.decode(chunk, { stream: true });
    } catch {
      callback(typeMismatch('the text is not valid UTF-8'));
      return;
    }
    callback(null, chunk);
  }

  result(): StoredFile {
    if (this.mime === null) throw new Error('upload inspected before it ended');
    return { sha256: this.hash.digest('hex'), size: this.size, mime: this.mime };
  }
}
