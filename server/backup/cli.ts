/**
 * `npm run backup [-- --to DIR]`: one backup of DATA_DIR now (online: the server may be running) into BACKUP_DIR.
 * `npm run restore -- FROM [--force]`: checks the backup FROM (one backup, or a backup directory: its newest),
 * then restores it into DATA_DIR, which must be empty unless --force. Settings as the server reads them.
 */
import { parseArgs } from 'node:util';
import { loadConfig } from '../config.js';
import { runBackup } from './backup.js';
import { resolveBackup, restoreBackup, verifyBackup } from './restore.js';

const USAGE = `usage: backup [--to DIR]            one backup of DATA_DIR into DIR (default BACKUP_DIR)
       restore FROM [--force]        check FROM, then restore it into DATA_DIR (empty unless --force)
       verify FROM                   check a backup without restoring it`;

const mib = (bytes: number) => `${(bytes / 1024 ** 2).toFixed(1)} MiB`;

export async function main(argv: string[], env: Record<string, string | undefined>): Promise<number> {
  const [verb, ...rest] = argv;
  const { values, positionals } = parseArgs({
    args: rest,
    options: { to: { type: 'string' }, force: { type: 'boolean', default: false }, help: { type: 'boolean', default: false } },
    allowPositionals: true,
  });
  if (values.help || !verb) {
    console.log(USAGE);
    return verb ? 0 : 2;
  }
  const config = loadConfig(env);
  if (verb === 'backup') {
    const backupDir = values.to ?? config.BACKUP_DIR;
    if (!backupDir) throw new Error('no backup directory: set BACKUP_DIR or pass --to DIR');
    const result = await runBackup({ dataDir: config.DATA_DIR, backupDir, retention: config.BACKUP_RETENTION });
    const { manifest } = result;
    console.log(`Backup ${result.path} done and checked in ${(manifest.durationMs / 1000).toFixed(1)} s
  database     ${mib(manifest.database.bytes)} (integrity_check ok, ${manifest.database.migrations.length} migrations)
  content      ${manifest.content.files} files, ${mib(manifest.content.bytes)} (${manifest.content.copied} copied, ${manifest.content.linked} linked from the previous backup)
  other files  ${manifest.files.length} (keys, TLS material), mode 0600
  written      ${mib(result.bytesWritten)}${result.pruned.length ? `\n  removed      ${result.pruned.join(', ')} (BACKUP_RETENTION)` : ''}`);
    return 0;
  }
  if (verb === 'verify' || verb === 'restore') {
    const from = positionals[0];
    if (!from) throw new Error(`${verb} needs the backup to read: ${verb} FROM`);
    if (verb === 'verify') {
      const dir = await resolveBackup(from);
      const manifest = await verifyBackup(dir);
      console.log(
        `Backup ${dir} (${manifest.createdAt}) is whole: database, ${manifest.files.length} files, ${manifest.content.files} content files checked`,
      );
      return 0;
    }
    const started = Date.now();
    const result = await restoreBackup({ from, dataDir: config.DATA_DIR, force: values.force });
    console.log(`Restored ${result.backup} (taken ${result.manifest.createdAt}) into ${result.dataDir} in ${((Date.now() - started) / 1000).toFixed(1)} s${
      result.movedAside ? `\n  what ${result.dataDir} held is now in ${result.movedAside}` : ''
    }
  Start the server on it; kiosks reconnect with their credentials and resend the health they still hold.`);
    return 0;
  }
  console.error(USAGE);
  return 2;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  main(process.argv.slice(2), process.env).then(
    (code) => process.exit(code),
    (error: Error) => {
      console.error(`${process.argv[2] ?? 'backup'} failed: ${error.message}`);
      process.exit(1);
    },
  );
}
