import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { verifyDeviceSecret } from '../registry/device-secret.js';
import { getDevice, registerDevice } from '../registry/devices-repo.js';
import { listSites } from '../registry/sites-repo.js';
import { migrate, openDatabase, readMigrations } from './open-database.js';
import { seedReferenceData } from './seed.js';

const dirs: string[] = [];
function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'server-db-'));
  dirs.push(dir);
  return dir;
}
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

describe('openDatabase', () => {
  it('applies the migrations once, in WAL mode with foreign keys, and is idempotent on reopen', () => {
    const file = join(tempDir(), 'fleet.db');
    const db = openDatabase(file);
    expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
    expect(db.pragma('foreign_keys', { simple: true })).toBe(1);
    // FULL (2): a commit is on disk before it returns, as the PUBACK promises (DESIGN §5).
    expect(db.pragma('synchronous', { simple: true })).toBe(2);
    const versions = db.prepare('SELECT version FROM schema_migrations ORDER BY version').pluck().all();
    expect(versions).toEqual(readMigrations().map((m) => m.version));
    db.close();
    const again = openDatabase(file);
    expect(migrate(again)).toEqual([]);
    again.close();
  });

  it('applies migrations in number order and rolls a failing one back', () => {
    const dir = tempDir();
    writeFileSync(join(dir, '002-second.sql'), 'ALTER TABLE t ADD COLUMN b TEXT;');
    writeFileSync(join(dir, '001-first.sql'), 'CREATE TABLE t (a TEXT);');
    writeFileSync(join(dir, '003-broken.sql'), 'CREATE TABLE u (x); THIS IS NOT SQL;');
    writeFileSync(join(dir, 'notes.txt'), 'ignored');
    expect(() => openDatabase(join(dir, 'x.db'), { migrationsDir: dir })).toThrow();
    rmSync(join(dir, '003-broken.sql'));
    const db = openDatabase(join(dir, 'x.db'), { migrationsDir: dir });
    expect(db.prepare('SELECT name FROM schema_migrations ORDER BY version').pluck().all()).toEqual([
      '001-first.sql',
      '002-second.sql',
    ]);
    expect(db.prepare("SELECT count(*) FROM sqlite_master WHERE name = 'u'").pluck().get()).toBe(0);
    db.close();
  });

  it('refuses two migrations with the same number', () => {
    const dir = tempDir();
    writeFileSync(join(dir, '101-a.sql'), 'SELECT 1;');
    writeFileSync(join(dir, '101-b.sql'), 'SELECT 1;');
    expect(() => readMigrations(dir)).toThrow(/two migrations numbered 101/);
  });
});

describe('seedReferenceData', () => {
  it('loads Gia Lai sites and plan once', () => {
    const db = openDatabase(':memory:');
    expect(seedReferenceData(db)).toEqual({ sites: 19, plans: 1 });
    expect(seedReferenceData(db)).toEqual({ sites: 0, plans: 0 });
    const communes = listSites(db, { kind: 'commune', border: true });
    expect(communes).toHaveLength(7);
    expect(communes.every((c) => c.parentId?.startsWith('gl-d-'))).toBe(true);
    expect(listSites(db, { kind: 'district' })[0]?.validTo).toBe('2025-06-30');
    expect(listSites(db, { kind: 'gate' })[0]?.note).toContain('(Ratanakiri, Cambodia)');
    db.close();
  });
});

describe('registerDevice', () => {
  it('stores only a hash of the secret', () => {
    const db = openDatabase(':memory:');
    seedReferenceData(db);
    registerDevice(db, { id: 'k-1', secret: 's3cret-value-long-enough', siteId: 'gl-c-iao' });
    const row = db.prepare('SELECT secret_hash FROM devices WHERE id = ?').pluck().get('k-1') as string;
    expect(row).not.toContain('s3cret');
    expect(verifyDeviceSecret('s3cret-value-long-enough', row)).toBe(true);
    expect(verifyDeviceSecret('wrong', row)).toBe(false);
    expect(getDevice(db, 'k-1')).toMatchObject({ id: 'k-1', status: 'provisioned', online: false, siteId: 'gl-c-iao' });
    expect(() => registerDevice(db, { id: 'k-1', secret: 'x' })).toThrow();
    db.close();
  });
});
