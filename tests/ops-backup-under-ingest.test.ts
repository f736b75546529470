/**
 * An online backup taken while the server ingests at a high rate (server/backup/backup.ts, docs/deployment.md
 * "Backup and restore"). A real server in this process (aedes, a SQLite file in WAL mode, the checkpointer worker
 * thread running its PASSIVE checkpoints every second on its own connection, the ingest's fdatasync on the thread
 * pool), 200 registered devices publishing QoS 1 health over real mqtt.js TCP connections as fast as their
 * PUBACKs allow (a bounded in-flight window each; in their own process, tests/helpers/health-publishers.ts, which
 * reports each PUBACK after it came), and two or three `server.backup()` calls (SQLite's online backup API on the
 * server's main connection) while they publish. Each backup must be checked, sound, and hold every sample
 * acknowledged before it started, once; afterwards the live database holds every acknowledged sample, once.
 */
import { type ChildProcess, fork } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { pino } from 'pino';
import { afterAll, expect, it } from 'vitest';
import type { BackupResult } from '../server/backup/backup.js';
import { verifyBackup } from '../server/backup/restore.js';
import { testConfig } from '../server/config.js';
import { createServer, type RunningServer } from '../server/create-server.js';
import { WAL_BOUND_PAGES } from '../server/ingest/checkpointer.js';
import { addDevice, TEST_ADMIN_PASSWORD } from '../server/testing/test-server.js';

const DEVICES = 200;
/** PUBACKs a device may wait for at once. */
const WINDOW = 1;
const SAMPLES_PER_PUBLISH = 5;
/** Bounds of the load: at most this long, at most this many publishes per device. */
const LOAD_MAX_MS = 20_000;
const PUBLISHES_PER_DEVICE_MAX = 1_000;
/** Backups taken while the devices publish: up to 3, at least 2; no third one started after 60 % of the load's bound. */
const BACKUPS = 3;
const BACKUPS_MIN = 2;
/** Health rows already there (other devices, older days), so each database copy spans many backup steps. */
const PREFILLED = 100_000;
/** Load before the first backup, and between one backup's end and the next one's start. */
const BACKUP_GAP_MS = 250;

const PUBLISHERS = join(import.meta.dirname, 'helpers', 'health-publishers.ts');
type FromPublishers =
  | { type: 'connected' }
  | { type: 'acked'; runs: Array<[number, number, number]> }
  | { type: 'done'; failures: string[]; ms: number };

const root = mkdtempSync(join(tmpdir(), 'ops-backup-load-'));
const dataDir = join(root, 'data');
const backupDir = join(root, 'backups');
const logs: Array<{ level: number; msg?: string; [key: string]: unknown }> = [];
let publishers: ChildProcess | null = null;
let server: RunningServer | null = null;

