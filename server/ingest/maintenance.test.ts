import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { insertCommand } from '../commands/commands-repo.js';
import { type Database, openDatabase } from '../db/open-database.js';
import { registerDevice } from '../registry/devices-repo.js';
import { createMaintenance, ROLLUP_GRACE_MS, ROLLUP_HOURS_PER_RUN } from './maintenance.js';

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

const OPTIONS = { intervalMs: 60_000, retentionMs: 30 * DAY, offlineAfterMs: DAY };

/**
 * `count` samples over three complete hours before `now`'s hour and the current one, for five devices in a mixed
 * order, several per millisecond, a third of them without a temperature; returns them as stored.
 */
function seedHours(now: number, count: number) {
  const insert = db.prepare(
    `INSERT INTO health (device_id, seq, device_ts, received_ts, cpu_load, mem_used, disk_used, disk_free, temp_c, uptime_s, content_seq, queue_depth)
     VALUES (@deviceId, @seq, @ts, @ts, @cpu, @mem, @disk, @free, @temp, 10, 1, 0)`,
  );
  const start = Math.floor(now / HOUR) * HOUR - 3 * HOUR;
  const span = now - start;
  const rows = Array.from({ length: count }, (_, i) => ({
    deviceId: `k${(i * 7) % 5}`,
    seq: i + 1,
    // Three consecutive samples share each millisecond (one message's samples share their received_ts).
    ts: start + Math.floor((Math.floor(i / 3) * 3 * span) / count),
    cpu: (i * 37) % 100,
    mem: (i * 53) % 100,
    disk: (i * 11) % 100,
    free: 1000 + ((i * 13) % 500),
    temp: i % 3 === 0 ? null : 30 + (i % 40),
  }));
  for (const row of rows) insert.run(row);
  return rows;
}

