/**
 * `npm run bench:dbsize`: how big the database gets after a year of 500 kiosks at the default health interval with
 * the default retentions (issue 17; docs/performance.md "Database size", docs/deployment.md disk sizing).
 *
 * Time compressed, through the server's own functions: the database is opened and migrated by `openDatabase`,
 * kiosks are registered by `registerDevice`, their health, events and play statistics are written by the ingest's
 * `createDeviceDataRepo` (what the broker's group commit calls), audit records by `createAudit`, and the upkeep
 * (roll-ups, raw retention, roll-up/event/audit retention) is `createMaintenance(...).runOnce(now)` with the
 * simulated clock every `--maintenance-every-hours` simulated hours (default 6) — the roll-up works by complete
 * hours, so running it every few hours instead of every MAINTENANCE_INTERVAL gives the same rows; raw rows past
 * retention leave up to that many hours later (a slightly larger raw table than in service: an upper bound).
 *
 * The raw health of the last `--dense-days` days (default: HEALTH_RETENTION + 2 days) is written at the agent's
 * default interval (60 s, sent every 15 min): at the end of the year the raw table holds exactly what it holds in
 * service, and rows past retention have been deleted and their pages reused as in service. Before that window each
 * kiosk writes `--sparse-per-hour` samples an hour (default 1): every hourly roll-up row exists as in service (the
 * roll-up table is exact), only the raw table of those months is smaller than in service; the per-month lines mark
 * them. Bounded: `--max-seconds` (default 540) stops the run and says where.
 *
 *   npm run bench:dbsize -- [--kiosks 500] [--days 365] [--dense-days N] [--sparse-per-hour 1]
 *     [--events-per-day 6] [--stats-per-day 12] [--audit-per-day 40] [--max-seconds 540]
 *     [--maintenance-every-hours 6] [--keep]
 */
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { pino } from 'pino';
import { DEFAULT_HEALTH_SEND_INTERVAL_S, parseAgentConfig } from '../agent/config.js';
import type { HealthSample } from '../protocol/index.js';
import { createAudit } from '../server/auth/audit.js';
import { loadConfig } from '../server/config.js';
import { openDatabase } from '../server/db/open-database.js';
import { createDeviceDataRepo } from '../server/ingest/device-data-repo.js';
import { createMaintenance, maintenanceOptionsOf } from '../server/ingest/maintenance.js';
import { registerDevice } from '../server/registry/devices-repo.js';
import { simSecret } from '../tools/fleet-sim/provision.js';

const MIN = 60_000;
const HOUR = 60 * MIN;
const DAY = 24 * HOUR;
const MiB = 1024 * 1024;

const { values } = parseArgs({
  args: process.argv.slice(2),
  options: {
    kiosks: { type: 'string', default: '500' },
    days: { type: 'string', default: '365' },
    'dense-days': { type: 'string' },
    'sparse-per-hour': { type: 'string', default: '1' },
    'events-per-day': { type: 'string', default: '6' },
    'stats-per-day': { type: 'string', default: '12' },
    'audit-per-day': { type: 'string', default: '40' },
    'max-seconds': { type: 'string', default: '540' },
    'maintenance-every-hours': { type: 'string', default: '6' },
    keep: { type: 'boolean', default: false },
  },
  strict: true,
});

const dir = mkdtempSync(join(tmpdir(), 'bench-dbsize-'));
// The server's defaults: retentions and the maintenance it runs (docs/server.md).
const config = loadConfig({ DATA_DIR: dir });
// The agent's defaults: the health interval and how many samples one message carries.
const agent = parseAgentConfig({ serverUrl: 'http://127.0.0.1:1' }, {}, null);
const intervalMs = agent.settings.healthIntervalS * 1000;
const perMessage = Math.max(1, Math.round((DEFAULT_HEALTH_SEND_INTERVAL_S * 1000) / intervalMs));

const kiosks = Number(values.kiosks);
const days = Number(values.days);
const denseDays = Math.min(days, Number(values['dense-days'] ?? Math.ceil(config.HEALTH_RETENTION / DAY) + 2));
const sparsePerHour = Number(values['sparse-per-hour']);
const eventsPerDay = Number(values['events-per-day']);
const statsPerDay = Number(values['stats-per-day']);
const auditPerDay = Number(values['audit-per-day']);
const maxMs = Number(values['max-seconds']) * 1000;
const maintenanceEvery = Number(values['maintenance-every-hours']);

