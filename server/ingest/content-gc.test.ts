/** The clean-up of unreferenced content files, with a real store and a real SQLite file in a temp dir. */
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { generateSigningKeys } from '../../protocol/index.js';
import { createDistribution } from '../content/distribution.js';
import { createContentStore } from '../content/store.js';
import { sampleFiles, seedTestSites } from '../content/testing.js';
import { createWorkflow } from '../content/workflow.js';
import { type Database, openDatabase } from '../db/open-database.js';
import { registerDevice } from '../registry/devices-repo.js';
import { createContentGc } from './content-gc.js';
import { createMaintenance } from './maintenance.js';

const DAY = 86_400_000;
const editor = { username: 'e', role: 'editor' as const };
const approver = { username: 'a', role: 'approver' as const };

describe('content clean-up', () => {
  let dir: string;
  let db: Database;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'content-gc-'));
    db = openDatabase(join(dir, 'fleet.db'));
    seedTestSites(db);
    registerDevice(db, { id: 'k1', secret: 'x'.repeat(43), siteId: 'c-ia-dom', status: 'active' });
  });
  afterEach(async () => {
    db.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('removes old files only retired, superseded versions name; keeps live, latest, young and device-listed ones', async () => {
    const store = createContentStore({ dataDir: dir });
    const now = Date.now();
    let clock = now - 3 * DAY; // uploads and edits happened days ago
    const flow = createWorkflow({ db, audit: () => {}, now: () => clock });
    const dist = createDistribution({ db, keys: generateSigningKeys(), notifyManifest: () => {}, now: () => clock });
    const device = { deviceId: 'k1', siteId: 'c-ia-dom' };
    const put = async (text: string, ageMs = 3 * DAY) => {
      const file = await store.put(Readable.from([sampleFiles.pdf(text)]));
      const old = new Date(now - ageMs);
      await utimes(store.pathOf(file.sha256), old, old);
      return file;
    };
    const item = (id: string) =>
      flow.create(editor, {
        id,
        kind: 'document',
        topics: [],
        featured: false,
        validFrom: null,
        validTo: null,
        targets: [{ scope: 'all' }],
      });
    const publish = (id: string) => {
      flow.submit(editor, id);
      flow.approve(approver, id);
      return flow.publish(approver, id);
    };
    const withFile = (id: string, file: { sha256: string; size: number; mime: string }) => {
      flow.putTranslation(editor, id, 'vi', { title: 'Tài liệu', summary: '', body: null });
      flow.attachFile(editor, id, 'vi', file);
    };

    // x: v1 (file A) replaced by v2 (file B): A is named only by the retired v1.
    const a = await put('A');
    const b = await put('B');
    item('x');
    withFile('x', a);
    publish('x');
    flow.attachFile(editor, 'x', 'vi', b);
    const { version: xv } = publish('x');
    dist.contentChanged('x', [1, xv]);
    // w: published then retired; its latest version still names F (an edit would copy it into a new draft).
    const f = await put('F');
    item('w');
    withFile('w', f);
    publish('w');
    flow.retire(approver, 'w');
    dist.contentChanged('w', [1]);
    // z: D published and on the device's manifest; retired and replaced by a draft with E, manifest not rebuilt yet.
    const d = await put('D');
    const e = await put('E');
    item('z');
    withFile('z', d);
    publish('z');
    dist.issue(device);
    flow.retire(approver, 'z');
    flow.attachFile(editor, 'z', 'vi', e);
    // An old orphan (upload whose item was never saved), a young one (upload in progress), an abandoned part.
    const orphan = await put('orphan');
    const young = await put('young', 60_000);
    await mkdir(join(store.root, 'tmp'), { recursive: true });
    const part = join(store.root, 'tmp', 'abandoned.part');
    await writeFile(part, 'half');
    await utimes(part, new Date(now - 2 * DAY), new Date(now - 2 * DAY));

    const gc = createContentGc(db, { root: store.root, graceMs: DAY });
    const first = gc.run(now);
    const present = (sha: string) => existsSync(store.pathOf(sha));
    expect({
      a: present(a.sha256),
      b: present(b.sha256),
      f: present(f.sha256),
      d: present(d.sha256),
      e: present(e.sha256),
      orphan: present(orphan.sha256),
      young: present(young.sha256),
      part: existsSync(part),
    }).toEqual({ a: false, b: true, f: true, d: true, e: true, orphan: false, young: true, part: false });
    expect(first).toEqual({
      deletedFiles: 2,
      deletedBytes: a.size + orphan.size,
      deletedParts: 1,
    });
    // A's row stays while v1's translation names it (foreign key); the orphan had none.
    expect(db.prepare('SELECT count(*) FROM content_files WHERE sha256 = ?').pluck().get(a.sha256)).toBe(1);
    expect(await store.sizeOf(b.sha256)).toBe(b.size);

    // Once the device's manifest no longer lists D, D goes; nothing else does. Run by the periodic maintenance.
    clock = now;
    dist.contentChanged('z', [1]);
    expect(db.prepare('SELECT count(*) FROM device_manifest_files WHERE sha256 = ?').pluck().get(d.sha256)).toBe(0);
    const maintenance = createMaintenance(
      db,
      { intervalMs: 60_000, retentionMs: 30 * DAY, offlineAfterMs: DAY, contentGraceMs: DAY },
      pino({ level: 'silent' }),
    );
    const second = maintenance.runOnce(now);
    expect(second.content).toEqual({ deletedFiles: 1, deletedBytes: d.size, deletedParts: 0 });
    expect(present(d.sha256)).toBe(false);
    expect([b, f, e, young].every((x) => present(x.sha256))).toBe(true);
    // Hourly: the next minute's run does not walk the store again; an explicit call does.
    expect(maintenance.runOnce(now + 60_000).content).toBeNull();
    expect(maintenance.collectContent(now + 60_000)).toEqual({ deletedFiles: 0, deletedBytes: 0, deletedParts: 0 });
  });
});