/** health_hourly holds, for every complete hour before `now`'s, the figures of one pass over its samples. */
function expectRolledUp(rows: ReturnType<typeof seedHours>, now: number) {
  const groups = new Map<string, ReturnType<typeof seedHours>>();
  for (const row of rows) {
    const hour = Math.floor(row.ts / HOUR) * HOUR;
    if (hour >= Math.floor(now / HOUR) * HOUR) continue;
    const key = `${row.deviceId} ${hour}`;
    groups.set(key, [...(groups.get(key) ?? []), row]);
  }
  const stored = db
    .prepare(
      `SELECT device_id AS deviceId, hour, samples, cpu_avg AS cpuAvg, cpu_max AS cpuMax, mem_avg AS memAvg, mem_max AS memMax,
         disk_used_max AS diskMax, disk_free_min AS freeMin, temp_max AS tempMax FROM health_hourly ORDER BY device_id, hour`,
    )
    .all() as Array<Record<string, number | string | null>>;
  expect(stored.map((r) => `${r.deviceId} ${r.hour}`)).toEqual([...groups.keys()].sort());
  for (const r of stored) {
    const of = groups.get(`${r.deviceId} ${r.hour}`) ?? [];
    const avg = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
    const temps = of.map((x) => x.temp).filter((t): t is number => t !== null);
    expect(r.samples).toBe(of.length);
    expect(r.cpuAvg).toBeCloseTo(avg(of.map((x) => x.cpu)), 9);
    expect(r.memAvg).toBeCloseTo(avg(of.map((x) => x.mem)), 9);
    expect(r.cpuMax).toBe(Math.max(...of.map((x) => x.cpu)));
    expect(r.memMax).toBe(Math.max(...of.map((x) => x.mem)));
    expect(r.diskMax).toBe(Math.max(...of.map((x) => x.disk)));
    expect(r.freeMin).toBe(Math.min(...of.map((x) => x.free)));
    expect(r.tempMax).toBe(temps.length ? Math.max(...temps) : null);
  }
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

  it('rolls up an hour only ROLLUP_GRACE_MS after its end, with the samples received in it but committed late', () => {
    db = openDatabase(':memory:');
    const hour = Date.UTC(2026, 10, 23, 11);
    const m = createMaintenance(db, OPTIONS, pino({ level: 'silent' }));
    insertHealth('k1', 1, hour + 30 * 60_000, 10);
    // Two minutes after the hour: not rolled up yet, and a sample received in its last second is committed now.
    expect(m.runOnce(hour + HOUR + 2 * 60_000).rolledUp).toBe(0);
    insertHealth('k1', 2, hour + HOUR - 1000, 30);
    expect(m.runOnce(hour + HOUR + ROLLUP_GRACE_MS - 1).rolledUp).toBe(0);
    expect(m.runOnce(hour + HOUR + ROLLUP_GRACE_MS).rolledUp).toBe(1);
    expect(db.prepare('SELECT hour, samples, cpu_avg AS cpu FROM health_hourly').all()).toEqual([{ hour, samples: 2, cpu: 20 }]);
  });

  it('catches a backlog of hours up over several runs, ROLLUP_HOURS_PER_RUN at a time', () => {
    db = openDatabase(':memory:');
    const first = Date.UTC(2026, 10, 20);
    const backlog = ROLLUP_HOURS_PER_RUN + 6;
    for (let h = 0; h < backlog; h++) insertHealth('k1', h + 1, first + h * HOUR + 60_000, h);
    const m = createMaintenance(db, OPTIONS, pino({ level: 'silent' }));
    const now = first + backlog * HOUR + ROLLUP_GRACE_MS;
    expect(m.runOnce(now).rolledUp).toBe(ROLLUP_HOURS_PER_RUN);
    expect(m.runOnce(now).rolledUp).toBe(6);
    expect(m.runOnce(now).rolledUp).toBe(0);
    expect(db.prepare('SELECT count(*) FROM health_hourly').pluck().get()).toBe(backlog);
  });

  it('rolls up an hour in slices to exactly what one pass over it gives', () => {
    db = openDatabase(':memory:');
    const now = Date.UTC(2026, 10, 23, 12, 30);
    const rows = seedHours(now, 400);
    const m = createMaintenance(db, { ...OPTIONS, stepRows: 7 }, pino({ level: 'silent' }));
    const first = m.runOnce(now);
    expect(first.deleted).toBe(0);
    expectRolledUp(rows, now);
    // Nothing is rolled up twice by a later run.
    m.runOnce(now + 60_000);
    expectRolledUp(rows, now);
  });

  it("lets the event loop run between the timer run's steps", async () => {
    db = openDatabase(':memory:');
    const now = Date.UTC(2026, 10, 23, 12, 30);
    const rows = seedHours(now, 300);
    // Every turn of the event loop counts while the run is under way.
    let turns = 0;
    let running = true;
    const turn = () => {
      turns++;
      if (running) setImmediate(turn);
    };
    setImmediate(turn);
    // Retention passed for every rolled-up row: they are deleted in the same run, 10 at a time too.
    const m = createMaintenance(db, { ...OPTIONS, retentionMs: 1, stepRows: 10 }, pino({ level: 'silent' }));
    const result = await m.runYielding(now);
    running = false;
    const past = rows.filter((r) => r.ts < Math.floor(now / HOUR) * HOUR).length;
    expect(result?.deleted).toBe(past);
    // A read slice per 10 rows of the complete hours and a delete chunk per 10 of them; the loop turned between.
    expect(turns).toBeGreaterThanOrEqual(2 * Math.ceil(past / 10) - 2);
    expectRolledUp(rows, now);
  });

  it('a run stopped at any point between two of its steps is completed by the next, nothing lost or doubled', async () => {
    const now = Date.UTC(2026, 10, 23, 12, 30);
    // Small steps (4 rows read or 2 devices written at a time) and a stop after each possible number of them: the
    // last stop points fall past the end (the run completes). The next run (a restart) completes the work.
    let stopsInsideAnHour = 0;
    let completed = false;
    for (let turns = 0; turns < 200; turns++) {
      db?.close();
      db = openDatabase(':memory:');
      const rows = seedHours(now, 120);
      const m = createMaintenance(db, { ...OPTIONS, stepRows: 2 }, pino({ level: 'silent' }));
      const run = m.runYielding(now);
      for (let i = 0; i < turns; i++) await new Promise((resolve) => setImmediate(resolve));
      m.stop();
      const result = await run;
      const until = Number(db.prepare("SELECT value FROM server_state WHERE key = 'health_rollup_until'").pluck().get() ?? 0);
      const written = db.prepare('SELECT count(*) FROM health_hourly WHERE hour >= ?').pluck().get(until) as number;
      if (result === null && written > 0) stopsInsideAnHour++;
      createMaintenance(db, OPTIONS, pino({ level: 'silent' })).runOnce(now);
      expectRolledUp(rows, now);
      completed = result !== null;
      if (completed) break;
    }
    // Some stops fell between two write transactions of one hour (part of its rows written, the hour not done),
    // and the stop points went past the run's end.
    expect(stopsInsideAnHour).toBeGreaterThan(0);
    expect(completed).toBe(true);
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
