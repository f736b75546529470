/**
 * "Back up now" on a real database file while a backup is under way: the answer must hold what was committed
 * before the call (tests/ops-restore-stack.test.ts lost its kiosk this way under load: the backup it asked for
 * after the enrollment was the one the schedule had started at boot, before it).
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { pino } from 'pino';
import { afterEach, expect, it } from 'vitest';
import { openDatabase } from '../db/open-database.js';
import { createServerMetrics } from '../http/metrics.js';
import { createBackupSchedule } from './schedule.js';

let dirs: string[] = [];
afterEach(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
  dirs = [];
});

function setUp() {
  const root = mkdtempSync(join(tmpdir(), 'backup-schedule-'));
  dirs.push(root);
  const dataDir = join(root, 'data');
  mkdirSync(dataDir);
  const db = openDatabase(join(dataDir, 'fleet.db'));
  db.exec('CREATE TABLE notes (n INTEGER)');
  const schedule = createBackupSchedule({
    db,
    dataDir,
    backupDir: join(root, 'backups'),
    intervalMs: 86_400_000,
    retention: { count: 10 },
    metrics: createServerMetrics(),
    log: pino({ level: 'silent' }),
  });
  const notesIn = (path: string) => {
    const copy = new BetterSqlite3(join(path, 'fleet.db'), { readonly: true });
    try {
      return copy.prepare('SELECT n FROM notes ORDER BY n').pluck().all();
    } finally {
      copy.close();
    }
  };
  return { db, schedule, notesIn };
}

it('a backup asked for while one runs is a new one, started after it, holding what was committed before the call', async () => {
  const { db, schedule, notesIn } = setUp();
  // Observes (and calls) the real copy: resolves once the first backup has copied the database.
  const backup = db.backup.bind(db);
  const copied = new Promise<void>((resolve) => {
    db.backup = async (...args: Parameters<typeof backup>) => {
      const result = await backup(...args);
      resolve();
      return result;
    };
  });
  db.prepare('INSERT INTO notes VALUES (1)').run();
  const first = schedule.runNow();
  await copied; // the first is still under way (its integrity check, its hashes), its copy made
  db.prepare('INSERT INTO notes VALUES (2)').run();
  const second = schedule.runNow();
  const third = schedule.runNow(); // asked for meanwhile too: shares the second
  const [a, b, c] = await Promise.all([first, second, third]);
  expect(notesIn(a.path)).toEqual([1]);
  expect(b.path).not.toBe(a.path);
  expect(notesIn(b.path)).toEqual([1, 2]);
  expect(c.path).toBe(b.path);
  expect(Date.parse(b.manifest.createdAt)).toBeGreaterThanOrEqual(Date.parse(a.manifest.finishedAt));
  await schedule.stop();
  db.close();
});

it('after the backup under way, the next call starts one of its own', async () => {
  const { db, schedule, notesIn } = setUp();
  const a = await schedule.runNow();
  db.prepare('INSERT INTO notes VALUES (3)').run();
  const b = await schedule.runNow();
  expect(b.path).not.toBe(a.path);
  expect(notesIn(b.path)).toEqual([3]);
  await schedule.stop();
  db.close();
});
