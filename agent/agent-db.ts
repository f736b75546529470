/**
 * The agent's own SQLite file (WAL): health queue, sequence counters, seen command ids, view counts and settings.
 * SQLite rather than an append-only log: a transaction is atomic under SIGKILL and power loss (WAL + synchronous=FULL),
 * so the queue never holds a torn record, the seq counter moves in the same transaction as the sample it numbers,
 * and dropping the oldest rows needs no compaction code of our own.
 *
 * A kiosk must not go dark because this file went bad: `openAgentDbOrRebuild` sets a corrupt file aside
 * (`agent.db.corrupt-<time>`) and starts an empty one, and falls back to a database in memory when nothing can be
 * written at all. Nothing in this file is needed to show the kiosk page (content and manifests are plain files).
 */
import { mkdirSync, readdirSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';

export type AgentDb = Database.Database;

/** What opening the agent DB had to do instead of simply opening it; reported as an event once the link is up. */
export type AgentDbIncident = { kind: 'rebuilt'; reason: string; quarantinedAs: string } | { kind: 'memory'; reason: string };

const SCHEMA = `
  CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
  CREATE TABLE IF NOT EXISTS health_queue (seq INTEGER PRIMARY KEY, sample TEXT NOT NULL);
  CREATE TABLE IF NOT EXISTS commands (
    id TEXT PRIMARY KEY, type TEXT NOT NULL, state TEXT NOT NULL, detail TEXT, at INTEGER NOT NULL,
    reported INTEGER NOT NULL DEFAULT 1);
  CREATE TABLE IF NOT EXISTS stats (
    day TEXT NOT NULL, item_id TEXT NOT NULL, lang TEXT NOT NULL,
    views INTEGER NOT NULL, seconds REAL NOT NULL, sent INTEGER NOT NULL DEFAULT 0, PRIMARY KEY (day, item_id, lang));
`;

/** Quarantined copies kept (each a few MB at most); older ones are deleted so a flapping disk cannot fill itself. */
const QUARANTINE_KEEP = 3;

function applySchema(db: AgentDb): void {
  db.exec(SCHEMA);
  // Agent data written before `stats.sent` existed.
  const statsColumns = db.prepare("SELECT name FROM pragma_table_info('stats')").pluck().all() as string[];
  if (!statsColumns.includes('sent')) db.exec('ALTER TABLE stats ADD COLUMN sent INTEGER NOT NULL DEFAULT 0');
}

/** Opens (creating if needed) `agent.db`; throws what SQLite throws. */
export function openAgentDb(dataDir: string): AgentDb {
  mkdirSync(dataDir, { recursive: true });
  const db = new Database(join(dataDir, 'agent.db'));
  try {
    db.pragma('journal_mode = WAL');
    // FULL: a sample is on disk before it is sent; the cost is one fsync per sample per minute.
    db.pragma('synchronous = FULL');
    db.pragma('busy_timeout = 5000');
    applySchema(db);
    return db;
  } catch (err) {
    db.close();
    throw err;
  }
}

function sqliteCode(err: unknown): string {
  return String((err as { code?: unknown })?.code ?? '');
}

/** SQLite or the file system says the disk is full. */
export function isDiskFull(err: unknown): boolean {
  const code = sqliteCode(err);
  return code === 'SQLITE_FULL' || code === 'ENOSPC' || /database or disk is full|ENOSPC/.test(String((err as Error)?.message));
}

/** The file is not (or no longer) a database SQLite can read: only setting it aside helps. */
export function isCorrupt(err: unknown): boolean {
  const code = sqliteCode(err);
  return code === 'SQLITE_NOTADB' || code.startsWith('SQLITE_CORRUPT');
}

function memoryDb(): AgentDb {
  const db = new Database(':memory:');
  applySchema(db);
  return db;
}

/** Renames `agent.db` and its WAL aside; returns the new name of the main file. */
function quarantine(dataDir: string, now: number): string {
  const stamp = new Date(now).toISOString().replace(/[:.]/g, '-');
  const aside = `agent.db.corrupt-${stamp}`;
  for (const suffix of ['', '-wal']) {
    try {
      renameSync(join(dataDir, `agent.db${suffix}`), join(dataDir, `${aside}${suffix}`));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
  }
  // The shared-memory index belongs to the old file and is rebuilt by SQLite.
  rmSync(join(dataDir, 'agent.db-shm'), { force: true });
  const old = readdirSync(dataDir)
    .filter((n) => /^agent\.db\.corrupt-.*Z$/.test(n))
    .sort();
  for (const name of old.slice(0, Math.max(0, old.length - QUARANTINE_KEEP))) {
    rmSync(join(dataDir, name), { force: true });
    rmSync(join(dataDir, `${name}-wal`), { force: true });
  }
  return aside;
}

/**
 * Opens `agent.db`, checked with `quick_check` (the file holds a few MB at most). A file that is not a database or
 * fails the check is renamed aside and an empty one is built; when no file can be opened or written (read-only or
 * full disk at first start) the agent runs on a database in memory. Never throws.
 */
export function openAgentDbOrRebuild(dataDir: string, now: number): { db: AgentDb; incident: AgentDbIncident | null } {
  let reason: string;
  try {
    const db = openAgentDb(dataDir);
    let check: string;
    try {
      check = String(db.pragma('quick_check', { simple: true }));
    } catch (err) {
      db.close();
      throw err;
    }
    if (check === 'ok') return { db, incident: null };
    db.close();
    reason = `integrity check failed: ${check.slice(0, 300)}`;
  } catch (err) {
    if (!isCorrupt(err)) {
      return { db: memoryDb(), incident: { kind: 'memory', reason: `agent.db cannot be opened: ${(err as Error).message}` } };
    }
    reason = (err as Error).message;
  }
  try {
    const quarantinedAs = quarantine(dataDir, now);
    return { db: openAgentDb(dataDir), incident: { kind: 'rebuilt', reason, quarantinedAs } };
  } catch (err) {
    return {
      db: memoryDb(),
      incident: { kind: 'memory', reason: `agent.db is corrupt (${reason}) and could not be rebuilt: ${(err as Error).message}` },
    };
  }
}

export function getMeta(db: AgentDb, key: string): string | null {
  const row = db.prepare('SELECT value FROM meta WHERE key = ?').get(key) as { value: string } | undefined;
  return row?.value ?? null;
}

export function setMeta(db: AgentDb, key: string, value: string): void {
  db.prepare('INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value').run(key, value);
}
