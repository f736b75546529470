/**
 * `npm run bench:backup [-- --rows 1000000 --content-mib 1024]`: backup and restore times and sizes for a
 * DATA_DIR of that many health rows and that much content (docs/performance.md, "Backup and restore").
 * Builds the data directory in a temp folder (removed at the end), then: a first backup (everything copied),
 * a second one after one new content file (incremental: the rest hard-linked), a restore (with its checks).
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { runBackup } from '../server/backup/backup.js';
import { restoreBackup } from '../server/backup/restore.js';
import { loadOrCreateSigningKeys } from '../server/content/signing-keys.js';
import { openDatabase } from '../server/db/open-database.js';
import { seedReferenceData } from '../server/db/seed.js';
import { registerDevice } from '../server/registry/devices-repo.js';

const { values } = parseArgs({
  options: { rows: { type: 'string', default: '1000000' }, 'content-mib': { type: 'string', default: '1024' } },
});
const rows = Number(values.rows);
const contentMib = Number(values['content-mib']);
const root = mkdtempSync(join(tmpdir(), 'bench-backup-'));
const dataDir = join(root, 'data');
const mib = (b: number) => `${(b / 1024 ** 2).toFixed(0)} MiB`;
const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
try {
  mkdirSync(dataDir);
  let t = Date.now();
  const db = openDatabase(join(dataDir, 'fleet.db'));
  seedReferenceData(db);
  const devices = 500;
  for (let d = 0; d < devices; d++)
    registerDevice(db, { id: `kiosk-${d}`, secret: `secret-of-kiosk-${d}-0123456789`, siteId: 'gl-c-iao' });
  const insert = db.prepare(
    `INSERT INTO health (device_id, series, seq, device_ts, received_ts, cpu_load, mem_used, disk_used, disk_free, temp_c,
       uptime_s, content_seq, queue_depth) VALUES (?, 0, ?, ?, ?, ?, 42.5, 61.2, 12000000000, 48.5, ?, 3, 0)`,
  );
  const start = Date.now() - rows * 1000;
  for (let done = 0; done < rows; ) {
    db.transaction(() => {
      for (let i = 0; i < 50_000 && done < rows; i++, done++) {
        const ts = start + done * 1000;
        insert.run(`kiosk-${done % devices}`, Math.floor(done / devices) + 1, ts, ts, (done % 97) / 1.3, done);
      }
    })();
  }
  db.pragma('wal_checkpoint(TRUNCATE)');
  await loadOrCreateSigningKeys(dataDir);
  const fileMib = 16;
  for (let i = 0; i < Math.ceil(contentMib / fileMib); i++) {
    const bytes = randomBytes(fileMib * 1024 ** 2);
    const sha = createHash('sha256').update(bytes).digest('hex');
    mkdirSync(join(dataDir, 'content', sha.slice(0, 2)), { recursive: true });
    writeFileSync(join(dataDir, 'content', sha.slice(0, 2), sha), bytes);
  }
  console.log(
    `data directory: ${rows} health rows, database ${mib(statSync(join(dataDir, 'fleet.db')).size)}, content ${contentMib} MiB (${fileMib} MiB files), built in ${seconds(Date.now() - t)}`,
  );

  const backupDir = join(root, 'backups');
  t = Date.now();
  const first = await runBackup({ db, dataDir, backupDir });
  console.log(
    `first backup:  ${seconds(Date.now() - t)}, written ${mib(first.bytesWritten)} (database ${mib(first.manifest.database.bytes)}, content ${first.manifest.content.copied} files copied)`,
  );
  const extra = randomBytes(1024 ** 2);
  const sha = createHash('sha256').update(extra).digest('hex');
  mkdirSync(join(dataDir, 'content', sha.slice(0, 2)), { recursive: true });
  writeFileSync(join(dataDir, 'content', sha.slice(0, 2), sha), extra);
  t = Date.now();
  const second = await runBackup({ db, dataDir, backupDir });
  console.log(
    `second backup: ${seconds(Date.now() - t)}, written ${mib(second.bytesWritten)} (content ${second.manifest.content.copied} copied, ${second.manifest.content.linked} hard-linked)`,
  );
  db.close();
  t = Date.now();
  await restoreBackup({ from: backupDir, dataDir: join(root, 'restored') });
  console.log(`restore:       ${seconds(Date.now() - t)} (backup checked whole, then copied)`);
} finally {
  rmSync(root, { recursive: true, force: true });
}
