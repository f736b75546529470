/**
 * The backup CLI's case: a backup on a connection of its own while another connection — here a worker thread, as
 * the running server is another process — commits every few milliseconds. SQLite restarts such a backup at the
 * next step after any commit by another connection; copied 100 pages a step, it never ended.
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import BetterSqlite3 from 'better-sqlite3';
import { afterEach, expect, it } from 'vitest';
import { openDatabase } from '../db/open-database.js';
import { runBackup } from './backup.js';

let cleanups: Array<() => unknown> = [];
afterEach(async () => {
  for (const c of cleanups.reverse()) await c();
  cleanups = [];
});

/** Commits one row every `everyMs` on its own connection until terminated; posts 'started' after the first. */
const WRITER = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.betterSqlite3);
const db = new Database(workerData.file);
db.pragma('synchronous = OFF'); // steady commits, no fsync wait between them
const insert = db.prepare('INSERT INTO notes (n) VALUES (?)');
let n = 0;
insert.run(++n);
parentPort.postMessage('started');
setInterval(() => insert.run(++n), workerData.everyMs);
`;

it('a backup on its own connection ends while another connection commits every 2 ms, and holds what was there', async () => {
  const root = mkdtempSync(join(tmpdir(), 'backup-own-connection-'));
  cleanups.push(() => rmSync(root, { recursive: true, force: true }));
  const dataDir = join(root, 'data');
  mkdirSync(dataDir);
  const file = join(dataDir, 'fleet.db');
  const db = openDatabase(file);
  db.exec('CREATE TABLE bulk (b BLOB); CREATE TABLE notes (n INTEGER)');
  // ~30 MiB: about 7 500 pages, 75 steps of 100 pages.
  db.transaction(() => {
    const insert = db.prepare('INSERT INTO bulk VALUES (randomblob(4000))');
    for (let i = 0; i < 7_500; i++) insert.run();
  })();
  db.close();

  const writer = new Worker(WRITER, {
    eval: true,
    workerData: { file, everyMs: 2, betterSqlite3: createRequire(import.meta.url).resolve('better-sqlite3') },
  });
  cleanups.push(() => writer.terminate());
  await new Promise((resolve) => writer.once('message', resolve));

  const result = await Promise.race([
    runBackup({ dataDir, backupDir: join(root, 'backups') }),
    new Promise<null>((resolve) => setTimeout(() => resolve(null), 20_000)),
  ]);
  expect(result, 'the backup ended within 20 s').not.toBeNull();
  const copy = new BetterSqlite3(join(result?.path as string, 'fleet.db'), { readonly: true });
  cleanups.push(() => {
    copy.close();
  });
  expect(copy.prepare('SELECT count(*) FROM bulk').pluck().get()).toBe(7_500);
  expect(copy.prepare('SELECT count(*) FROM notes').pluck().get()).toBeGreaterThanOrEqual(1);
}, 60_000);
