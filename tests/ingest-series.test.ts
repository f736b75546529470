/**
 * Issue 1/7: the readers of the health table give right answers once a device has two series (its seq
 * restarted): the newest sample, the disk alert's streak, raw history order, roll-ups and retention.
 * Real SQLite file, the ingest repository as the broker's writer calls it.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { HealthSample } from '../protocol/index.js';
import { currentAlerts } from '../server/dashboard/alerts.js';
import { createDashboardRepo } from '../server/dashboard/dashboard-repo.js';
import { type Database, openDatabase } from '../server/db/open-database.js';
import { seedReferenceData } from '../server/db/seed.js';
import { createDeviceDataRepo } from '../server/ingest/device-data-repo.js';
import { createMaintenance } from '../server/ingest/maintenance.js';
import { registerDevice } from '../server/registry/devices-repo.js';
import { rawHealth } from '../server/registry/health-repo.js';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const NOW = Date.UTC(2026, 10, 20, 12, 30);

let dir: string;
let db: Database;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'ingest-series-'));
  db = openDatabase(join(dir, 'fleet.db'));
  seedReferenceData(db);
});
afterEach(() => {
  db.close();
  rmSync(dir, { recursive: true, force: true });
});

function sample(seq: number, ts: number, diskUsed: number): HealthSample {
  return {
    seq,
    ts,
    cpuLoad: 10,
    memUsed: 20,
    diskUsed,
    diskFree: 1000,
    tempC: null,
    uptimeS: 60 * seq,
    contentSeq: 1,
    queueDepth: 0,
  };
}

function activeDevice(id: string): void {
  registerDevice(db, { id, secret: `secret-of-${id}-0123456789`, siteId: 'gl-c-iao', now: NOW - 90 * DAY });
  db.prepare("UPDATE devices SET status = 'active', first_seen = ?, last_seen = ? WHERE id = ?").run(NOW - 60 * DAY, NOW, id);
}

/** Writes samples as the broker does: received at `received`, one message. */
function receive(repo: ReturnType<typeof createDeviceDataRepo>, id: string, samples: HealthSample[], received: number) {
  return db.transaction(() => repo.insertHealth(id, samples, received))();
}

describe('readers of a device with two series', () => {
  it('newest sample and disk streak come from the new series; raw history in series order', () => {
    const repo = createDeviceDataRepo(db);
    // k-full: its old image filled the disk (seq 1..6 at 95 %); the re-imaged kiosk reports 40 %.
    activeDevice('k-full');
    receive(
      repo,
      'k-full',
      [1, 2, 3, 4, 5, 6].map((seq) => sample(seq, NOW - 6 * HOUR + seq * 60_000, 95)),
      NOW - 6 * HOUR,
    );
    expect(
      receive(
        repo,
        'k-full',
        [1, 2, 3].map((seq) => sample(seq, NOW - HOUR + seq * 60_000, 40)),
        NOW - HOUR,
      ),
    ).toBe(3);
    // k-new: the old image was fine (50 %); the re-imaged kiosk's disk is over the limit since its first sample.
    activeDevice('k-new');
    receive(
      repo,
      'k-new',
      [1, 2, 3, 4, 5].map((seq) => sample(seq, NOW - 6 * HOUR + seq * 60_000, 50)),
      NOW - 6 * HOUR,
    );
    receive(repo, 'k-new', [sample(1, NOW - 2 * HOUR, 95)], NOW - 2 * HOUR);
    receive(repo, 'k-new', [sample(2, NOW - HOUR, 96)], NOW - HOUR);

    const disk = currentAlerts(createDashboardRepo(db), NOW, DAY).filter((a) => a.type === 'disk');
    expect(disk.map((a) => ({ deviceId: a.deviceId, value: a.value, since: a.since }))).toEqual([
      { deviceId: 'k-new', value: 96, since: NOW - 2 * HOUR },
    ]);

    const raw = rawHealth(db, 'k-full', NOW - DAY, NOW, 100);
    expect(raw.map((r) => [r.seq, r.diskUsed])).toEqual([
      [1, 95],
      [2, 95],
      [3, 95],
      [4, 95],
      [5, 95],
      [6, 95],
      [1, 40],
      [2, 40],
      [3, 40],
    ]);
    expect(
      db.prepare("SELECT device_id, count(*) AS n FROM device_events WHERE type = 'seq_restart' GROUP BY device_id").all(),
    ).toEqual([
      { device_id: 'k-full', n: 1 },
      { device_id: 'k-new', n: 1 },
    ]);
  });

  it('a broken agent that sends seq 1 over and over has every sample kept, with one seq_restart event an hour', () => {
    const repo = createDeviceDataRepo(db);
    activeDevice('k-broken');
    for (let i = 0; i < 20; i++) receive(repo, 'k-broken', [sample(1, NOW - HOUR + i * 60_000, 50)], NOW - HOUR + i * 60_000);
    receive(repo, 'k-broken', [sample(1, NOW + HOUR, 50)], NOW + HOUR);
    expect(db.prepare("SELECT count(*) FROM health WHERE device_id = 'k-broken'").pluck().get()).toBe(21);
    expect(db.prepare("SELECT max(series) FROM health WHERE device_id = 'k-broken'").pluck().get()).toBe(20);
    expect(
      db.prepare("SELECT received_ts FROM device_events WHERE device_id = 'k-broken' AND type = 'seq_restart'").pluck().all(),
    ).toEqual([NOW - HOUR + 60_000, NOW + HOUR]);
  });

  it('roll-ups count both series; retention deletes the old rows only, not the new series with the same seqs', () => {
    const repo = createDeviceDataRepo(db);
    activeDevice('k1');
    const old = NOW - 40 * DAY; // past the 30-day retention
    receive(
      repo,
      'k1',
      [1, 2, 3].map((seq) => sample(seq, old + seq * 60_000, 50)),
      Math.floor(old / HOUR) * HOUR + 60_000,
    );
    const recent = Math.floor((NOW - 3 * HOUR) / HOUR) * HOUR + 60_000;
    receive(
      repo,
      'k1',
      [1, 2, 3].map((seq) => sample(seq, NOW - 3 * HOUR + seq * 60_000, 60)),
      recent,
    );

    const m = createMaintenance(
      db,
      { intervalMs: 60_000, retentionMs: 30 * DAY, offlineAfterMs: DAY, contentRoot: null },
      pino({ level: 'silent' }),
    );
    const result = m.runOnce(NOW);
    expect(result.deleted).toBe(3);
    expect(db.prepare('SELECT series, seq FROM health WHERE device_id = ? ORDER BY series, seq').raw().all('k1')).toEqual([
      [1, 1],
      [1, 2],
      [1, 3],
    ]);
    expect(db.prepare('SELECT hour, samples FROM health_hourly WHERE device_id = ? ORDER BY hour').all('k1')).toEqual([
      { hour: Math.floor(old / HOUR) * HOUR, samples: 3 },
      { hour: Math.floor(recent / HOUR) * HOUR, samples: 3 },
    ]);
  });
});
