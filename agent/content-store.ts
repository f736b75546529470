/**
 * Content-addressed file store and the current/target manifests, all under the data dir:
 *   content/{sha256}      verified files only (a file lands here by rename after its hash matched)
 *   tmp/{sha256}.part     downloads in progress (resumed with Range)
 *   quarantine/           files whose hash stopped matching, set aside (the newest few are kept)
 *   current.json          the signed manifest on screen, replaced by write-temp + fsync + rename
 *   target.json           the newest accepted manifest and its ETag, until all its files are present
 *   verified.json         size and mtime of each file when its hash last matched: what the page may show at start
 *   keys.json             a copy of the keys document held (the agent DB can be lost; current.json must stay judgeable)
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

/** The same hash, read `chunkBytes` at a time with `pace` awaited between chunks (bounded I/O). */
export async function sha256OfFileChunked(path: string, pacing: HashPacing): Promise<string> {
  const hash = createHash('sha256');
  const fh = await open(path, 'r');
  try {
    const buf = Buffer.alloc(pacing.chunkBytes);
    for (;;) {
      const { bytesRead } = await fh.read(buf, 0, buf.length, null);
      if (bytesRead === 0) break;
      hash.update(buf.subarray(0, bytesRead));
      await pacing.pace(bytesRead);
    }
  } finally {
    await fh.close();
  }
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

/** Files set aside by a failed hash check that are kept for a technician (the disk is small). */
const QUARANTINE_KEEP = 4;

const VerifiedFile = z.object({
  files: z.record(z.string(), z.object({ size: z.number(), mtimeMs: z.number(), at: z.number() })),
});

export interface HashPacing {
  /** Bytes read per step. */
  chunkBytes: number;
  /** Awaited after each chunk (throttling); rejects to stop. */
  pace: (bytes: number) => Promise<void>;
}

export class ContentStore {
  readonly contentDir: string;
  readonly tmpDir: string;
  readonly quarantineDir: string;
  /** Files whose hash was checked, with the size and mtime they had then: a change means re-check before serving. */
  private readonly verified = new Map<string, { size: number; mtimeMs: number; at: number }>();
  private heldCheck: ((signed: SignedManifest) => boolean) | null = null;
  private recordDirty = false;

  constructor(
    private readonly dataDir: string,
    private readonly clock: () => number = Date.now,
  ) {
    this.contentDir = join(dataDir, 'content');
    this.tmpDir = join(dataDir, 'tmp');
    this.quarantineDir = join(dataDir, 'quarantine');
  }

  /**
   * Makes the folders and takes over what was last verified (`verified.json`) for every file whose size and mtime
   * are unchanged since: no hashing here, so the page comes up at once after a power cut. Hashes are checked again
   * in the background (agent/verify.ts). Returns the stored files the record does not vouch for. Never throws on a
   * bad record; throws only when the folders cannot be made.
   */
  async init(): Promise<{ unverified: string[] }> {
    await mkdir(this.contentDir, { recursive: true });
    await mkdir(this.tmpDir, { recursive: true });
    const record = await this.readJson(join(this.dataDir, 'verified.json'), VerifiedFile);
    const unverified: string[] = [];
    for (const name of await readdir(this.contentDir)) {
      const known = record?.files[name];
      const st = known ? await stat(this.filePath(name)).catch(() => null) : null;
      if (known && st && st.size === known.size && st.mtimeMs === known.mtimeMs) this.verified.set(name, known);
      else unverified.push(name);
    }
    return { unverified };
  }

  /**
   * A check a held target must pass before it is used again (on a 304 the server vouches only for the ETag, not for
   * the bytes on this disk): set by the agent to protocol's checkManifest with the trust held now.
   */
  setHeldCheck(check: (signed: SignedManifest) => boolean): void {
    this.heldCheck = check;
  }

  filePath(sha256: string): string {
    return join(this.contentDir, sha256);
  }

  partPath(sha256: string): string {
    return join(this.tmpDir, `${sha256}.part`);
  }

  /** Names in the content folder (all claimed sha256s). */
  async stored(): Promise<string[]> {
    return readdir(this.contentDir).catch(() => []);
  }

  /** Synchronous view for the kiosk API: the file's hash matched and it was not touched since. */
  isKnownGood(sha256: string): boolean {
    return this.verified.has(sha256);
  }

  async has(sha256: string): Promise<boolean> {
    return (await stat(this.filePath(sha256)).catch(() => null)) !== null;
  }

  /**
   * True when the stored file matches its name; a mismatching file is quarantined so it is fetched again.
   * A file unchanged (size, mtime) since its hash matched is taken as good unless `force` (the background check);
   * `pacing` reads it in chunks at a bounded rate.
   */
  async verify(sha256: string, opts: { force?: boolean; pacing?: HashPacing } = {}): Promise<boolean> {
    return (await this.check(sha256, opts)) === 'good';
  }

  /** `verify` telling a missing file (never stored, or collected meanwhile) from a bad one (now quarantined). */
  async check(sha256: string, opts: { force?: boolean; pacing?: HashPacing } = {}): Promise<'good' | 'bad' | 'missing'> {
    const path = this.filePath(sha256);
    const st = await stat(path).catch(() => null);
    if (!st) {
      this.forget(sha256);
      return 'missing';
    }
    const known = this.verified.get(sha256);
    if (!opts.force && known && known.size === st.size && known.mtimeMs === st.mtimeMs) return 'good';
    let actual: string;
    try {
      actual = opts.pacing ? await sha256OfFileChunked(path, opts.pacing) : await sha256OfFile(path);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
        this.forget(sha256);
        return 'missing';
      }
      throw err;
    }
    const after = await stat(path).catch(() => null);
    if (!after) {
      this.forget(sha256);
      return 'missing';
    }
    if (actual === sha256) {
      this.verified.set(sha256, { size: after.size, mtimeMs: after.mtimeMs, at: this.clock() });
      this.recordDirty = true;
      return 'good';
    }
    await this.quarantine(sha256);
    return 'bad';
  }

  /** Sets a file aside (it will be fetched again) and keeps only the newest few set aside. */
  async quarantine(sha256: string): Promise<void> {
    this.forget(sha256);
    try {
      await mkdir(this.quarantineDir, { recursive: true });
      await rename(this.filePath(sha256), join(this.quarantineDir, `${sha256}.${this.clock()}`));
      const kept = (await readdir(this.quarantineDir)).sort((a, b) => Number(a.split('.')[1]) - Number(b.split('.')[1]));
      for (const name of kept.slice(0, Math.max(0, kept.length - QUARANTINE_KEEP))) {
        await rm(join(this.quarantineDir, name), { force: true });
      }
    } catch {
      // could not set it aside: it must not stay where it would be served
      await rm(this.filePath(sha256), { force: true });
    }
  }

  /** Moves a verified part file into the store. */
  async adopt(sha256: string): Promise<void> {
    await rename(this.partPath(sha256), this.filePath(sha256));
    await fsyncPath(this.contentDir);
    const st = await stat(this.filePath(sha256));
    this.verified.set(sha256, { size: st.size, mtimeMs: st.mtimeMs, at: this.clock() });
    this.recordDirty = true;
    await this.saveRecord();
  }

  /** Writes `verified.json` when it changed; false when it could not be written (full disk: kept in memory). */
  async saveRecord(): Promise<boolean> {
    if (!this.recordDirty) return true;
    this.recordDirty = false;
    try {
      await writeFileAtomic(join(this.dataDir, 'verified.json'), JSON.stringify({ files: Object.fromEntries(this.verified) }));
      return true;
    } catch {
      this.recordDirty = true;
      return false;
    }
  }

  async readKeysCopy(): Promise<string | null> {
    return readFile(join(this.dataDir, 'keys.json'), 'utf8').catch(() => null);
  }

  async writeKeysCopy(json: string): Promise<void> {
    await writeFileAtomic(join(this.dataDir, 'keys.json'), json);
  }

  private forget(sha256: string): void {
    if (this.verified.delete(sha256)) this.recordDirty = true;
  }

  async readCurrent(): Promise<CurrentManifest | null> {
    return this.readJson(join(this.dataDir, 'current.json'), CurrentFile);
  }

  /** The held target, if it still passes the held check (else null: the manifest is then fetched whole). */
  async readTarget(): Promise<TargetManifest | null> {
    const held = await this.readJson(join(this.dataDir, 'target.json'), TargetFile);
    if (held && this.heldCheck && !this.heldCheck(held.signed)) return null;
    return held;
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
      this.forget(name);
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
