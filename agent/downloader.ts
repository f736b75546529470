/**
 * Downloads one content file into `tmp/{sha}.part`, resuming with `Range: bytes=N-` from whatever is already there,
 * honouring a bandwidth cap (paced on the monotonic clock), and moves it into the store only when its sha256 matches.
 *
 * Corruption costs a piece, not the file. A 206 is used only from the offset its `Content-Range` proves; a reply that
 * does not fit is refused and the part kept. As bytes are written, the sha256 of each `chunkBytes` piece (4 MiB) is
 * appended to `tmp/{sha}.chunks`. When the whole file then fails its hash, the chunks on disk are checked against
 * those records (a piece that changed on disk after it arrived — a torn write, bit rot — is fetched again alone), and
 * if the disk holds what arrived, pieces are fetched again in order and the first one that comes back different
 * replaces its bad copy: a piece the server or the path spoiled once costs the bytes up to it, not the file.
 */
import { createHash, type Hash } from 'node:crypto';
import { mkdir, open, readdir, readFile, rm, stat, statfs } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { ManifestFile } from '../protocol/index.js';
import { type ContentStore, sha256OfFile } from './content-store.js';

export class DiskFullError extends Error {
  override readonly name = 'DiskFullError';
}
export class HashMismatchError extends Error {
  override readonly name = 'HashMismatchError';
}
/** A 5xx, a reset, a truncated body or a reply that does not fit the request: worth retrying later. */
export class TransientDownloadError extends Error {
  override readonly name = 'TransientDownloadError';
}
/** 404/410: the server no longer has this file (its item is skipped; the other items apply). */
export class FileGoneError extends Error {
  override readonly name = 'FileGoneError';
}
/** 401/403: the server refused this device's credentials; no other file will do better. */
export class CredentialsRefusedError extends Error {
  override readonly name = 'CredentialsRefusedError';
}

export const DEFAULT_CHUNK_BYTES = 4 * 2 ** 20;

export interface DownloadOptions {
  apiUrl: string;
  authorization: string;
  bandwidthLimit: number | null;
  signal: AbortSignal;
  onBytes: (n: number) => void;
  sleep: (ms: number) => Promise<void>;
  /** Monotonic milliseconds for the pacing (never the wall clock: a step of a day must not sleep for a day). */
  monotonic: () => number;
  /** Bytes to keep free on the data disk besides the download itself. */
  reserveBytes: number;
  /** The HTTP client (one trusting the pinned CA); default the global fetch. */
  fetch?: typeof fetch | undefined;
  /** Sees every response (the server's `Date` header feeds the clock). */
  onResponse?: (res: Response) => void;
  /** Asked between pieces of the body: false pauses the download (the part is kept) — the download window closed. */
  mayContinue?: () => boolean;
  /** Size of the verified pieces (default 4 MiB). */
  chunkBytes?: number;
}

/** `done`: verified and in the store; `paused`: `mayContinue` said stop, the part is kept for the next run. */
export type DownloadResult = 'done' | 'paused';

/** `chunks/{sha}`: beside `tmp/` (whose clean-up keeps only parts); removed with its part. */
export function chunksPath(store: ContentStore, sha256: string): string {
  return join(store.tmpDir, '..', 'chunks', sha256);
}

/** Removes the piece records of parts no longer kept (the store's clean-up removed the part). */
export async function collectChunkLogs(store: ContentStore): Promise<void> {
  const dir = join(store.tmpDir, '..', 'chunks');
  for (const name of await readdir(dir).catch(() => [] as string[])) {
    if (!(await stat(store.partPath(name)).catch(() => null))) await rm(join(dir, name), { force: true });
  }
}

export async function downloadFile(store: ContentStore, file: ManifestFile, o: DownloadOptions): Promise<DownloadResult> {
  const part = store.partPath(file.sha256);
  const chunkBytes = o.chunkBytes ?? DEFAULT_CHUNK_BYTES;
  let offset = (await stat(part).catch(() => null))?.size ?? 0;
  if (offset > file.size) {
    await discard(store, file);
    offset = 0;
  }
  const fs = await statfs(store.tmpDir);
  if (fs.bavail * fs.bsize < file.size - offset + o.reserveBytes) {
    throw new DiskFullError(`not enough disk space for ${file.sha256} (${file.size - offset} bytes needed)`);
  }
  if (offset < file.size) {
    const result = await fetchInto(store, file, offset, chunkBytes, o);
    if (result === 'paused') return 'paused';
  }
  if ((await sha256OfFile(part)) !== file.sha256 && !(await repair(store, file, chunkBytes, o))) {
    // No single piece explains it: the server's own file is not what the manifest says. Start over next time.
    await discard(store, file);
    throw new HashMismatchError(`downloaded bytes of ${file.sha256} do not match their sha256`);
  }
  await store.adopt(file.sha256);
  await rm(chunksPath(store, file.sha256), { force: true });
  return 'done';
}