const file = join(dir, 'fleet.db');
const db = openDatabase(file);
const data = createDeviceDataRepo(db);
const start = Date.UTC(2026, 0, 1);
let now = start;
const audit = createAudit(db, () => now);
const maintenance = createMaintenance(db, maintenanceOptionsOf(config, null), pino({ level: 'silent' }));

const ids = Array.from({ length: kiosks }, (_, i) => `k-${String(i).padStart(4, '0')}`);
db.transaction(() => {
  for (const id of ids) registerDevice(db, { id, secret: simSecret(id), siteId: null, model: 'dbsize-kiosk', now: start });
})();
const seq = new Map<string, number>(ids.map((id) => [id, 0]));

const count = (table: string) => db.prepare(`SELECT count(*) FROM ${table}`).pluck().get() as number;
function sizeNow(): { bytes: number; freeBytes: number } {
  db.pragma('wal_checkpoint(TRUNCATE)');
  const pageSize = db.pragma('page_size', { simple: true }) as number;
  const free = db.pragma('freelist_count', { simple: true }) as number;
  const wal = (() => {
    try {
      return statSync(`${file}-wal`).size;
    } catch {
      return 0;
    }
  })();
  return { bytes: statSync(file).size + wal, freeBytes: free * pageSize };
}

/** One kiosk's health of one hour: `n` samples evenly in the hour, sent in messages of `perMessage`. */
function writeHour(id: string, hourStart: number, n: number, k: number): void {
  const every = HOUR / n;
  let batch: HealthSample[] = [];
  for (let i = 0; i < n; i++) {
    const s = (seq.get(id) as number) + 1;
    seq.set(id, s);
    const ts = hourStart + Math.round(i * every) + (k % 50) * 1000;
    batch.push({
      seq: s,
      ts,
      cpuLoad: Math.round((8 + ((s * 7 + k) % 40) + (s % 3) / 10) * 10) / 10,
      memUsed: Math.round((35 + ((s + k) % 25) + 0.37) * 10) / 10,
      diskUsed: Math.round((42 + (s % 1000) / 1000) * 100) / 100,
      diskFree: 9_500_000_000 - (s % 100_000) * 4096,
      tempC: 40 + ((s + k) % 18),
      uptimeS: Math.floor((ts - start) / 1000) + 300 + k,
      contentSeq: 3 + Math.floor((ts - start) / (14 * DAY)),
      queueDepth: 0,
    });
    if (batch.length === perMessage || i === n - 1) {
      data.insertHealth(id, batch, ts + 2000);
      batch = [];
    }
  }
}

function writeDay(dayStart: number, dense: boolean): void {
  const perHour = dense ? Math.round(HOUR / intervalMs) : sparsePerHour;
  const day = new Date(dayStart).toISOString().slice(0, 10);
  for (let h = 0; h < 24; h++) {
    const hourStart = dayStart + h * HOUR;
    db.transaction(() => {
      ids.forEach((id, k) => {
        writeHour(id, hourStart, perHour, k);
        // Events (link lost/back, sync, restarts): spread over the day's hours.
        for (let e = 0; e < eventsPerDay; e++) {
          if (Math.floor((e * 24) / eventsPerDay) !== h) continue;
          data.event(
            id,
            'device',
            {
              type: e % 2 ? 'link_up' : 'link_down',
              severity: e % 2 ? 'info' : 'warning',
              message: e % 2 ? `mobile link back after ${30 + ((k + e) % 300)} s` : 'mobile link lost (no MQTT PINGRESP)',
              ts: hourStart + k * 1000 + e,
            },
            hourStart + k * 1000 + e + 500,
          );
        }
      });
      if (h === 23) {
        // The day's play statistics (one row per item and language viewed), a sync report, the department's audit.
        ids.forEach((id, k) => {
          const rows = Array.from({ length: statsPerDay }, (_, r) => ({
            day,
            itemId: `item-${(r + k) % 40}`,
            lang: ['vi', 'en', 'km', 'lo', 'jra', 'bdq'][r % 6] as string,
            views: 1 + ((r * 13 + k) % 30),
            seconds: 20 + ((r * 37 + k) % 600),
          }));
          if (rows.length) data.stats(id, { days: rows });
          data.sync(id, { manifestSeq: 3, state: 'applied', bytes: 0, missing: 0 }, hourStart + HOUR - MIN);
          data.touch(id, hourStart + HOUR - MIN);
        });
        for (let a = 0; a < auditPerDay; a++) {
          now = hourStart + a * 60_000;
          audit({ actor: 'phong-so', action: 'content.publish', target: `item-${a % 40}`, detail: { manifestSeq: a } });
        }
      }
    })();
    now = hourStart + HOUR;
    if ((h + 1) % maintenanceEvery === 0) maintenance.runOnce(now);
  }
}