afterAll(async () => {
  if (publishers && publishers.exitCode === null) publishers.kill('SIGKILL');
  await server?.close();
  rmSync(root, { recursive: true, force: true });
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function metric(name: string): Promise<number> {
  const text = await (await fetch(`${server?.httpUrl}/metrics`)).text();
  const value = new RegExp(`^${name} (\\S+)$`, 'm').exec(text)?.[1];
  if (value === undefined) throw new Error(`${name} is not in /metrics`);
  return Number(value);
}

interface Taken {
  result: BackupResult;
  /** How many entries of `acked` (in PUBACK order) were known when the backup was started. */
  ackedBefore: number;
  /** PUBACKs that came in while the backup ran. */
  ackedDuring: number;
  /** How long SQLite's online backup of fleet.db took (the rest is the integrity check, hashing, content). */
  copyMs: number;
  /** Rows the server's connection wrote (total_changes) and PUBACKs seen while that copy ran. */
  rowsDuringCopy: number;
  ackedDuringCopy: number;
  /** Group commits (and samples) between the /metrics reads just before and just after the backup. */
  commitsDuring: number;
  samplesCommittedDuring: number;
  ms: number;
}

it('backups taken while 200 devices publish QoS 1 health hold every sample acknowledged before they started', async () => {
  server = await createServer(
    testConfig({
      DATA_DIR: dataDir,
      ADMIN_PASSWORD: TEST_ADMIN_PASSWORD,
      BACKUP_DIR: backupDir,
      BACKUP_INTERVAL: '24h',
      BACKUP_RETENTION: '10',
    } as never),
    {
      // Everything at warn and above is kept: a checkpointer that fell back, a failed backup or commit is seen.
      logger: pino({ level: 'warn' }, { write: (line: string) => void logs.push(JSON.parse(line)) }),
    },
  );
  const s = server;
  // The checkpointer thread started: the server's connection raised its autocheckpoint to the thread's bound.
  expect(s.db.pragma('wal_autocheckpoint', { simple: true }), 'the checkpointer worker thread runs').toBe(WAL_BOUND_PAGES);
  // With no backup yet the schedule takes one at start (the server idle); wait for it so it is not one of ours.
  await s.backup();
  // Every sample acknowledged, as "device:seq", in the order the PUBACKs came.
  const acked: string[] = [];
  // Observation only: how long each backup's database copy takes (`db.backup()`, the step that runs alongside
  // the ingest's commits on the same connection).
  const copyPhase = { ms: 0, rows: 0, acked: 0 };
  const totalChanges = s.db.prepare('SELECT total_changes()').pluck();
  const backupDb = s.db.backup.bind(s.db);
  s.db.backup = async (...args: Parameters<typeof backupDb>) => {
    const t = performance.now();
    const rows = totalChanges.get() as number;
    const ackedAt = acked.length;
    try {
      return await backupDb(...args);
    } finally {
      Object.assign(copyPhase, {
        ms: performance.now() - t,
        rows: (totalChanges.get() as number) - rows,
        acked: acked.length - ackedAt,
      });
    }
  };

  const fillIds = Array.from({ length: 100 }, (_, i) => `fill-${String(i).padStart(3, '0')}`);
  for (const id of fillIds) addDevice(s, id);
  const fill = s.db.prepare(
    `INSERT INTO health (device_id, series, seq, device_ts, received_ts, cpu_load, mem_used, disk_used, disk_free,
       temp_c, uptime_s, content_seq, queue_depth) VALUES (?, 0, ?, ?, ?, 10, 40, 55, 10000000000, 48, 3600, 0, 0)`,
  );
  const old = Date.now() - 7 * 86_400_000;
  s.db.transaction(() => {
    for (let n = 0; n < PREFILLED; n++) {
      const seq = Math.floor(n / fillIds.length) + 1;
      fill.run(fillIds[n % fillIds.length], seq, old + seq * 60_000, old + seq * 60_000);
    }
  })();

  const ids = Array.from({ length: DEVICES }, (_, i) => `load-${String(i).padStart(3, '0')}`);
  const devices = ids.map((id) => addDevice(s, id));
  // The devices run in their own process (tests/helpers/health-publishers.ts): here only the server runs.
  const child = fork(
    PUBLISHERS,
    [
      JSON.stringify({
        url: s.mqttUrl,
        devices,
        window: WINDOW,
        samplesPerPublish: SAMPLES_PER_PUBLISH,
        maxMs: LOAD_MAX_MS,
        maxPublishes: PUBLISHES_PER_DEVICE_MAX,
      }),
    ],
    { execArgv: ['--import', 'tsx'] },
  );
  publishers = child;
  let loadStart = 0;
  const connected = new Promise<void>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`the publishers exited with ${code} before connecting`)));
    child.on('message', (message: FromPublishers) => {
      if (message.type === 'connected') {
        loadStart = performance.now();
        resolve();
      }
    });
  });
  const load = new Promise<{ failures: string[]; ms: number }>((resolve, reject) => {
    child.on('message', (message: FromPublishers) => {
      if (message.type === 'acked') {
        for (const [device, first, n] of message.runs) {
          for (let k = 0; k < n; k++) acked.push(`${ids[device]}:${first + k}`);
        }
      } else if (message.type === 'done') resolve(message);
    });
    child.once('exit', (code) => reject(new Error(`the publishers exited with ${code}`)));
  });
  await connected;

  const taken: Taken[] = [];
  for (let i = 0; i < BACKUPS; i++) {
    if (i >= BACKUPS_MIN && performance.now() - loadStart > LOAD_MAX_MS * 0.6) break;
    await sleep(BACKUP_GAP_MS);
    const commits0 = await metric('fleet_ingest_commit_seconds_count');
    const samples0 = await metric('fleet_ingest_samples_committed_total');
    // Synchronously from here to runBackup's start: no PUBACK is learnt in between (and each one is learnt from
    // the publishers' process after it came, so every sample counted here was committed before the backup).
    const ackedBefore = acked.length;
    const t = performance.now();
    const result = await s.backup();
    const ms = performance.now() - t;
    const ackedDuring = acked.length - ackedBefore;
    taken.push({
      result,
      ackedBefore,
      ackedDuring,
      copyMs: copyPhase.ms,
      rowsDuringCopy: copyPhase.rows,
      ackedDuringCopy: copyPhase.acked,
      commitsDuring: (await metric('fleet_ingest_commit_seconds_count')) - commits0,
      samplesCommittedDuring: (await metric('fleet_ingest_samples_committed_total')) - samples0,
      ms,
    });
  }
  await sleep(BACKUP_GAP_MS);
  child.send('stop');
  const { failures } = await load;
  const loadMs = performance.now() - loadStart;

  const summary = {
    devices: DEVICES,
    loadMs: Math.round(loadMs),
    samplesAcked: acked.length,
    samplesPerS: Math.round(acked.length / (loadMs / 1000)),
    walBytes: readFileSync(`${s.db.name}-wal`).length,
    backups: taken.map((b) => ({
      name: b.result.name,
      ms: Math.round(b.ms),
      copyMs: Math.round(b.copyMs),
      rowsDuringCopy: b.rowsDuringCopy,
      ackedDuringCopy: b.ackedDuringCopy,
      dbBytes: b.result.manifest.database.bytes,
      ackedBefore: b.ackedBefore,
      ackedDuring: b.ackedDuring,
      commitsDuring: b.commitsDuring,
      samplesCommittedDuring: b.samplesCommittedDuring,
    })),
  };
  console.log(`backup under ingest: ${JSON.stringify(summary)}`);

  expect(failures.slice(0, 5), 'publishes that failed').toEqual([]);
  expect(logs.map((l) => `${l.level} ${l.msg}`).slice(0, 5), 'warnings and errors the server logged').toEqual([]);
  expect(s.db.pragma('wal_autocheckpoint', { simple: true }), 'the checkpointer thread still runs').toBe(WAL_BOUND_PAGES);

  // The live database: every acknowledged sample, once, and nothing else.
  const keys = (db: BetterSqlite3.Database) =>
    db.prepare("SELECT device_id || ':' || seq FROM health WHERE device_id LIKE 'load-%'").pluck().all() as string[];
  const dupes = (db: BetterSqlite3.Database) =>
    db
      .prepare('SELECT device_id, seq, count(*) AS n FROM health GROUP BY device_id, seq HAVING n > 1 LIMIT 5')
      .all() as unknown[];
  expect(taken.length, 'backups taken under load').toBeGreaterThanOrEqual(BACKUPS_MIN);
  const live = keys(s.db);
  const liveSet = new Set(live);
  expect(new Set(acked).size, 'each sample acknowledged once').toBe(acked.length);
  expect(acked.filter((k) => !liveSet.has(k)).slice(0, 5), 'acknowledged samples missing from the live database').toEqual([]);
  expect(dupes(s.db), 'samples stored twice in the live database').toEqual([]);
  expect(live.length).toBe(acked.length);

  for (const [i, b] of taken.entries()) {
    const label = `backup ${i + 1} (${b.result.name})`;
    // Ingest went on while it ran, else this is no test of a backup under load.
    expect(b.ackedDuring, `${label}: PUBACKs while it ran`).toBeGreaterThan(0);
    expect(b.commitsDuring, `${label}: group commits while it ran`).toBeGreaterThan(0);
    const manifest = JSON.parse(readFileSync(join(b.result.path, 'backup.json'), 'utf8'));
    expect(manifest.database.integrity, label).toBe('ok');
    await verifyBackup(b.result.path); // what restore checks first: hashes and integrity again
    const copy = new BetterSqlite3(join(b.result.path, 'fleet.db'), { readonly: true, fileMustExist: true });
    try {
      expect(copy.pragma('integrity_check', { simple: true }), label).toBe('ok');
      const rows = keys(copy);
      const inCopy = new Set(rows);
      expect(dupes(copy), `${label}: samples stored twice`).toEqual([]);
      expect(inCopy.size, label).toBe(rows.length);
      expect(
        acked
          .slice(0, b.ackedBefore)
          .filter((k) => !inCopy.has(k))
          .slice(0, 5),
        `${label}: samples acknowledged before it started and missing from it (of ${b.ackedBefore})`,
      ).toEqual([]);
      expect(rows.length, label).toBeLessThanOrEqual(live.length);
      expect(rows.length, label).toBeGreaterThanOrEqual(b.ackedBefore);
      expect(copy.prepare("SELECT count(*) FROM health WHERE device_id LIKE 'fill-%'").pluck().get(), label).toBe(PREFILLED);
      expect(rows.filter((k) => !liveSet.has(k)).slice(0, 5), `${label}: rows the live database does not have`).toEqual([]);
    } finally {
      copy.close();
    }
  }
  // Commits interleaved with the online backup's steps (100 pages each, one per event-loop turn) in one at least.
  expect(
    Math.max(...taken.map((b) => b.rowsDuringCopy)),
    "rows the server's connection wrote during a database copy",
  ).toBeGreaterThan(0);
  // Each backup saw more than the one before (they are snapshots of a growing table, in order).
  for (let i = 1; i < taken.length; i++) {
    expect((taken[i] as Taken).ackedBefore).toBeGreaterThan((taken[i - 1] as Taken).ackedBefore);
  }
}, 55_000);