async function discard(store: ContentStore, file: ManifestFile): Promise<void> {
  await rm(store.partPath(file.sha256), { force: true });
  await rm(chunksPath(store, file.sha256), { force: true });
}

async function request(file: ManifestFile, range: string | null, o: DownloadOptions): Promise<Response> {
  const headers: Record<string, string> = { authorization: o.authorization };
  if (range) headers.range = range;
  let res: Response;
  try {
    res = await (o.fetch ?? fetch)(`${o.apiUrl.replace(/\/$/, '')}/files/${file.sha256}`, { headers, signal: o.signal });
  } catch (err) {
    if (o.signal.aborted) throw err;
    throw new TransientDownloadError(`fetching ${file.sha256}: ${(err as Error).message}`);
  }
  o.onResponse?.(res);
  if (res.status === 404 || res.status === 410) {
    await res.body?.cancel();
    throw new FileGoneError(`server has no file ${file.sha256} (${res.status})`);
  }
  if (res.status === 401 || res.status === 403) {
    await res.body?.cancel();
    throw new CredentialsRefusedError(`server refused this device's credentials (${res.status}) for ${file.sha256}`);
  }
  return res;
}

/** `bytes S-E/T` of a 206, or null when the header is missing or malformed. */
export function parseContentRange(header: string | null): { start: number; end: number; total: number | null } | null {
  const m = /^\s*bytes\s+(\d+)-(\d+)\/(\d+|\*)\s*$/i.exec(header ?? '');
  if (!m) return null;
  const start = Number(m[1]);
  const end = Number(m[2]);
  const total = m[3] === '*' ? null : Number(m[3]);
  if (end < start || (total !== null && end >= total)) return null;
  return { start, end, total };
}

/** The sha256 of each complete piece, in order, kept beside the part as raw 32-byte digests. */
class ChunkLog {
  private hash: Hash = createHash('sha256');
  private filled = 0;
  constructor(
    private readonly path: string,
    private readonly chunkBytes: number,
    /** Complete pieces recorded so far. */
    public count: number,
  ) {}

  static async open(path: string, part: string, chunkBytes: number, from: number): Promise<ChunkLog> {
    // Records past the bytes kept (or of a part started over) do not describe this part.
    const have = Math.min(Math.floor(((await stat(path).catch(() => null))?.size ?? 0) / 32), Math.floor(from / chunkBytes));
    const raw = have > 0 ? (await readFile(path)).subarray(0, have * 32) : Buffer.alloc(0);
    await mkdir(dirname(path), { recursive: true });
    const fh = await open(path, 'w');
    await fh.write(raw);
    await fh.close();
    const log = new ChunkLog(path, chunkBytes, have);
    // Bytes after the last recorded piece (a run cut mid-piece) are hashed from disk so the piece can be recorded.
    const start = have * chunkBytes;
    if (from > start) {
      const ph = await open(part, 'r');
      try {
        const buf = Buffer.alloc(from - start);
        await ph.read(buf, 0, buf.length, start);
        await log.add(buf);
      } finally {
        await ph.close();
      }
    }
    return log;
  }

  async add(buf: Uint8Array): Promise<void> {
    let at = 0;
    while (at < buf.length) {
      const take = Math.min(this.chunkBytes - this.filled, buf.length - at);
      this.hash.update(buf.subarray(at, at + take));
      this.filled += take;
      at += take;
      if (this.filled === this.chunkBytes) await this.close();
    }
  }

  /** Records the piece in progress (the file's last, shorter one). */
  async close(): Promise<void> {
    if (this.filled === 0) return;
    const fh = await open(this.path, 'a');
    try {
      await fh.write(this.hash.digest());
    } finally {
      await fh.close();
    }
    this.count++;
    this.hash = createHash('sha256');
    this.filled = 0;
  }
}

