/**
 * Issue 17 (6/7), retention: hourly roll-ups, events and audit records past HEALTH_HOURLY_RETENTION,
 * EVENTS_RETENTION and AUDIT_RETENTION are deleted by the maintenance job, the younger ones kept; 0 keeps all.
 */
import { pino } from 'pino';
import { expect, it } from 'vitest';
import { loadConfig } from '../server/config.js';
import { openDatabase } from '../server/db/open-database.js';
import { seedReferenceData } from '../server/db/seed.js';
import { createMaintenance } from '../server/ingest/maintenance.js';
import { registerDevice } from '../server/registry/devices-repo.js';

const DAY = 86_400_000;

function fill(now: number) {
  const db = openDatabase(':memory:');
  seedReferenceData(db);
  registerDevice(db, { id: 'k1', secret: 'secret-of-k1-0123456789', siteId: 'gl-c-iao' });
  const hourly = db.prepare(`INSERT INTO health_hourly (device_id, hour, samples) VALUES ('k1', ?, 1)`);
  const event = db.prepare(
    `INSERT INTO device_events (device_id, ts, received_ts, source, type, severity, message) VALUES ('k1', ?, ?, 'device', 'x', 'info', ?)`,
  );
  const audit = db.prepare(`INSERT INTO audit (ts, actor, action) VALUES (?, 'admin', 'x')`);
  for (const age of [800, 400, 10]) {
    hourly.run(now - age * DAY);
    event.run(now - age * DAY, now - age * DAY, `age ${age}`);
    audit.run(now - age * DAY);
  }
  return db;
}

it('deletes roll-ups, events and audit records past their retention, keeps the rest; 0 keeps everything', () => {
  const now = Date.now();
  const config = loadConfig({});
  expect(config).toMatchObject({ HEALTH_HOURLY_RETENTION: 730 * DAY, EVENTS_RETENTION: 365 * DAY, AUDIT_RETENTION: 1825 * DAY });
  const db = fill(now);
  const options = {
    intervalMs: 60_000,
    retentionMs: 30 * DAY,
    offlineAfterMs: DAY,
    contentRoot: null,
    hourlyRetentionMs: config.HEALTH_HOURLY_RETENTION,
    eventsRetentionMs: config.EVENTS_RETENTION,
    auditRetentionMs: 300 * DAY,
  };
  const m = createMaintenance(db, options, pino({ level: 'silent' }));
  expect(m.runOnce(now).retention).toEqual({ hourly: 1, events: 2, audit: 2 });
  expect(db.prepare('SELECT count(*) FROM health_hourly').pluck().get()).toBe(2);
  expect(db.prepare('SELECT message FROM device_events').pluck().all()).toEqual(['age 10']);
  expect(db.prepare('SELECT count(*) FROM audit').pluck().get()).toBe(1);
  // Hourly at most: a second run within the hour does not walk the tables again.
  expect(m.runOnce(now + 1000).retention).toEqual({ hourly: 0, events: 0, audit: 0 });

  const kept = fill(now);
  const none = createMaintenance(
    kept,
    { ...options, hourlyRetentionMs: 0, eventsRetentionMs: 0, auditRetentionMs: 0 },
    pino({ level: 'silent' }),
  );
  expect(none.applyLongRetention(now)).toEqual({ hourly: 0, events: 0, audit: 0 });
  expect(kept.prepare('SELECT count(*) FROM audit').pluck().get()).toBe(3);
});
