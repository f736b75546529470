/**
 * Online backups of a DATA_DIR (docs/deployment.md, "Backup and restore"). One backup is a directory
 * `BACKUP_DIR/<UTC time>/` holding:
 * - `fleet.db`: SQLite's online backup API (better-sqlite3 `db.backup()`) while the server keeps writing (page by
 *   page on the server's connection, in one step on a connection of its own), never a file copy of a live
 *   database; checked with `PRAGMA integrity_check` (in a worker thread, so a big database does not hold the
 *   server's event loop);
 * - `content/ab/abcdef…`: the content store. Files are named by their sha256 and never change, so a file the
 *   previous backup has is hard-linked from it and only new files are copied, each hashed after the copy;
 * - every other file of DATA_DIR (the manifest keys `manifest-signing-key.pem` and `keys/`, the TLS CA and
 *   certificate `tls/`, …), hashed; all of it mode 0600 in directories of mode 0700;
 * - `backup.json`: what was copied with its hashes, which `restore` checks before restoring anything.
 * A backup is written as `.partial-<name>` and renamed when complete and checked, so a directory with a plain
 * name is always a whole, checked backup.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { chmod, copyFile, link, mkdir, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { join, relative, resolve, sep } from 'node:path';
import { Worker } from 'node:worker_threads';
import BetterSqlite3 from 'better-sqlite3';
import type { Retention } from '../config.js';
import type { Database } from '../db/open-database.js';

export const BACKUP_FORMAT = 'fleet-backup/1';
export const MANIFEST_FILE = 'backup.json';
export const DB_FILE = 'fleet.db';
const CONTENT_DIR = 'content';
const PARTIAL_PREFIX = '.partial-';
/** `20261123T085817123Z`: sorts as time does. */
const GENERATION_NAME = /^\d{8}T\d{9}Z$/;
const CONTENT_FILE = /^[0-9a-f]{64}$/;

export interface BackupFile {
  path: string;
  bytes: number;
  sha256: string;
}

export interface BackupManifest {
  format: typeof BACKUP_FORMAT;
  createdAt: string;
  finishedAt: string;
  durationMs: number;
  database: BackupFile & { integrity: 'ok'; migrations: string[] };
  content: { files: number; bytes: number; copied: number; linked: number };
  /** Every other file of DATA_DIR (keys, TLS material, …), relative to it. */
  files: BackupFile[];
}

export interface BackupResult {
  name: string;
  path: string;
  manifest: BackupManifest;
  /** Bytes written by this backup (content hard-linked from the previous one not counted). */
  bytesWritten: number;
  /** Backups removed by retention after this one. */
  pruned: string[];
}

export interface BackupOptions {
  dataDir: string;
  backupDir: string;
  /** The server's open connection (a running server); else the database file under dataDir is opened. */
  db?: Database;
  retention?: Retention;
  now?: () => number;
}

/** A backup step of this many pages copies all that remain (better-sqlite3's largest rate). */
const ALL_REMAINING_PAGES = 0x7fffffff;

export function generationName(ms: number): string {
  return new Date(ms).toISOString().replace(/[-:.]/g, '');
}