async function fetchInto(
  store: ContentStore,
  file: ManifestFile,
  offset: number,
  chunkBytes: number,
  o: DownloadOptions,
): Promise<DownloadResult> {
  const part = store.partPath(file.sha256);
  const res = await request(file, offset > 0 ? `bytes=${offset}-` : null, o);
  if (res.status === 416) {
    // The part already holds the whole file (or more): let the hash check decide.
    await res.body?.cancel();
    return 'done';
  }
  if (res.status !== 200 && res.status !== 206) {
    await res.body?.cancel();
    throw new TransientDownloadError(`server answered ${res.status} for ${file.sha256}`);
  }
  // Where the body starts in the file: 0 for a 200 (the server ignored the range), the proven start for a 206.
  let bodyStart = 0;
  if (res.status === 206) {
    const cr = parseContentRange(res.headers.get('content-range'));
    if (!cr || (cr.total !== null && cr.total !== file.size) || cr.start > offset || cr.end !== file.size - 1) {
      await res.body?.cancel();
      throw new TransientDownloadError(
        `206 for ${file.sha256} does not fit bytes=${offset}- of ${file.size}: content-range ${res.headers.get('content-range')}`,
      );
    }
    bodyStart = cr.start;
  }
  // A body that starts before the offset repeats bytes the part holds: they are skipped, the part is kept.
  const keep = res.status === 206 ? offset : 0;
  let skip = keep - bodyStart;
  const log = await ChunkLog.open(chunksPath(store, file.sha256), part, chunkBytes, keep);
  const fh = await open(part, keep > 0 ? 'r+' : 'w');
  let written = keep;
  const started = o.monotonic();
  let sinceStart = 0;
  let reader: ReadableStreamDefaultReader<Uint8Array> | null = null;
  try {
    if (!res.body) throw new TransientDownloadError('empty body');
    reader = res.body.getReader();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      let buf = value;
      sinceStart += buf.length;
      o.onBytes(buf.length);
      if (skip > 0) {
        const drop = Math.min(skip, buf.length);
        skip -= drop;
        buf = buf.subarray(drop);
      }
      if (written + buf.length > file.size) throw new TransientDownloadError(`server sent more than ${file.size} bytes`);
      if (buf.length > 0) {
        try {
          await fh.write(buf, 0, buf.length, written);
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code === 'ENOSPC') throw new DiskFullError('disk full while downloading');
          throw err;
        }
        written += buf.length;
        await log.add(buf);
      }
      if (o.bandwidthLimit) {
        const due = (sinceStart / o.bandwidthLimit) * 1000 - (o.monotonic() - started);
        if (due > 0) await o.sleep(due);
      }
      if (written < file.size && o.mayContinue && !o.mayContinue()) {
        await reader.cancel().catch(() => {});
        return 'paused';
      }
    }
  } catch (err) {
    if (err instanceof DiskFullError || o.signal.aborted) throw err;
    if (err instanceof TransientDownloadError) throw err;
    throw new TransientDownloadError(`download of ${file.sha256} cut at ${written} bytes: ${(err as Error).message}`);
  } finally {
    await fh.sync().catch(() => {});
    await fh.close();
  }
  if (written < file.size) throw new TransientDownloadError(`download of ${file.sha256} truncated at ${written}/${file.size}`);
  await log.close();
  return 'done';
}

/** Fetches bytes [start, end] exactly (a 206 whose Content-Range says so), or throws. */
async function fetchPiece(file: ManifestFile, start: number, end: number, o: DownloadOptions): Promise<Buffer> {
  const res = await request(file, `bytes=${start}-${end}`, o);
  const cr = res.status === 206 ? parseContentRange(res.headers.get('content-range')) : null;
  if (!cr || cr.start !== start || cr.end !== end) {
    await res.body?.cancel();
    throw new TransientDownloadError(
      `piece ${start}-${end} of ${file.sha256}: answered ${res.status} ${res.headers.get('content-range')}`,
    );
  }
  const buf = Buffer.from(await res.arrayBuffer());
  o.onBytes(buf.length);
  if (buf.length !== end - start + 1) throw new TransientDownloadError(`piece ${start}-${end} of ${file.sha256} truncated`);
  return buf;
}

/**
 * The whole part failed its hash: find the bad piece instead of throwing the file away. True when the part now
 * matches its sha256.
 */
async function repair(store: ContentStore, file: ManifestFile, chunkBytes: number, o: DownloadOptions): Promise<boolean> {
  const part = store.partPath(file.sha256);
  const records = await readFile(chunksPath(store, file.sha256)).catch(() => Buffer.alloc(0));
  const pieces = Math.ceil(file.size / chunkBytes);
  if (records.length !== pieces * 32) return false;
  const recorded = (i: number): Buffer => records.subarray(i * 32, i * 32 + 32);
  const range = (i: number): [number, number] => [i * chunkBytes, Math.min(file.size, (i + 1) * chunkBytes) - 1];
  const fh = await open(part, 'r+');
  try {
    const onDisk = async (i: number): Promise<Buffer> => {
      const [s, e] = range(i);
      const buf = Buffer.alloc(e - s + 1);
      await fh.read(buf, 0, buf.length, s);
      return createHash('sha256').update(buf).digest();
    };
    const put = async (i: number, buf: Buffer): Promise<void> => {
      await fh.write(buf, 0, buf.length, range(i)[0]);
      await fh.sync();
    };
    // 1. Pieces that changed on disk after they arrived: fetch those alone.
    const changed: number[] = [];
    for (let i = 0; i < pieces; i++) if (!(await onDisk(i)).equals(recorded(i))) changed.push(i);
    for (const i of changed) await put(i, await fetchPiece(file, ...range(i), o));
    if (changed.length > 0 && (await sha256OfFile(part)) === file.sha256) return true;
    // 2. The disk holds what arrived: the first piece that arrives different this time was the bad one.
    for (let i = 0; i < pieces; i++) {
      const buf = await fetchPiece(file, ...range(i), o);
      if (createHash('sha256').update(buf).digest().equals(recorded(i))) continue;
      await put(i, buf);
      if ((await sha256OfFile(part)) === file.sha256) return true;
    }
    return false;
  } finally {
    await fh.close();
  }
}
