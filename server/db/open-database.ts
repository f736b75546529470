/**
 * Opens the server's SQLite file and brings its schema up to date. Migrations are files
 * `migrations/NNN-name.sql`, applied in number order, each recorded in `schema_migrations`.
 * Number ranges keep parallel modules apart: 001–099 core, 100–199 provisioning, 200–299 content,
 * 300–399 coverage and dashboard, 400–499 over-the-air releases (server/releases/).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import BetterSqlite3 from 'better-sqlite3';

/** A better-sqlite3 connection, as every repository takes it. */
export type Database = BetterSqlite3.Database;

const MIGRATIONS_DIR = join(dirname(fileURLToPath(import.meta.url)), 'migrations');
const MIGRATION_FILE = /^(\d{3})-[a-z0-9-]+\.sql$/;

export interface Migration {
  version: number;
  name: string;
  sql: string;
}

export function readMigrations(dir: string = MIGRATIONS_DIR): Migration[] {
  const migrations = readdirSync(dir)
    .filter((name) => MIGRATION_FILE.test(name))
    .map((name) => ({ version: Number(name.slice(0, 3)), name, sql: readFileSync(join(dir, name), 'utf8') }))
    .sort((a, b) => a.version - b.version);
  for (let i = 1; i < migrations.length; i++) {
    const prev = migrations[i - 1] as Migration;
    const cur = migrations[i] as Migration;
    if (prev.version === cur.version) throw new Error(`two migrations numbered ${cur.version}: ${prev.name}, ${cur.name}`);
  }
  return migrations;
}

/** Thrown when the database records migrations this version of the server does not have. */
export class NewerDatabaseError extends Error {
  constructor(
    readonly unknown: Array<{ version: number; name: string }>,
    readonly known: number,
  ) {
    super(
      `the database was written by a newer version of the server: it records migration${unknown.length > 1 ? 's' : ''} ${unknown
        .map((m) => m.name)
        .join(', ')}, which this version (migrations up to ${String(known).padStart(3, '0')}) does not have. ` +
        'Run the newer version again, or restore a backup made by this version (docs/deployment.md, "Upgrades").',
    );
    this.name = 'NewerDatabaseError';
  }
}

/**
 * Refuses a database on which a newer server applied migrations this one does not know: its code would
 * misread a schema it has never seen (and a later downgrade of data cannot be undone).
 */
function refuseNewerDatabase(db: Database, migrations: Migration[]): void {
  const known = new Set(migrations.map((m) => m.version));
  const recorded = db.prepare('SELECT version, name FROM schema_migrations ORDER BY version').all() as Array<{
    version: number;
    name: string;
  }>;
  const unknown = recorded.filter((m) => !known.has(m.version));
  if (unknown.length > 0) throw new NewerDatabaseError(unknown, Math.max(0, ...known));
}

/** Applies every migration not yet recorded; one transaction per migration. Returns the names applied. */
export function migrate(db: Database, migrations: Migration[] = readMigrations()): string[] {
  db.exec(`CREATE TABLE IF NOT EXISTS schema_migrations (
    version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)`);
  refuseNewerDatabase(db, migrations);
  const applied = db.prepare('SELECT 1 FROM schema_migrations WHERE version = ?');
  const record = db.prepare('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)');
  const done: string[] = [];
  for (const migration of migrations) {
    // IMMEDIATE: two processes opening the same file cannot both apply one migration.
    db.transaction(() => {
      if (applied.get(migration.version)) return;
      db.exec(migration.sql);
      record.run(migration.version, migration.name, Date.now());
      done.push(migration.name);
    }).immediate();
  }
  return done;
}

/** Opens (creating if needed) the database at `file` (`:memory:` works), configured and migrated. */
export function openDatabase(file: string, options: { migrationsDir?: string } = {}): Database {
  const db = new BetterSqlite3(file);
  try {
    db.pragma('journal_mode = WAL');
    // FULL: each commit is fsynced before it returns, so what a PUBACK acknowledged survives a power cut
    // (NORMAL in WAL mode survives a process crash only). Group commit pays one fsync per batch
    // (docs/performance.md, "Durable commits").
    db.pragma('synchronous = FULL');
    db.pragma('foreign_keys = ON');
    // Temporary b-trees and the savepoints' sub-journals in memory: each group-commit write runs in a savepoint,
    // and with temp files a large batch spilled its sub-journal to /var/tmp (thousands of pwrites a second).
    db.pragma('temp_store = MEMORY');
    db.pragma('busy_timeout = 5000');
    migrate(db, readMigrations(options.migrationsDir));
    return db;
  } catch (error) {
    db.close();
    throw error;
  }
}
