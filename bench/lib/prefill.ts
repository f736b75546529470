/**
 * History already in the `health` table before a bench loads the server, so inserts land in a table of
 * realistic size: `rows` samples of 10 000 other kiosks, one a minute, oldest first, written through the
 * server's own ingest (`createDeviceDataRepo().insertHealth`, the function the broker's group commit calls),
 * so the rows carry the series and keys the server writes.
 */
import type { HealthSample } from '../../protocol/index.js';
import type { Database } from '../../server/db/open-database.js';
import { createDeviceDataRepo } from '../../server/ingest/device-data-repo.js';

export function prefillHealth(db: Database, rows: number, devices = 10_000): void {
  if (rows <= 0) return;
  const data = createDeviceDataRepo(db);
  const minutes = Math.ceil(rows / devices);
  const start = Date.now() - minutes * 60_000;
  const sample = (minute: number): HealthSample => ({
    seq: minute + 1,
    ts: start + minute * 60_000,
    cpuLoad: 20,
    memUsed: 50,
    diskUsed: 40,
    diskFree: 1_000_000_000,
    tempC: 45,
    uptimeS: 1000 + minute * 60,
    contentSeq: 3,
    queueDepth: 0,
  });
  // One transaction per minute of the whole fleet (10 000 rows), as a group commit would write them.
  const minuteOfFleet = db.transaction((minute: number, count: number) => {
    for (let d = 0; d < count; d++) data.insertHealth(`history-${d}`, [sample(minute)], start + minute * 60_000);
  });
  for (let minute = 0, left = rows; left > 0; minute++, left -= devices) minuteOfFleet(minute, Math.min(devices, left));
}
