/**
 * Cheap health readings. systeminformation's `currentLoad` (os.cpus deltas) and `mem` (/proc/meminfo) read files;
 * its `fsSize` and `cpuTemperature` spawn shells (df, sensors) and are skipped: disk comes from statfs of the data
 * directory's filesystem, temperature from the kernel's thermal zones.
 */
import { readdir, readFile, statfs } from 'node:fs/promises';
import { uptime } from 'node:os';
import si from 'systeminformation';
import type { HealthReading } from './health-queue.js';

export interface HealthSource {
  read(): Promise<HealthReading>;
}

const round1 = (x: number): number => Math.round(x * 10) / 10;
const clampPct = (x: number): number => Math.min(100, Math.max(0, round1(Number.isFinite(x) ? x : 0)));

async function thermalZoneC(): Promise<number | null> {
  const base = '/sys/class/thermal';
  let zones: string[];
  try {
    zones = (await readdir(base)).filter((z) => z.startsWith('thermal_zone'));
  } catch {
    return null;
  }
  let max: number | null = null;
  for (const zone of zones) {
    try {
      const milli = Number((await readFile(`${base}/${zone}/temp`, 'utf8')).trim());
      if (Number.isFinite(milli) && milli > -100_000 && milli < 200_000) max = Math.max(max ?? -Infinity, milli / 1000);
    } catch {
      // a zone without a readable sensor (common in VMs)
    }
  }
  return max === null ? null : round1(max);
}

export function systemHealthSource(dataDir: string): HealthSource {
  return {
    async read() {
      const [load, mem, fs, tempC] = await Promise.all([si.currentLoad(), si.mem(), statfs(dataDir), thermalZoneC()]);
      const total = fs.blocks * fs.bsize;
      const free = fs.bavail * fs.bsize;
      return {
        cpuLoad: clampPct(load.currentLoad),
        memUsed: clampPct(mem.total > 0 ? ((mem.total - mem.available) / mem.total) * 100 : 0),
        diskUsed: clampPct(total > 0 ? ((total - fs.bfree * fs.bsize) / total) * 100 : 0),
        diskFree: Math.max(0, Math.floor(free)),
        tempC,
        uptimeS: Math.floor(uptime()),
      };
    },
  };
}