const started = Date.now();
const months: Array<Record<string, string | number>> = [];
console.log(
  `db-size: ${kiosks} kiosks, ${days} days from ${new Date(start).toISOString().slice(0, 10)}; health every ${intervalMs / 1000} s in messages of ${perMessage} for the last ${denseDays} days, ${sparsePerHour}/h before; ` +
    `retention raw ${config.HEALTH_RETENTION / DAY} d, roll-ups ${config.HEALTH_HOURLY_RETENTION / DAY} d, events ${config.EVENTS_RETENTION / DAY} d, audit ${config.AUDIT_RETENTION / DAY} d; ` +
    `${eventsPerDay} events, ${statsPerDay} play-stat rows per kiosk a day, ${auditPerDay} audit records a day; ${dir}`,
);
let stoppedAt: number | null = null;
for (let d = 0; d < days; d++) {
  const dayStart = start + d * DAY;
  writeDay(dayStart, d >= days - denseDays);
  const endOfMonth = new Date(dayStart + DAY).getUTCDate() === 1 || d === days - 1;
  if (endOfMonth) {
    const size = sizeNow();
    const row = {
      month: new Date(dayStart).toISOString().slice(0, 7),
      day: d + 1,
      MiB: Number((size.bytes / MiB).toFixed(1)),
      freeMiB: Number((size.freeBytes / MiB).toFixed(1)),
      health: count('health'),
      health_hourly: count('health_hourly'),
      device_events: count('device_events'),
      play_stats: count('play_stats'),
      audit: count('audit'),
      raw: d >= days - denseDays ? 'dense' : 'sparse',
      elapsedS: Math.round((Date.now() - started) / 1000),
    };
    months.push(row);
    console.log(
      `  ${row.month} (day ${String(row.day).padStart(3)}): ${String(row.MiB).padStart(7)} MiB (${row.freeMiB} MiB free pages)  health ${row.health}  hourly ${row.health_hourly}  events ${row.device_events}  stats ${row.play_stats}  audit ${row.audit}  [raw ${row.raw}, ${row.elapsedS} s]`,
    );
  }
  if (Date.now() - started > maxMs && d < days - 1) {
    stoppedAt = d + 1;
    break;
  }
}

const final = sizeNow();
let perTable: Array<{ name: string; MiB: number }> = [];
try {
  perTable = (
    db.prepare('SELECT name, sum(pgsize) AS bytes FROM dbstat GROUP BY name ORDER BY bytes DESC').all() as Array<{
      name: string;
      bytes: number;
    }>
  )
    .filter((r) => r.bytes >= MiB / 10)
    .map((r) => ({ name: r.name, MiB: Number((r.bytes / MiB).toFixed(1)) }));
} catch {
  // dbstat is not compiled into this SQLite: the per-table lines are left out.
}
db.close();
console.log(
  stoppedAt === null
    ? `db-size: after ${days} days of ${kiosks} kiosks the database is ${(final.bytes / MiB).toFixed(1)} MiB (${(final.freeBytes / MiB).toFixed(1)} MiB of it free pages) — ${((Date.now() - started) / 1000).toFixed(0)} s`
    : `db-size: STOPPED by --max-seconds after day ${stoppedAt} of ${days} (the raw window was not reached: the size is not the year's)`,
);
if (perTable.length) console.log(`  by table and index: ${perTable.map((t) => `${t.name} ${t.MiB}`).join(', ')} (MiB)`);
console.log(
  JSON.stringify({ kiosks, days, denseDays, intervalS: intervalMs / 1000, finalMiB: final.bytes / MiB, months, perTable }),
);
if (!values.keep) rmSync(dir, { recursive: true, force: true });
