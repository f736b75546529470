/**
 * Issue 17 (6/7), upgrades: a database of the previous release (the migrations of commit f77e304, kept in
 * tests/fixtures/migrations-f77e304) filled with data is opened by today's server, which migrates it and keeps
 * everything; a database a newer server wrote (a migration this one does not have) is refused with a sentence.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { afterEach, expect, it } from 'vitest';
import { testConfig } from '../server/config.js';
import { createServer } from '../server/create-server.js';
import { NewerDatabaseError, openDatabase, readMigrations } from '../server/db/open-database.js';
import { seedReferenceData } from '../server/db/seed.js';
import { registerDevice } from '../server/registry/devices-repo.js';
import { connectDevice } from '../server/testing/test-server.js';

const PREVIOUS_RELEASE = join(import.meta.dirname, 'fixtures/migrations-f77e304');
let dir: string;
afterEach(() => rmSync(dir, { recursive: true, force: true }));

/**
 * The previous release seeded the same Gia Lai sites and plan. Today's seed writes columns the old schema lacks
 * (coordinates' precision…), so the reference rows are made by today's seed in a scratch database and copied
 * over column by column where the old schema has them.
 */
function seedAsThePreviousReleaseDid(old: BetterSqlite3.Database, scratchFile: string): void {
  const fresh = openDatabase(scratchFile);
  seedReferenceData(fresh);
  const tables = fresh
    .prepare(`SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name <> 'schema_migrations'`)
    .pluck()
    .all() as string[];
  const filled = tables.filter((t) => (fresh.prepare(`SELECT count(*) FROM "${t}"`).pluck().get() as number) > 0);
  fresh.close();
  const columns = (db: BetterSqlite3.Database, schema: string, table: string) =>
    (db.prepare(`PRAGMA ${schema}.table_info("${table}")`).all() as Array<{ name: string }>).map((c) => c.name);
  old.pragma('foreign_keys = OFF');
  old.prepare('ATTACH DATABASE ? AS fresh').run(scratchFile);
  for (const table of filled) {
    const oldColumns = new Set(columns(old, 'main', table));
    if (oldColumns.size === 0) continue;
    const common = columns(old, 'fresh', table)
      .filter((c) => oldColumns.has(c))
      .map((c) => `"${c}"`)
      .join(', ');
    old.exec(`INSERT OR IGNORE INTO main."${table}" (${common}) SELECT ${common} FROM fresh."${table}"`);
  }
  old.exec('DETACH DATABASE fresh');
  old.pragma('foreign_keys = ON');
}

it('opens the previous release’s database with today’s code: migrated, data kept, devices still accepted', async () => {
  dir = mkdtempSync(join(tmpdir(), 'ops-upgrade-'));
  const dataDir = join(dir, 'data');
  mkdirSync(dataDir);
  const file = join(dataDir, 'fleet.db');
  const db = openDatabase(file, { migrationsDir: PREVIOUS_RELEASE });
  expect(db.prepare('SELECT name FROM schema_migrations').pluck().all()).not.toContain('004-ingest-idempotent.sql');
  seedAsThePreviousReleaseDid(db, join(dir, 'fresh.db'));
  const secret = 'secret-of-kiosk-old-0123456789';
  registerDevice(db, { id: 'kiosk-old', secret, siteId: 'gl-c-iao' });
  const insertHealth = db.prepare(
    `INSERT INTO health (device_id, seq, device_ts, received_ts, cpu_load, mem_used, disk_used, disk_free, temp_c, uptime_s,
       content_seq, queue_depth) VALUES ('kiosk-old', ?, ?, ?, 10, 20, 30, 1000, NULL, 60, 1, 0)`,
  );
  const now = Date.now();
  db.transaction(() => {
    for (let seq = 1; seq <= 500; seq++) insertHealth.run(seq, now - 10_000 + seq, now - 10_000 + seq);
  })();
  db.prepare(
    `INSERT INTO device_events (device_id, ts, received_ts, source, type, severity, message)
     VALUES ('kiosk-old', ?, ?, 'device', 'boot', 'info', 'started')`,
  ).run(now - 5000, now - 5000);
  db.prepare(
    `INSERT INTO audit (ts, actor, action, target, detail) VALUES (?, 'admin', 'device.register', 'kiosk-old', NULL)`,
  ).run(now);
  const counts = (d: BetterSqlite3.Database) =>
    Object.fromEntries(
      ['devices', 'health', 'device_events', 'audit', 'sites', 'plans'].map((t) => [
        t,
        d.prepare(`SELECT count(*) FROM ${t}`).pluck().get(),
      ]),
    );
  const before = counts(db);
  db.close();

  const server = await createServer(testConfig({ DATA_DIR: dataDir, ADMIN_PASSWORD: 'admin-password-for-tests' }));
  try {
    const applied = server.db.prepare('SELECT name FROM schema_migrations ORDER BY version').pluck().all();
    expect(applied).toEqual(readMigrations().map((m) => m.name));
    const after = counts(server.db);
    // The admin the new start created is one more audit row at most; everything that was there is still there.
    expect({ ...after, audit: before.audit }).toEqual(before);
    expect(after.audit).toBeGreaterThanOrEqual(before.audit as number);
    expect(server.db.prepare(`SELECT count(*) FROM health WHERE device_id = 'kiosk-old' AND series = 0`).pluck().get()).toBe(500);
    // The kiosk enrolled under the previous release connects with its credentials.
    const client = await connectDevice(server.mqttUrl, 'kiosk-old', secret);
    await client.endAsync();
  } finally {
    await server.close();
  }
}, 60_000);

it('refuses a database written by a newer version, naming the migrations it does not know', async () => {
  dir = mkdtempSync(join(tmpdir(), 'ops-newer-'));
  const dataDir = join(dir, 'data');
  mkdirSync(dataDir);
  const db = openDatabase(join(dataDir, 'fleet.db'));
  const newest = readMigrations().at(-1)?.version ?? 0;
  db.prepare('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)').run(
    999,
    '999-from-the-future.sql',
    Date.now(),
  );
  db.close();
  expect(newest).toBeLessThan(999);

  const attempt = createServer(testConfig({ DATA_DIR: dataDir }));
  await expect(attempt).rejects.toBeInstanceOf(NewerDatabaseError);
  await expect(attempt).rejects.toThrow(
    /written by a newer version of the server: it records migration 999-from-the-future\.sql, which this version \(migrations up to \d{3}\) does not have/,
  );
  // Nothing was changed by the refused start.
  const check = new BetterSqlite3(join(dataDir, 'fleet.db'), { readonly: true });
  expect(check.prepare('SELECT max(version) FROM schema_migrations').pluck().get()).toBe(999);
  check.close();

  // `npm start` says it in one line and exits 1.
  const started = spawnSync(process.execPath, ['--import', 'tsx', 'server/main.ts'], {
    cwd: join(import.meta.dirname, '..'),
    env: {
      ...process.env,
      DATA_DIR: dataDir,
      HTTP_PORT: '0',
      MQTT_PORT: '0',
      HTTPS_PORT: '0',
      MQTTS_PORT: '0',
      LOG_LEVEL: 'silent',
    },
    encoding: 'utf8',
    timeout: 30_000,
  });
  expect(started.status).toBe(1);
  expect(started.stderr.trim()).toMatch(/^The server could not start: the database was written by a newer version of the server/);
  expect(started.stderr.trim().split('\n')).toHaveLength(1);
}, 60_000);
