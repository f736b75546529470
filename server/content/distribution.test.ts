import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { generateSigningKeys } from '../../protocol/index.js';
import { type Database, openDatabase } from '../db/open-database.js';
import { registerDevice } from '../registry/devices-repo.js';
import { createDistribution, MANIFEST_LIFETIME_MS } from './distribution.js';
import { seedTestSites } from './testing.js';
import { createWorkflow } from './workflow.js';

describe('distribution: seq and renewal', () => {
  let dir: string;
  let db: Database;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'content-dist-'));
    db = openDatabase(join(dir, 'fleet.db'));
    seedTestSites(db);
    registerDevice(db, { id: 'k1', secret: 'x'.repeat(43), siteId: 'c-ia-dom', status: 'active' });
  });
  afterEach(async () => {
    db.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('keeps seq and bytes while nothing changes, renews issuedAt at half-life, bumps seq on change and on expiry of an item', () => {
    let clock = Date.parse('2026-11-23T00:00:00Z');
    const now = () => clock;
    const notices: Array<[string, number]> = [];
    const dist = createDistribution({ db, keys: generateSigningKeys(), notifyManifest: (d, s) => notices.push([d, s]), now });
    const flow = createWorkflow({ db, audit: () => {}, now });
    const device = { deviceId: 'k1', siteId: 'c-ia-dom' };

    const empty = dist.issue(device);
    expect(empty.signed.manifest.seq).toBe(1);
    expect(dist.issue(device).etag).toBe(empty.etag);

    const editor = { username: 'e', role: 'editor' as const };
    const approver = { username: 'a', role: 'approver' as const };
    const id = flow.create(editor, {
      kind: 'bulletin',
      topics: [],
      featured: false,
      validFrom: null,
      validTo: '2026-12-01T00:00:00Z',
      targets: [{ scope: 'all' }],
    });
    flow.putTranslation(editor, id, 'vi', { title: 'Tin', summary: '', body: 'Nội dung' });
    flow.submit(editor, id);
    flow.approve(approver, id);
    const { version } = flow.publish(approver, id);
    expect(dist.contentChanged(id, [version])).toEqual(['k1']);
    expect(notices).toEqual([['k1', 2]]);

    clock += MANIFEST_LIFETIME_MS / 2 - 1000;
    const same = dist.issue(device);
    expect(same.signed.manifest.seq).toBe(2);
    expect(same.changed).toBe(false);
    // The item's validity ended: it leaves the manifest, which is a change.
    clock = Date.parse('2026-12-01T00:00:01Z');
    const expired = dist.issue(device);
    expect(expired.signed.manifest.items).toEqual([]);
    expect(expired.signed.manifest.seq).toBe(3);
    // Past half its lifetime an unchanged manifest is re-issued with the same seq and a fresh expiry.
    clock += MANIFEST_LIFETIME_MS / 2 + 1000;
    const renewed = dist.issue(device);
    expect(renewed.signed.manifest.seq).toBe(3);
    expect(renewed.etag).not.toBe(expired.etag);
    expect(Date.parse(renewed.signed.manifest.expiresAt)).toBe(clock + MANIFEST_LIFETIME_MS);
  });
});
