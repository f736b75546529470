/**
 * Restore of a backup made by `backup.ts` into a DATA_DIR: the backup is checked whole first (the database's
 * hash and `integrity_check`, every key and TLS file's hash, every content file against its sha256 name), then
 * copied into a new directory beside DATA_DIR and renamed into place, so a failed restore leaves nothing
 * half-written. DATA_DIR must be empty or absent; with `force`, what it holds is moved aside, never deleted.
 */
import { chmod, copyFile, mkdir, readdir, rename, rm, rmdir, stat } from 'node:fs/promises';
import { basename, dirname, join, resolve, sep } from 'node:path';
import {
  type BackupManifest,
  DB_FILE,
  generationName,
  hashFile,
  integrityCheck,
  listBackups,
  MANIFEST_FILE,
  readManifest,
} from './backup.js';

/** `from` itself when it is one backup; the newest backup in it when it is a backup directory. */
export async function resolveBackup(from: string): Promise<string> {
  const dir = resolve(from);
  try {
    await stat(join(dir, MANIFEST_FILE));
    return dir;
  } catch {
    const newest = (await listBackups(dir)).at(-1);
    if (!newest) throw new Error(`${dir} is neither a backup (no ${MANIFEST_FILE}) nor a directory of backups`);
    return join(dir, newest);
  }
}

async function contentFiles(dir: string): Promise<string[]> {
  const root = join(dir, 'content');
  const out: string[] = [];
  let subdirs: string[];
  try {
    subdirs = await readdir(root);
  } catch {
    return out;
  }
  for (const sub of subdirs.sort()) for (const file of (await readdir(join(root, sub))).sort()) out.push(join(sub, file));
  return out;
}

/** Checks a backup whole; throws a sentence naming the first problem. */
export async function verifyBackup(dir: string): Promise<BackupManifest> {
  const manifest = await readManifest(dir);
  const dbFile = join(dir, DB_FILE);
  const dbHash = await hashFile(dbFile).catch(() => null);
  if (dbHash !== manifest.database.sha256) throw new Error(`backup ${dir}: ${DB_FILE} is missing or does not match its hash`);
  const integrity = await integrityCheck(dbFile);
  if (integrity.length !== 1 || integrity[0] !== 'ok') {
    throw new Error(`backup ${dir}: the database fails its integrity check: ${integrity.slice(0, 5).join('; ')}`);
  }
  for (const file of manifest.files) {
    const sha256 = await hashFile(join(dir, file.path)).catch(() => null);
    if (sha256 !== file.sha256) throw new Error(`backup ${dir}: ${file.path} is missing or does not match its hash`);
  }
  const content = await contentFiles(dir);
  if (content.length !== manifest.content.files) {
    throw new Error(`backup ${dir}: ${content.length} content files where the backup recorded ${manifest.content.files}`);
  }
  for (const rel of content) {
    if ((await hashFile(join(dir, 'content', rel))) !== basename(rel)) {
      throw new Error(`backup ${dir}: content file ${rel} does not match its sha256 name`);
    }
  }
  return manifest;
}

export interface RestoreOptions {
  /** One backup, or a backup directory (its newest backup). */
  from: string;
  dataDir: string;
  /** Restore over a non-empty DATA_DIR, moving what it holds to `<DATA_DIR>.replaced-<time>`. */
  force?: boolean;
}

export interface RestoreResult {
  backup: string;
  manifest: BackupManifest;
  dataDir: string;
  /** Where the previous contents of DATA_DIR went (with `force`), or null. */
  movedAside: string | null;
}

export async function restoreBackup(options: RestoreOptions): Promise<RestoreResult> {
  const backup = await resolveBackup(options.from);
  const dataDir = resolve(options.dataDir);
  let existing: string[] | null = null;
  try {
    existing = await readdir(dataDir);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  if (existing && existing.length > 0 && !options.force) {
    throw new Error(
      `${dataDir} is not empty (${existing.slice(0, 5).join(', ')}${existing.length > 5 ? ', …' : ''}): restore into an empty ` +
        `data directory, or pass --force to move what it holds to ${dataDir}.replaced-<time> first`,
    );
  }
  const manifest = await verifyBackup(backup);

  const stamp = generationName(Date.now());
  const staging = `${dataDir}.restoring-${stamp}`;
  await rm(staging, { recursive: true, force: true });
  await mkdir(staging, { recursive: true, mode: 0o700 });
  try {
    const copy = async (rel: string, mode: number) => {
      const parts = rel.split(sep);
      for (let i = 1; i < parts.length; i++) {
        const dir = join(staging, ...parts.slice(0, i));
        await mkdir(dir, { recursive: true, mode: 0o700 });
        await chmod(dir, 0o700);
      }
      await copyFile(join(backup, rel), join(staging, rel));
      await chmod(join(staging, rel), mode);
    };
    await copy(DB_FILE, 0o600);
    for (const file of manifest.files) await copy(file.path, 0o600);
    for (const rel of await contentFiles(backup)) await copy(join('content', rel), 0o640);
    // The copies are checked again where they now are (a full disk or a bad sector shows here, not at start).
    if ((await hashFile(join(staging, DB_FILE))) !== manifest.database.sha256) throw new Error('the restored database differs');
    for (const file of manifest.files) {
      if ((await hashFile(join(staging, file.path))) !== file.sha256) throw new Error(`the restored ${file.path} differs`);
    }
    let movedAside: string | null = null;
    if (existing && existing.length > 0) {
      movedAside = `${dataDir}.replaced-${stamp}`;
      await rename(dataDir, movedAside);
    } else if (existing) {
      await rmdir(dataDir);
    }
    await mkdir(dirname(dataDir), { recursive: true });
    await rename(staging, dataDir);
    return { backup, manifest, dataDir, movedAside };
  } catch (error) {
    await rm(staging, { recursive: true, force: true });
    throw error;
  }
}
