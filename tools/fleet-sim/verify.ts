/**
 * The simulator's correctness check: what each simulated device saw acknowledged must be in the `health`
 * table exactly once, and nothing may be there that the device never produced.
 */
import type { Database } from '../../server/db/open-database.js';
import { rawHealth } from '../../server/registry/health-repo.js';
import type { Range } from './seq-ranges.js';

export interface HealthCheck {
  devices: number;
  ackedSamples: number;
  rows: number;
  /** Acknowledged samples missing from the table: must be 0. */
  lost: number;
  /** Rows whose (device, seq) appears more than once: must be 0. */
  duplicated: number;
  /** Rows with a seq the device never produced: must be 0. */
  unknown: number;
  /** Rows committed whose PUBACK the device never saw (lost with a connection): allowed, they are resent. */
  committedNotAcked: number;
  examples: string[];
}

export function checkHealth(db: Database, ackedRanges: Record<string, Range[]>, lastSeq: Record<string, number>): HealthCheck {
  // Through the server's own read of a device's history (every row, whatever its series).
  const rowsOf = (deviceId: string) =>
    rawHealth(db, deviceId, 0, Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER).map((p) => p.seq);
  const result: HealthCheck = {
    devices: 0,
    ackedSamples: 0,
    rows: 0,
    lost: 0,
    duplicated: 0,
    unknown: 0,
    committedNotAcked: 0,
    examples: [],
  };
  for (const [deviceId, ranges] of Object.entries(ackedRanges)) {
    result.devices++;
    const seqs = rowsOf(deviceId);
    result.rows += seqs.length;
    const present = new Set<number>();
    for (const s of seqs) {
      if (present.has(s)) result.duplicated++;
      present.add(s);
      if (s > (lastSeq[deviceId] ?? 0) || s < 1) {
        result.unknown++;
        if (result.examples.length < 5) result.examples.push(`${deviceId}: row seq ${s} never produced`);
      }
    }
    let acked = 0;
    for (const [a, b] of ranges) {
      for (let s = a; s <= b; s++) {
        acked++;
        if (!present.has(s)) {
          result.lost++;
          if (result.examples.length < 5) result.examples.push(`${deviceId}: acknowledged seq ${s} not in health`);
        }
      }
    }
    result.ackedSamples += acked;
    result.committedNotAcked += Math.max(0, present.size - acked);
  }
  return result;
}
