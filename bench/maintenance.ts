/**
 * `npm run bench:maintenance [-- --rows 1000000 --devices 10000]`: how long the periodic maintenance holds the
 * event loop over a fleet's hour of health rows (docs/performance.md, "Issue 18, ninth session"). On a fresh
 * database file (the server's pragmas) it writes `rows` samples through the server's ingest (bench/lib/prefill.ts),
 * then times one maintenance run over them both ways the code can make it: in one go (`runOnce`, what the timer
 * did before) and as the timer makes it now (`runYielding`: slices, the event loop running between them). Twice:
 * the roll-up alone (raw rows kept), and the roll-up plus the deletion of the same rows (retention passed).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { pino } from 'pino';
import { openDatabase } from '../server/db/open-database.js';
import { createMaintenance, MAINTENANCE_STEP_ROWS } from '../server/ingest/maintenance.js';
import { prefillHealth } from './lib/prefill.js';

const { values } = parseArgs({
  options: { rows: { type: 'string', default: '1000000' }, devices: { type: 'string', default: '10000' } },
});
const rows = Number(values.rows);
const devices = Number(values.devices);
const HOUR = 3_600_000;
const DAY = 24 * HOUR;

async function measure(way: 'one go' | 'slices', retentionMs: number) {
  const dir = mkdtempSync(join(tmpdir(), 'bench-maintenance-'));
  try {
    const db = openDatabase(join(dir, 'fleet.db'));
    prefillHealth(db, rows, devices);
    const m = createMaintenance(db, { intervalMs: 60_000, retentionMs, offlineAfterMs: DAY }, pino({ level: 'silent' }));
    // Every complete hour of the prefill is due: the run starts an hour after its newest row.
    const now = Date.now() + 2 * HOUR;
    // The longest gap between two turns of the event loop while the run is under way: what a device's PUBACK or
    // a dashboard request would have waited at worst.
    let longestHoldMs = 0;
    let last = performance.now();
    let running = true;
    const turn = () => {
      const t = performance.now();
      longestHoldMs = Math.max(longestHoldMs, t - last);
      last = t;
      if (running) setImmediate(turn);
    };
    setImmediate(turn);
    const started = performance.now();
    const result =
      way === 'one go'
        ? await new Promise<ReturnType<typeof m.runOnce>>((resolve) => setImmediate(() => resolve(m.runOnce(now))))
        : await m.runYielding(now);
    const wallMs = performance.now() - started;
    await new Promise((resolve) => setImmediate(resolve));
    running = false;
    db.close();
    return { way, retentionMs, wallMs, longestHoldMs, rolledUp: result?.rolledUp, deleted: result?.deleted };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

// The prefill stamps each minute's rows of the whole fleet with one received_ts, and a slice takes every row of its
// last millisecond: here a read slice is one minute of the fleet, whatever MAINTENANCE_STEP_ROWS says.
console.log(
  `maintenance over ${rows} health rows of ${devices} kiosks; steps of ${MAINTENANCE_STEP_ROWS} rows (a read slice: one minute of the fleet, ${devices} rows sharing a millisecond)`,
);
console.log('| run | way | wall | longest event-loop hold | roll-up rows written | raw rows deleted |');
console.log('|---|---|---|---|---|---|');
for (const [label, retentionMs] of [
  ['roll-up', 30 * DAY],
  ['roll-up + retention', 1],
] as const) {
  for (const way of ['one go', 'slices'] as const) {
    const r = await measure(way, retentionMs);
    console.log(
      `| ${label} | ${r.way} | ${(r.wallMs / 1000).toFixed(2)} s | ${r.longestHoldMs.toFixed(0)} ms | ${r.rolledUp} | ${r.deleted} |`,
    );
  }
}