/** sha256 (hex) of a file, streamed. */
export async function hashFile(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/** `PRAGMA integrity_check` of a database file, in a worker thread; resolves to its messages ('ok' when sound). */
export function integrityCheck(file: string): Promise<string[]> {
  const moduleFile = createRequire(import.meta.url).resolve('better-sqlite3');
  const code = `
    const { parentPort, workerData } = require('node:worker_threads');
    const Database = require(workerData.moduleFile);
    let db;
    try {
      db = new Database(workerData.file, { readonly: true, fileMustExist: true });
      parentPort.postMessage({ rows: db.pragma('integrity_check').map((r) => String(r.integrity_check)) });
    } catch (error) {
      parentPort.postMessage({ error: String(error && error.message || error) });
    } finally {
      if (db) db.close();
    }`;
  return new Promise((resolvePromise, reject) => {
    const worker = new Worker(code, { eval: true, workerData: { file, moduleFile } });
    worker.once('message', (message: { rows?: string[]; error?: string }) => {
      if (message.error) reject(new Error(`integrity check of ${file} failed: ${message.error}`));
      else resolvePromise(message.rows ?? []);
    });
    worker.once('error', reject);
    worker.once('exit', (code) => {
      if (code !== 0) reject(new Error(`integrity check of ${file}: worker exited with ${code}`));
    });
  });
}

/** The complete backups in a backup directory, oldest first. */
export async function listBackups(backupDir: string): Promise<string[]> {
  let names: string[];
  try {
    names = await readdir(backupDir);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
  return names.filter((name) => GENERATION_NAME.test(name)).sort();
}

export async function readManifest(dir: string): Promise<BackupManifest> {
  let text: string;
  try {
    text = await readFile(join(dir, MANIFEST_FILE), 'utf8');
  } catch {
    throw new Error(`${dir} is not a backup: it has no ${MANIFEST_FILE}`);
  }
  const manifest = JSON.parse(text) as BackupManifest;
  if (manifest.format !== BACKUP_FORMAT) throw new Error(`${dir}: unknown backup format ${JSON.stringify(manifest.format)}`);
  return manifest;
}

/** Every regular file under `root`, as paths relative to it, skipping what `skip` (a relative path) says. */
async function walk(root: string, skip: (rel: string) => boolean, rel = ''): Promise<string[]> {
  let entries: import('node:fs').Dirent[];
  try {
    entries = await readdir(join(root, rel), { withFileTypes: true });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
  const out: string[] = [];
  for (const entry of entries) {
    const path = rel ? join(rel, entry.name) : entry.name;
    if (skip(path)) continue;
    if (entry.isDirectory()) out.push(...(await walk(root, skip, path)));
    else if (entry.isFile()) out.push(path);
  }
  return out.sort();
}

async function ensurePrivateDir(dir: string): Promise<void> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  await chmod(dir, 0o700);
}

/** Copies `from` to `to` (mode `mode`) and returns the copy's size and hash. */
async function copyChecked(from: string, to: string, mode: number): Promise<{ bytes: number; sha256: string }> {
  await copyFile(from, to);
  await chmod(to, mode);
  const [info, sha256] = await Promise.all([stat(to), hashFile(to)]);
  return { bytes: info.size, sha256 };
}

function isMissing(error: unknown): boolean {
  return (error as NodeJS.ErrnoException).code === 'ENOENT';
}

/** Takes one backup of `dataDir` into `backupDir`, checks it, then applies the retention. */
export async function runBackup(options: BackupOptions): Promise<BackupResult> {
  const now = options.now ?? Date.now;
  const started = now();
  const dataDir = resolve(options.dataDir);
  const backupDir = resolve(options.backupDir);
  await ensurePrivateDir(backupDir);
  const previous = (await listBackups(backupDir)).at(-1);
  let name = generationName(started);
  if (previous !== undefined && name <= previous) name = generationName(Date.parse(isoOf(previous)) + 1);
  const partial = join(backupDir, `${PARTIAL_PREFIX}${name}`);
  await rm(partial, { recursive: true, force: true });
  await ensurePrivateDir(partial);
  try {
    let bytesWritten = 0;
    // 1. The database, online.
    const dbCopy = join(partial, DB_FILE);
    const source = options.db ?? new BetterSqlite3(join(dataDir, DB_FILE), { fileMustExist: true });
    try {
      // On the server's connection, 100 pages a step (its event loop keeps serving between steps; its own commits
      // update the copy in place). On a connection of its own (the CLI beside a running server) a step between two
      // of the server's commits is restarted from page 1, so under steady ingest it never ends: one step, one
      // read snapshot (the server keeps writing meanwhile; WAL readers block no writer).
      await (options.db ? source.backup(dbCopy) : source.backup(dbCopy, { progress: () => ALL_REMAINING_PAGES }));
    } finally {
      if (!options.db) source.close();
    }
    await chmod(dbCopy, 0o600);
    const integrity = await integrityCheck(dbCopy);
    if (integrity.length !== 1 || integrity[0] !== 'ok') {
      throw new Error(`the database copy failed its integrity check: ${integrity.slice(0, 5).join('; ')}`);
    }
    const check = new BetterSqlite3(dbCopy, { readonly: true });
    let migrations: string[];
    try {
      migrations = (check.prepare('SELECT name FROM schema_migrations ORDER BY version').pluck().all() as string[]) ?? [];
    } finally {
      check.close();
    }
    const dbInfo = { path: DB_FILE, bytes: (await stat(dbCopy)).size, sha256: await hashFile(dbCopy) };
    bytesWritten += dbInfo.bytes;

    // 2. The content store, incrementally: a file the previous backup has is linked, a new one copied and hashed.
    const contentRoot = join(dataDir, CONTENT_DIR);
    const content = { files: 0, bytes: 0, copied: 0, linked: 0 };
    for (const rel of await walk(contentRoot, (p) => p === 'tmp')) {
      const [dir, file] = rel.split(sep);
      if (!dir || !file || !CONTENT_FILE.test(file) || dir !== file.slice(0, 2)) continue;
      const target = join(partial, CONTENT_DIR, rel);
      await ensurePrivateDir(join(partial, CONTENT_DIR, dir));
      const linked = previous
        ? await linkIfSame(join(backupDir, previous, CONTENT_DIR, rel), join(contentRoot, rel), target)
        : null;
      let bytes: number;
      if (linked !== null) {
        bytes = linked;
        content.linked++;
      } else {
        let copied: { bytes: number; sha256: string };
        try {
          copied = await copyChecked(join(contentRoot, rel), target, 0o600);
        } catch (error) {
          if (isMissing(error)) continue; // removed by the content clean-up meanwhile
          throw error;
        }
        if (copied.sha256 !== file) {
          throw new Error(`content file ${rel} does not match its name (sha256 ${copied.sha256}): the store's copy is damaged`);
        }
        bytes = copied.bytes;
        bytesWritten += bytes;
        content.copied++;
      }
      content.files++;
      content.bytes += bytes;
    }

    // 3. Everything else of DATA_DIR: keys, TLS material, … (small files), all private.
    const backupInsideData = !relative(dataDir, backupDir).startsWith('..');
    const skip = (rel: string) =>
      rel === CONTENT_DIR ||
      rel === DB_FILE ||
      rel === `${DB_FILE}-wal` ||
      rel === `${DB_FILE}-shm` ||
      rel === `${DB_FILE}-journal` ||
      (backupInsideData && resolve(dataDir, rel) === backupDir);
    const files: BackupFile[] = [];
    for (const rel of await walk(dataDir, skip)) {
      const parts = rel.split(sep);
      for (let i = 1; i < parts.length; i++) await ensurePrivateDir(join(partial, ...parts.slice(0, i)));
      let copied: { bytes: number; sha256: string };
      try {
        copied = await copyChecked(join(dataDir, rel), join(partial, rel), 0o600);
      } catch (error) {
        if (isMissing(error)) continue;
        throw error;
      }
      const original = await hashFile(join(dataDir, rel)).catch(() => copied.sha256);
      if (original !== copied.sha256) throw new Error(`${rel} changed while it was copied; the next backup will take it`);
      files.push({ path: rel, ...copied });
      bytesWritten += copied.bytes;
    }

    const finished = now();
    const manifest: BackupManifest = {
      format: BACKUP_FORMAT,
      createdAt: new Date(started).toISOString(),
      finishedAt: new Date(finished).toISOString(),
      durationMs: finished - started,
      database: { ...dbInfo, integrity: 'ok', migrations },
      content,
      files,
    };
    await writeFile(join(partial, MANIFEST_FILE), `${JSON.stringify(manifest, null, 2)}\n`, { mode: 0o600 });
    const path = join(backupDir, name);
    await rename(partial, path);
    const pruned = options.retention ? await pruneBackups(backupDir, options.retention, now()) : [];
    return { name, path, manifest, bytesWritten, pruned };
  } catch (error) {
    await rm(partial, { recursive: true, force: true });
    throw error;
  }
}

/** Hard-links the previous backup's copy when it has the same size as the source; returns the size, or null. */
async function linkIfSame(previousCopy: string, sourceFile: string, target: string): Promise<number | null> {
  try {
    const [old, src] = await Promise.all([stat(previousCopy), stat(sourceFile)]);
    if (old.size !== src.size) return null;
    await link(previousCopy, target);
    return old.size;
  } catch {
    return null;
  }
}

function isoOf(name: string): string {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})(\d{3})Z$/.exec(name);
  if (!m) return new Date(0).toISOString();
  return `${m[1]}-${m[2]}-${m[3]}T${m[4]}:${m[5]}:${m[6]}.${m[7]}Z`;
}

/** When a backup (by its directory name) was started. */
export function backupTime(name: string): number {
  return Date.parse(isoOf(name));
}

/** Removes backups past the retention (a count, or an age) and leftover partial ones; the newest is always kept. */
export async function pruneBackups(backupDir: string, retention: Retention, now: number): Promise<string[]> {
  const names = await listBackups(backupDir);
  const keep = new Set<string>(names.slice(-1));
  if ('count' in retention) for (const name of names.slice(-retention.count)) keep.add(name);
  else for (const name of names) if (now - backupTime(name) <= retention.maxAgeMs) keep.add(name);
  const removed = names.filter((name) => !keep.has(name));
  for (const name of removed) await rm(join(backupDir, name), { recursive: true, force: true });
  for (const name of await readdir(backupDir)) {
    // A partial backup a day old was abandoned (a crash); a younger one may be another backup still running.
    if (name.startsWith(PARTIAL_PREFIX) && backupTime(name.slice(PARTIAL_PREFIX.length)) < now - 86_400_000)
      await rm(join(backupDir, name), { recursive: true, force: true });
  }
  return removed;
}
