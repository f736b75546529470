/**
 * Issue 17 (6/7), backups and restore in detail: content copied incrementally (a file the previous backup has is
 * hard-linked, only new ones copied), retention by count and by age, a damaged backup refused before anything is
 * restored, a non-empty DATA_DIR refused without --force and moved aside with it, the CLI verbs, a failed backup
 * counted in /metrics, and /metrics behind METRICS_TOKEN.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, expect, it } from 'vitest';
import { backupTime, listBackups, pruneBackups, runBackup } from '../server/backup/backup.js';
import { restoreBackup, verifyBackup } from '../server/backup/restore.js';
import { parseRetention } from '../server/config.js';
import { startTestServer, type TestServer } from '../server/testing/test-server.js';

let cleanups: Array<() => unknown> = [];
afterEach(async () => {
  for (const c of cleanups.reverse()) await c();
  cleanups = [];
});

function tempDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** Puts bytes into the content store's layout (content/ab/abcdef…), as an upload would. */
function putContent(dataDir: string, text: string): string {
  const sha = createHash('sha256').update(text).digest('hex');
  mkdirSync(join(dataDir, 'content', sha.slice(0, 2)), { recursive: true });
  writeFileSync(join(dataDir, 'content', sha.slice(0, 2), sha), text);
  return sha;
}

async function server(overrides: Record<string, unknown> = {}): Promise<TestServer> {
  const s = await startTestServer(overrides);
  cleanups.push(() => s.stop());
  return s;
}

it('copies content incrementally, keeps keys private, and prunes by count and by age', async () => {
  const s = await server();
  const backupDir = join(tempDir('ops-backup-'), 'backups');
  const a = putContent(s.dataDir, 'video one');
  const first = await runBackup({ db: s.db, dataDir: s.dataDir, backupDir });
  expect(first.manifest.content).toMatchObject({ files: 1, copied: 1, linked: 0 });
  expect(statSync(backupDir).mode & 0o777).toBe(0o700);
  for (const file of first.manifest.files) expect(statSync(join(first.path, file.path)).mode & 0o777, file.path).toBe(0o600);

  const b = putContent(s.dataDir, 'video two');
  const second = await runBackup({ db: s.db, dataDir: s.dataDir, backupDir });
  expect(second.manifest.content).toMatchObject({ files: 2, copied: 1, linked: 1 });
  // The unchanged file is the same inode as in the first backup: no second copy on disk.
  const inode = (dir: string, sha: string) => statSync(join(dir, 'content', sha.slice(0, 2), sha)).ino;
  expect(inode(second.path, a)).toBe(inode(first.path, a));
  expect(inode(second.path, b)).not.toBe(inode(first.path, a));
  expect(second.bytesWritten).toBeLessThan(first.bytesWritten + 'video two'.length + second.manifest.database.bytes);

  const third = await runBackup({ db: s.db, dataDir: s.dataDir, backupDir, retention: parseRetention('2') });
  expect(third.pruned).toEqual([first.name]);
  expect(await listBackups(backupDir)).toEqual([second.name, third.name]);
  // The second backup still has file a although the first one (where it was copied) is gone.
  await verifyBackup(second.path);
  // By age: everything older than 1 ms goes, except the newest.
  expect(await pruneBackups(backupDir, parseRetention('1ms' as never), backupTime(third.name) + 60_000)).toEqual([second.name]);
  expect(await listBackups(backupDir)).toEqual([third.name]);
  expect(() => parseRetention('0')).toThrow(/at least 1/);
  expect(() => parseRetention('5 weeks')).toThrow();
}, 60_000);

it('restore checks the backup first, refuses a non-empty DATA_DIR without force, moves it aside with force', async () => {
  const s = await server();
  const root = tempDir('ops-restore-');
  const backupDir = join(root, 'backups');
  const sha = putContent(s.dataDir, 'a leaflet');
  const backup = await runBackup({ db: s.db, dataDir: s.dataDir, backupDir });

  // Non-empty target: refused, untouched.
  const target = join(root, 'data');
  mkdirSync(target);
  writeFileSync(join(target, 'something.txt'), 'keep me');
  await expect(restoreBackup({ from: backupDir, dataDir: target })).rejects.toThrow(
    /is not empty \(something\.txt\): restore into an empty data directory, or pass --force/,
  );
  expect(readdirSync(target)).toEqual(['something.txt']);
  const forced = await restoreBackup({ from: backup.path, dataDir: target, force: true });
  expect(readFileSync(join(forced.movedAside as string, 'something.txt'), 'utf8')).toBe('keep me');
  expect(readFileSync(join(target, 'content', sha.slice(0, 2), sha), 'utf8')).toBe('a leaflet');
  expect(readFileSync(join(target, 'keys', 'root-key.pem'), 'utf8')).toBe(
    readFileSync(join(s.dataDir, 'keys', 'root-key.pem'), 'utf8'),
  );

  // A damaged backup: a flipped content byte, then a changed key file, then a damaged database → refused, nothing written.
  const contentCopy = join(backup.path, 'content', sha.slice(0, 2), sha);
  writeFileSync(contentCopy, 'a leaflEt');
  const empty = join(root, 'empty');
  await expect(restoreBackup({ from: backup.path, dataDir: empty })).rejects.toThrow(/does not match its sha256 name/);
  writeFileSync(contentCopy, 'a leaflet');
  writeFileSync(join(backup.path, 'keys', 'root-key.pem'), 'not the key');
  await expect(restoreBackup({ from: backup.path, dataDir: empty })).rejects.toThrow(
    /keys\/root-key\.pem is missing or does not match/,
  );
  expect(() => statSync(empty)).toThrow();
  expect(readdirSync(root).filter((n) => n.includes('.restoring-'))).toEqual([]);
}, 60_000);

