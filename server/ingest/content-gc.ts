/**
 * Removes content files nobody can need any more, so the store does not grow forever. A file is kept while
 * it is referenced by a translation of a version that is not retired, or of an item's latest version even
 * when retired (editing a retired item copies that version's translations, files included, into a new
 * draft), or by any device's current manifest (`device_manifest_files`), or while it (or its `content_files`
 * row) is younger than the grace period: an upload lands on disk before its translation row is written.
 * Files only retired, superseded versions refer to lose their bytes; their `content_files` row stays while a
 * translation still names it (the foreign key), and goes with the last reference. Abandoned upload parts
 * older than the grace period are removed too.
 */
import { readdirSync, statSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import type { Database } from '../db/open-database.js';

export const DEFAULT_CONTENT_GRACE_MS = 24 * 3_600_000;
/** Deletions per run at most, so one run never holds the event loop for long. */
const MAX_DELETES_PER_RUN = 1_000;
const SHA256 = /^[0-9a-f]{64}$/;

export interface ContentGcOptions {
  /** The content store's root (`DATA_DIR/content`, files under `ab/abcdef…`, parts under `tmp/`). */
  root: string;
  graceMs?: number;
}

export interface ContentGcResult {
  deletedFiles: number;
  deletedBytes: number;
  deletedParts: number;
}

function listDir(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

function mtimeOf(path: string): { mtimeMs: number; size: number } | null {
  try {
    const st = statSync(path);
    return st.isFile() ? { mtimeMs: st.mtimeMs, size: st.size } : null;
  } catch {
    return null;
  }
}

export function createContentGc(db: Database, options: ContentGcOptions) {
  const graceMs = options.graceMs ?? DEFAULT_CONTENT_GRACE_MS;
  const needed = db
    .prepare(
      `SELECT 1 FROM content_translations t
         JOIN content_versions v ON v.item_id = t.item_id AND v.version = t.version
         JOIN content_items i ON i.id = t.item_id
       WHERE t.file_sha256 = @sha AND (v.state <> 'retired' OR v.version = i.latest_version)
       UNION ALL SELECT 1 FROM device_manifest_files WHERE sha256 = @sha
       UNION ALL SELECT 1 FROM content_files WHERE sha256 = @sha AND uploaded_at > @youngAfter
       LIMIT 1`,
    )
    .pluck();
  const named = db.prepare('SELECT 1 FROM content_translations WHERE file_sha256 = ? LIMIT 1').pluck();
  const forget = db.prepare('DELETE FROM content_files WHERE sha256 = ?');

  function run(now = Date.now()): ContentGcResult {
    const result: ContentGcResult = { deletedFiles: 0, deletedBytes: 0, deletedParts: 0 };
    const youngAfter = now - graceMs;
    for (const part of listDir(join(options.root, 'tmp'))) {
      const path = join(options.root, 'tmp', part);
      const st = mtimeOf(path);
      if (!st || st.mtimeMs > youngAfter) continue;
      unlinkSync(path);
      result.deletedParts++;
    }
    for (const prefix of listDir(options.root)) {
      if (!/^[0-9a-f]{2}$/.test(prefix)) continue;
      for (const sha of listDir(join(options.root, prefix))) {
        if (result.deletedFiles >= MAX_DELETES_PER_RUN) return result;
        if (!SHA256.test(sha) || !sha.startsWith(prefix)) continue;
        const path = join(options.root, prefix, sha);
        // Stat, check and unlink run synchronously, so no request of this process interleaves between them;
        // a re-upload renames a new file into place, whose fresh mtime keeps it.
        const st = mtimeOf(path);
        if (!st || st.mtimeMs > youngAfter) continue;
        if (needed.get({ sha, youngAfter }) !== undefined) continue;
        unlinkSync(path);
        if (named.get(sha) === undefined) forget.run(sha);
        result.deletedFiles++;
        result.deletedBytes += st.size;
      }
    }
    return result;
  }

  return { run };
}
export type ContentGc = ReturnType<typeof createContentGc>;
