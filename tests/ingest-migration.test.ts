/**
 * Issue 1/7: migration 004 on a database written before it, with the duplicates the old ingest stored (an
 * event resent after a lost PUBACK stored twice): it migrates in one go, keeps every health row (series 0),
 * keeps the first of each duplicate event and leaves server events without a device time alone.
 */
import { copyFileSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, expect, it } from 'vitest';
import { migrate, openDatabase, readMigrations } from '../server/db/open-database.js';
import { seedReferenceData } from '../server/db/seed.js';
import { createDeviceDataRepo } from '../server/ingest/device-data-repo.js';
import { registerDevice } from '../server/registry/devices-repo.js';

const MIGRATIONS = join(import.meta.dirname, '../server/db/migrations');
let dir: string;
afterEach(() => rmSync(dir, { recursive: true, force: true }));

it('migrates a database with duplicate events and health rows cleanly', () => {
  dir = mkdtempSync(join(tmpdir(), 'ingest-migration-'));
  // The schema as it was before migration 004: every migration file but the new ones of this change.
  const before = join(dir, 'migrations-before');
  mkdirSync(before);
  const all = readMigrations(MIGRATIONS);
  // (308 builds on 004's health.series, so it comes after it here too.)
  const isNew = (name: string) => name.startsWith('004-') || name.startsWith('308-');
  for (const m of all) if (!isNew(m.name)) copyFileSync(join(MIGRATIONS, m.name), join(before, m.name));

  const file = join(dir, 'fleet.db');
  const db = openDatabase(file, { migrationsDir: before });
  seedReferenceData(db);
  registerDevice(db, { id: 'k1', secret: 'secret-of-k1-0123456789', siteId: 'gl-c-iao' });
  const insertHealth = db.prepare(
    `INSERT INTO health (device_id, seq, device_ts, received_ts, cpu_load, mem_used, disk_used, disk_free, temp_c, uptime_s,
       content_seq, queue_depth) VALUES (?, ?, ?, ?, 10, 20, 30, 1000, NULL, ?, 1, 0)`,
  );
  for (let seq = 1; seq <= 50; seq++) insertHealth.run('k1', seq, 1_000 + seq, 2_000 + seq, seq * 60);
  insertHealth.run('k2', 1, 5, 6, 60);
  const insertEvent = db.prepare(
    'INSERT INTO device_events (device_id, ts, received_ts, source, type, severity, message) VALUES (?, ?, ?, ?, ?, ?, ?)',
  );
  insertEvent.run('k1', 100, 200, 'device', 'disk_full', 'critical', 'no space'); // id 1
  insertEvent.run('k1', 100, 300, 'device', 'disk_full', 'critical', 'no space'); // id 2: the resend
  insertEvent.run('k1', 100, 301, 'device', 'disk_full', 'critical', 'no space'); // id 3: again
  insertEvent.run('k1', 101, 400, 'device', 'disk_full', 'critical', 'no space'); // id 4: another moment
  insertEvent.run('k1', null, 500, 'server', 'note', 'warning', 'same'); // ids 5, 6: no device time
  insertEvent.run('k1', null, 501, 'server', 'note', 'warning', 'same');
  db.prepare(
    `INSERT INTO device_sync (device_id, manifest_seq, state, bytes, missing, error, failures, updated_at)
     VALUES ('k1', 2, 'failed', 0, 0, 'x', 2, 900)`,
  ).run();
  const healthBefore = db.prepare('SELECT * FROM health ORDER BY device_id, seq').all();
  expect(migrate(db, all)).toEqual(['004-ingest-idempotent.sql', '308-dashboard-alert-state.sql']);

  expect(db.prepare('SELECT id FROM device_events ORDER BY id').pluck().all()).toEqual([1, 4, 5, 6]);
  const healthAfter = db.prepare('SELECT * FROM health ORDER BY device_id, seq').all() as Record<string, unknown>[];
  expect(healthAfter.map(({ series, ...rest }) => rest)).toEqual(healthBefore);
  expect(new Set(healthAfter.map((r) => r.series))).toEqual(new Set([0]));
  expect(db.prepare("SELECT count(*) FROM sqlite_master WHERE type = 'index' AND name = 'health_received'").pluck().get()).toBe(
    1,
  );
  expect(db.prepare("SELECT failures, report_ts AS ts FROM device_sync WHERE device_id = 'k1'").get()).toEqual({
    failures: 2,
    ts: null,
  });
  expect(db.pragma('integrity_check', { simple: true })).toBe('ok');
  expect(db.pragma('foreign_key_check')).toEqual([]);

  // The migrated database works as a new one: a resend is a no-op, a new sample appends.
  const repo = createDeviceDataRepo(db);
  repo.event('k1', 'device', { type: 'disk_full', severity: 'critical', message: 'no space', ts: 100 }, 600);
  expect(db.prepare("SELECT count(*) FROM device_events WHERE device_id = 'k1'").pluck().get()).toBe(4);
  const resent = { seq: 50, ts: 1_050, cpuLoad: 10, memUsed: 20, diskUsed: 30, diskFree: 1000, tempC: null, uptimeS: 3000 };
  const fresh = { ...resent, seq: 51, ts: 1_051, uptimeS: 3060 };
  expect(
    repo.insertHealth(
      'k1',
      [
        { ...resent, contentSeq: 1, queueDepth: 0 },
        { ...fresh, contentSeq: 1, queueDepth: 0 },
      ],
      9_000,
    ),
  ).toBe(1);
  db.close();
  // Reopened with the real migrations directory: nothing left to apply.
  const again = openDatabase(file);
  expect(migrate(again)).toEqual([]);
  again.close();
});