it('a failed backup is counted in /metrics and the status API; /metrics wants the bearer token when set', async () => {
  const token = 'metrics-token-0123456789abcdef';
  const root = tempDir('ops-metrics-');
  // BACKUP_DIR is a file: every backup fails.
  writeFileSync(join(root, 'not-a-dir'), '');
  const s = await server({ METRICS_TOKEN: token, BACKUP_DIR: join(root, 'not-a-dir'), BACKUP_INTERVAL: '24h' });
  await expect(s.backup()).rejects.toThrow();
  const { HttpSession, TEST_ADMIN_PASSWORD } = await import('../server/testing/test-server.js');
  const admin = new HttpSession(s.httpUrl);
  await admin.login('admin', TEST_ADMIN_PASSWORD);
  const status = await admin.json<{ lastSuccess: unknown; lastFailure: { error: string } }>('GET', '/api/v1/backups');
  expect(status.body.lastSuccess).toBeNull();
  expect(status.body.lastFailure.error).toMatch(/EEXIST|ENOTDIR|not a directory/);
  expect((await fetch(`${s.httpUrl}/metrics`)).status).toBe(401);
  expect((await fetch(`${s.httpUrl}/metrics`, { headers: { authorization: 'Bearer wrong-token-0123456789' } })).status).toBe(401);
  const res = await fetch(`${s.httpUrl}/metrics`, { headers: { authorization: `Bearer ${token}` } });
  expect(res.status).toBe(200);
  const text = await res.text();
  expect(text).toMatch(/^fleet_backup_failures_total [1-9]\d*$/m);
  expect(text).toMatch(/^fleet_backup_last_success_timestamp_seconds 0$/m);
  // prom-client's default process and event-loop metrics, and ours.
  for (const name of [
    'process_cpu_seconds_total',
    'nodejs_eventloop_lag_seconds',
    'fleet_ingest_latency_seconds_bucket',
    'fleet_ingest_queue_depth',
    'fleet_devices_connected',
    'fleet_data_dir_free_bytes',
    'fleet_tls_certificate_expiry_timestamp_seconds',
  ]) {
    expect(text, name).toMatch(new RegExp(`^${name}`, 'm'));
  }
  const expiry = Number(/^fleet_tls_certificate_expiry_timestamp_seconds (\S+)$/m.exec(text)?.[1]);
  expect(expiry).toBeGreaterThan(Date.now() / 1000 + 86_400);
}, 60_000);

it('npm run backup and npm run restore: the CLI verbs', async () => {
  const s = await server();
  const root = tempDir('ops-cli-');
  const env = { ...process.env, DATA_DIR: s.dataDir, BACKUP_DIR: join(root, 'backups') };
  const cli = (args: string[], extra: Record<string, string> = {}) =>
    spawnSync(process.execPath, ['--import', 'tsx', 'server/backup/cli.ts', ...args], {
      cwd: join(import.meta.dirname, '..'),
      env: { ...env, ...extra },
      encoding: 'utf8',
      timeout: 60_000,
    });
  // Online: the server is running and keeps its database open meanwhile.
  const made = cli(['backup']);
  expect(made.stderr).toBe('');
  expect(made.stdout).toMatch(/done and checked/);
  expect(made.status).toBe(0);
  const restored = cli(['restore', join(root, 'backups')], { DATA_DIR: join(root, 'restored') });
  expect(restored.stdout).toMatch(/^Restored /);
  expect(restored.status).toBe(0);
  const again = cli(['restore', join(root, 'backups')], { DATA_DIR: join(root, 'restored') });
  expect(again.status).toBe(1);
  expect(again.stderr).toMatch(/^restore failed: .* is not empty/);
  // The restored database opens and has what the server had.
  const count = (file: string) =>
    execFileSync(process.execPath, [
      '-e',
      `const D=require('better-sqlite3');const d=new D(${JSON.stringify(file)},{readonly:true});console.log(d.prepare('select count(*) c from users').get().c)`,
    ]).toString();
  expect(count(join(root, 'restored', 'fleet.db'))).toBe(count(join(s.dataDir, 'fleet.db')));
}, 90_000);
