import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { insertCommand } from '../commands/commands-repo.js';
import { type Database, openDatabase } from '../db/open-database.js';
import { registerDevice } from '../registry/devices-repo.js';
import { createMaintenance } from './maintenance.js';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
let db: Database;
afterEach(() => db?.close());

function insertHealth(deviceId: string, seq: number, receivedTs: number, cpu: number) {
  db.prepare(
    `INSERT INTO health (device_id, seq, device_ts, received_ts, cpu_load, mem_used, disk_used, disk_free, temp_c, uptime_s, content_seq, queue_depth)
     VALUES (?, ?, ?, ?, ?, 50, 40, 1000, 45, 10, 1, 0)`,
  ).run(deviceId, seq, receivedTs, receivedTs, cpu);
}

describe('maintenance', () => {
  it('rolls up complete hours once, deletes raw rows past retention (only rolled-up ones), keeps roll-ups', () => {
    db = openDatabase(':memory:');
    const now = Date.UTC(2026, 10, 23, 12, 30);
    const m = createMaintenance(
      db,
      { intervalMs: 60_000, retentionMs: 30 * DAY, offlineAfterMs: DAY },
      pino({ level: 'silent' }),
    );
    const old = now - 31 * DAY; // a sample past retention
    insertHealth('k1', 1, Math.floor(old / HOUR) * HOUR + 60_000, 10);
    insertHealth('k1', 2, Math.floor(old / HOUR) * HOUR + 120_000, 30);
    insertHealth('k1', 3, now - 2 * HOUR, 50);
    insertHealth('k1', 4, now - 60_000, 70); // the current hour: not rolled up yet

    const first = m.runOnce(now);
    expect(first.deleted).toBe(2);
    const hours = db.prepare('SELECT hour, samples, cpu_avg AS cpu, cpu_max AS max FROM health_hourly ORDER BY hour').all();
    expect(hours).toEqual([
      { hour: Math.floor(old / HOUR) * HOUR, samples: 2, cpu: 20, max: 30 },
      { hour: Math.floor((now - 2 * HOUR) / HOUR) * HOUR, samples: 1, cpu: 50, max: 50 },
    ]);
    expect(db.prepare('SELECT seq FROM health ORDER BY seq').pluck().all()).toEqual([3, 4]);

    // An hour later the current hour is complete and rolled up too; earlier hours are not redone.
    const second = m.runOnce(now + HOUR);
    expect(second.rolledUp).toBe(1);
    expect(db.prepare('SELECT count(*) FROM health_hourly').pluck().get()).toBe(3);
  });

  it('marks silent devices offline and expires commands past their TTL', () => {
    db = openDatabase(':memory:');
    const now = 10 * DAY;
    registerDevice(db, { id: 'quiet', secret: 'x'.repeat(20) });
    registerDevice(db, { id: 'chatty', secret: 'y'.repeat(20) });
    db.prepare('UPDATE devices SET online = 1, last_seen = ? WHERE id = ?').run(now - 2 * DAY, 'quiet');
    db.prepare('UPDATE devices SET online = 1, last_seen = ? WHERE id = ?').run(now - 60_000, 'chatty');
    insertCommand(db, {
      id: 'c1',
      deviceId: 'quiet',
      type: 'sync_now',
      params: {},
      createdBy: 'admin',
      createdAt: now - DAY - 1,
      expiresAt: now - 1,
    });
    insertCommand(db, {
      id: 'c2',
      deviceId: 'quiet',
      type: 'sync_now',
      params: {},
      createdBy: 'admin',
      createdAt: now,
      expiresAt: now + DAY,
    });
    const m = createMaintenance(
      db,
      { intervalMs: 60_000, retentionMs: 30 * DAY, offlineAfterMs: DAY },
      pino({ level: 'silent' }),
    );
    expect(m.runOnce(now)).toMatchObject({ markedOffline: 1, expiredCommands: 1 });
    expect(db.prepare('SELECT id, online FROM devices ORDER BY id').all()).toEqual([
      { id: 'chatty', online: 1 },
      { id: 'quiet', online: 0 },
    ]);
    expect(db.prepare('SELECT id, status FROM commands ORDER BY id').all()).toEqual([
      { id: 'c1', status: 'expired' },
      { id: 'c2', status: 'queued' },
    ]);
  });
});
