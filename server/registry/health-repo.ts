/** Reading a device's health history: raw samples, or hourly roll-ups. */
import type { Database } from '../db/open-database.js';

export interface HealthPoint {
  seq: number;
  deviceTs: number;
  receivedTs: number;
  cpuLoad: number;
  memUsed: number;
  diskUsed: number;
  diskFree: number;
  tempC: number | null;
  uptimeS: number;
  contentSeq: number;
  queueDepth: number;
  queueDropped: number | null;
}

export interface HealthHour {
  hour: number;
  samples: number;
  cpuAvg: number | null;
  cpuMax: number | null;
  memAvg: number | null;
  memMax: number | null;
  diskUsedMax: number | null;
  diskFreeMin: number | null;
  tempMax: number | null;
}

/** Raw samples received in [from, to), oldest first. */
export function rawHealth(db: Database, deviceId: string, from: number, to: number, limit: number): HealthPoint[] {
  return db
    .prepare(
      `SELECT seq, device_ts AS deviceTs, received_ts AS receivedTs, cpu_load AS cpuLoad, mem_used AS memUsed, disk_used AS diskUsed,
         disk_free AS diskFree, temp_c AS tempC, uptime_s AS uptimeS, content_seq AS contentSeq, queue_depth AS queueDepth,
         queue_dropped AS queueDropped
       FROM health WHERE device_id = ? AND received_ts >= ? AND received_ts < ? ORDER BY series, seq LIMIT ?`,
    )
    .all(deviceId, from, to, limit) as HealthPoint[];
}

export function hourlyHealth(db: Database, deviceId: string, from: number, to: number, limit: number): HealthHour[] {
  return db
    .prepare(
      `SELECT hour, samples, cpu_avg AS cpuAvg, cpu_max AS cpuMax, mem_avg AS memAvg, mem_max AS memMax,
         disk_used_max AS diskUsedMax, disk_free_min AS diskFreeMin, temp_max AS tempMax
       FROM health_hourly WHERE device_id = ? AND hour >= ? AND hour < ? ORDER BY hour LIMIT ?`,
    )
    .all(deviceId, from, to, limit) as HealthHour[];
}
