/**
 * Content-addressed file store and the current/target manifests, all under the data dir:
 *   content/{sha256}      verified files only (a file lands here by rename after its hash matched)
 *   tmp/{sha256}.part     downloads in progress (resumed with Range)
 *   current.json          the signed manifest on screen, replaced by write-temp + fsync + rename
 *   target.json           the newest accepted manifest and its ETag, until all its files are present
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, open, readdir, readFile, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { type SignedManifest, SignedManifest as SignedManifestSchema } from '../protocol/index.js';

const CurrentFile = z.object({ signed: SignedManifestSchema, appliedAt: z.string() });
const TargetFile = z.object({ signed: SignedManifestSchema, etag: z.string().nullable() });
export type CurrentManifest = z.infer<typeof CurrentFile>;
export type TargetManifest = z.infer<typeof TargetFile>;

export async function sha256OfFile(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

async function fsyncPath(path: string): Promise<void> {
  const fh = await open(path, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/** Writes `data` so that a crash leaves either the old file or the new one, never a mix. */
export async function writeFileAtomic(path: string, data: string, mode = 0o644): Promise<void> {
  const tmp = `${path}.tmp`;
  const fh = await open(tmp, 'w', mode);
  try {
    await fh.chmod(mode);
    await fh.writeFile(data);
    await fh.sync();
  } finally {
    await fh.close();
  }
  await rename(tmp, path);
  await fsyncPath(join(path, '..'));
}

export class ContentStore {
  readonly contentDir: string;
  readonly tmpDir: string;
  /** Files whose hash was checked, with the size and mtime they had then: a change means re-check before serving. */
  private readonly verified = new Map<string, { size: number; mtimeMs: number }>();

  constructor(private readonly dataDir: string) {
    this.contentDir = join(dataDir, 'content');
    this.tmpDir = join(dataDir, 'tmp');
  }

  async init(): Promise<{ corrupted: string[] }> {
    await mkdir(this.contentDir, { recursive: true });
    await mkdir(this.tmpDir, { recursive: true });
    const corrupted: string[] = [];
    // Hash every stored file at start: a power cut or a bad sector must not reach a citizen's screen.
    for (const name of await readdir(this.contentDir)) {
      if (!(await this.verify(name))) corrupted.push(name);
    }
    return { corrupted };
  }

  filePath(sha256: string): string {
    return join(this.contentDir, sha256);
  }

  partPath(sha256: string): string {
    return join(this.tmpDir, `${sha256}.part`);
  }

  /** Synchronous view for the kiosk API: the file was hash-checked since start and not touched since. */
  isKnownGood(sha256: string): boolean {
    return this.verified.has(sha256);
  }

  async has(sha256: string): Promise<boolean> {
    return (await stat(this.filePath(sha256)).catch(() => null)) !== null;
  }

  /** True when the stored file matches its name; a mismatching file is deleted so it is fetched again. */
  async verify(sha256: string): Promise<boolean> {
    const path = this.filePath(sha256);
    const st = await stat(path).catch(() => null);
    if (!st) return false;
    const known = this.verified.get(sha256);
    if (known && known.size === st.size && known.mtimeMs === st.mtimeMs) return true;
    if ((await sha256OfFile(path)) === sha256) {
      this.verified.set(sha256, { size: st.size, mtimeMs: st.mtimeMs });
      return true;
    }
    this.verified.delete(sha256);
    await rm(path, { force: true });
    return false;
  }

  /** Moves a verified part file into the store. */
  async adopt(sha256: string): Promise<void> {
    await rename(this.partPath(sha256), this.filePath(sha256));
    await fsyncPath(this.contentDir);
    const st = await stat(this.filePath(sha256));
    this.verified.set(sha256, { size: st.size, mtimeMs: st.mtimeMs });
  }

  async readCurrent(): Promise<CurrentManifest | null> {
    return this.readJson(join(this.dataDir, 'current.json'), CurrentFile);
  }

  async readTarget(): Promise<TargetManifest | null> {
    return this.readJson(join(this.dataDir, 'target.json'), TargetFile);
  }

  async writeCurrent(signed: SignedManifest, appliedAt: string): Promise<void> {
    await writeFileAtomic(join(this.dataDir, 'current.json'), JSON.stringify({ signed, appliedAt }));
  }

  async writeTarget(signed: SignedManifest, etag: string | null): Promise<void> {
    await writeFileAtomic(join(this.dataDir, 'target.json'), JSON.stringify({ signed, etag }));
  }

  /** Removes stored files not in `keep` and part files not in `keepParts`. */
  async collect(keep: ReadonlySet<string>, keepParts: ReadonlySet<string>): Promise<string[]> {
    const removed: string[] = [];
    for (const name of await readdir(this.contentDir)) {
      if (keep.has(name)) continue;
      await rm(join(this.contentDir, name), { force: true });
      this.verified.delete(name);
      removed.push(name);
    }
    for (const name of await readdir(this.tmpDir)) {
      if (keepParts.has(name.replace(/\.part$/, ''))) continue;
      await rm(join(this.tmpDir, name), { force: true });
    }
    return removed;
  }

  private async readJson<T>(path: string, schema: z.ZodType<T>): Promise<T | null> {
    let text: string;
    try {
      text = await readFile(path, 'utf8');
    } catch {
      return null;
    }
    try {
      const parsed = schema.safeParse(JSON.parse(text));
      return parsed.success ? parsed.data : null;
    } catch {
      return null;
    }
  }
}
