/**
 * The agent's own SQLite file (WAL): health queue, sequence counters, seen command ids, view counts and settings.
 * SQLite rather than an append-only log: a transaction is atomic under SIGKILL and power loss (WAL + synchronous=FULL),
 * so the queue never holds a torn record, the seq counter moves in the same transaction as the sample it numbers,
 * and dropping the oldest rows needs no compaction code of our own.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';

export type AgentDb = Database.Database;

export function openAgentDb(dataDir: string): AgentDb {
  mkdirSync(dataDir, { recursive: true });
  const db = new Database(join(dataDir, 'agent.db'));
  db.pragma('journal_mode = WAL');
  // FULL: a sample is on disk before it is sent; the cost is one fsync per sample per minute.
  db.pragma('synchronous = FULL');
  db.pragma('busy_timeout = 5000');
  db.exec(`
    CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    CREATE TABLE IF NOT EXISTS health_queue (seq INTEGER PRIMARY KEY, sample TEXT NOT NULL);
    CREATE TABLE IF NOT EXISTS commands (
      id TEXT PRIMARY KEY, type TEXT NOT NULL, state TEXT NOT NULL, detail TEXT, at INTEGER NOT NULL,
      reported INTEGER NOT NULL DEFAULT 1);
    CREATE TABLE IF NOT EXISTS stats (
      day TEXT NOT NULL, item_id TEXT NOT NULL, lang TEXT NOT NULL,
      views INTEGER NOT NULL, seconds REAL NOT NULL, sent INTEGER NOT NULL DEFAULT 0, PRIMARY KEY (day, item_id, lang));
  `);
  // Agent data written before `stats.sent` existed.
  const statsColumns = db.prepare("SELECT name FROM pragma_table_info('stats')").pluck().all() as string[];
  if (!statsColumns.includes('sent')) db.exec('ALTER TABLE stats ADD COLUMN sent INTEGER NOT NULL DEFAULT 0');
  return db;
}

export function getMeta(db: AgentDb, key: string): string | null {
  const row = db.prepare('SELECT value FROM meta WHERE key = ?').get(key) as { value: string } | undefined;
  return row?.value ?? null;
}

export function setMeta(db: AgentDb, key: string, value: string): void {
  db.prepare('INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value').run(key, value);
}
