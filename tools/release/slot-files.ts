/**
 * The files of a release slot on disk: listing them (what the builder signs) and checking them against a signed
 * release (what the installer, and the updater, check before a slot is used). One rule for both sides.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { lstat, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { RELEASE_MANIFEST_FILE, type ReleaseFile, type ReleaseManifest } from '../../protocol/release.js';

export async function sha256File(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/** Every regular file under `dir` as a `/`-separated relative path, sorted; a symlink or other special file is an error. */
export async function listSlotPaths(dir: string): Promise<string[]> {
  const out: string[] = [];
  async function walk(rel: string): Promise<void> {
    const entries = await readdir(join(dir, rel), { withFileTypes: true });
    for (const entry of entries) {
      const path = rel ? `${rel}/${entry.name}` : entry.name;
      if (entry.isDirectory()) await walk(path);
      else if (entry.isFile()) out.push(path);
      else throw new Error(`${path} is neither a file nor a folder; a release holds only regular files`);
    }
  }
  await walk('');
  return out.filter((p) => p !== RELEASE_MANIFEST_FILE).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}

/** The `files` list of a release built from `dir`. */
export async function describeSlot(dir: string): Promise<ReleaseFile[]> {
  const files: ReleaseFile[] = [];
  for (const path of await listSlotPaths(dir)) {
    const stat = await lstat(join(dir, path));
    files.push({ path, sha256: await sha256File(join(dir, path)), size: stat.size, mode: stat.mode & 0o777 });
  }
  return files;
}

/**
 * Null when `dir` holds exactly the files of `release` (size and sha256 each; nothing more), else one sentence
 * naming the first difference.
 */
export async function slotProblem(dir: string, release: Pick<ReleaseManifest, 'files'>): Promise<string | null> {
  let present: string[];
  try {
    present = await listSlotPaths(dir);
  } catch (err) {
    return `cannot read ${dir}: ${(err as Error).message}`;
  }
  const listed = new Set(release.files.map((f) => f.path));
  const extra = present.find((p) => !listed.has(p));
  if (extra) return `${extra} is in the release folder but not in its signed manifest`;
  const have = new Set(present);
  for (const file of release.files) {
    if (!have.has(file.path)) return `${file.path} is missing`;
    const stat = await lstat(join(dir, file.path));
    if (stat.size !== file.size) return `${file.path} has ${stat.size} bytes, the signed manifest says ${file.size}`;
    const sha = await sha256File(join(dir, file.path));
    if (sha !== file.sha256) return `${file.path} does not match its sha256 in the signed manifest (damaged or changed)`;
  }
  return null;
}
