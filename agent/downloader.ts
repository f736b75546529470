/**
 * Downloads one content file into `tmp/{sha}.part`, resuming with `Range: bytes=N-` from whatever is already there,
 * honouring a bandwidth cap, and moves it into the store only when its sha256 matches.
 */
import { open, rm, stat, statfs } from 'node:fs/promises';
import type { ManifestFile } from '../protocol/index.js';
import { type ContentStore, sha256OfFile } from './content-store.js';

export class DiskFullError extends Error {
  override readonly name = 'DiskFullError';
}
export class HashMismatchError extends Error {
  override readonly name = 'HashMismatchError';
}
/** A 5xx, a reset or a truncated body: worth retrying later. */
export class TransientDownloadError extends Error {
  override readonly name = 'TransientDownloadError';
}

export interface DownloadOptions {
  apiUrl: string;
  authorization: string;
  bandwidthLimit: number | null;
  signal: AbortSignal;
  onBytes: (n: number) => void;
  sleep: (ms: number) => Promise<void>;
  /** Bytes to keep free on the data disk besides the download itself. */
  reserveBytes: number;
  /** The HTTP client (one trusting the pinned CA); default the global fetch. */
  fetch?: typeof fetch | undefined;
}

export async function downloadFile(store: ContentStore, file: ManifestFile, o: DownloadOptions): Promise<void> {
  const part = store.partPath(file.sha256);
  let offset = (await stat(part).catch(() => null))?.size ?? 0;
  if (offset > file.size) {
    await rm(part, { force: true });
    offset = 0;
  }
  const fs = await statfs(store.tmpDir);
  if (fs.bavail * fs.bsize < file.size - offset + o.reserveBytes) {
    throw new DiskFullError(`not enough disk space for ${file.sha256} (${file.size - offset} bytes needed)`);
  }
  if (offset < file.size) {
    try {
      await fetchInto(part, offset, file, o);
    } catch (err) {
      if (err instanceof HashMismatchError) await rm(part, { force: true });
      throw err;
    }
  }
  if ((await sha256OfFile(part)) !== file.sha256) {
    // The whole part is suspect: start this file over next time rather than resume on bad bytes.
    await rm(part, { force: true });
    throw new HashMismatchError(`downloaded bytes of ${file.sha256} do not match their sha256`);
  }
  await store.adopt(file.sha256);
}

async function fetchInto(part: string, offset: number, file: ManifestFile, o: DownloadOptions): Promise<void> {
  const headers: Record<string, string> = { authorization: o.authorization };
  if (offset > 0) headers.range = `bytes=${offset}-`;
  let res: Response;
  try {
    res = await (o.fetch ?? fetch)(`${o.apiUrl.replace(/\/$/, '')}/files/${file.sha256}`, { headers, signal: o.signal });
  } catch (err) {
    if (o.signal.aborted) throw err;
    throw new TransientDownloadError(`fetching ${file.sha256}: ${(err as Error).message}`);
  }
  if (res.status === 416) {
    // The part already holds the whole file (or more): let the hash check decide.
    await res.body?.cancel();
    return;
  }
  if (res.status >= 500 || res.status === 429) {
    await res.body?.cancel();
    throw new TransientDownloadError(`server answered ${res.status} for ${file.sha256}`);
  }
  if (res.status !== 200 && res.status !== 206) {
    await res.body?.cancel();
    throw new TransientDownloadError(`server answered ${res.status} for ${file.sha256}`);
  }
  // A 200 to a range request means the server ignored it: start the part over.
  const append = res.status === 206 && offset > 0;
  const fh = await open(part, append ? 'a' : 'w');
  let written = append ? offset : 0;
  const started = Date.now();
  let sinceStart = 0;
  try {
    if (!res.body) throw new TransientDownloadError('empty body');
    const reader = res.body.getReader();
    for (;;) {
      const { done, value: buf } = await reader.read();
      if (done) break;
      if (written + buf.length > file.size) throw new HashMismatchError(`server sent more than ${file.size} bytes`);
      try {
        await fh.write(buf);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOSPC') throw new DiskFullError('disk full while downloading');
        throw err;
      }
      written += buf.length;
      sinceStart += buf.length;
      o.onBytes(buf.length);
      if (o.bandwidthLimit) {
        const due = (sinceStart / o.bandwidthLimit) * 1000 - (Date.now() - started);
        if (due > 0) await o.sleep(due);
      }
    }
  } catch (err) {
    if (err instanceof DiskFullError || err instanceof HashMismatchError || o.signal.aborted) throw err;
    throw new TransientDownloadError(`download of ${file.sha256} cut at ${written} bytes: ${(err as Error).message}`);
  } finally {
    await fh.sync().catch(() => {});
    await fh.close();
  }
  if (written < file.size) throw new TransientDownloadError(`download of ${file.sha256} truncated at ${written}/${file.size}`);
}
