/**
 * Cheap health readings, from the kernel's own files and Node: CPU load from the `cpu` line of /proc/stat (the share
 * of non-idle jiffies since the previous reading), memory from MemTotal / MemAvailable of /proc/meminfo, disk from
 * statfs of the data directory's filesystem, temperature from the thermal zones, uptime from os.uptime().
 *
 * Not systeminformation: its `currentLoad` runs `sh -c 'cat /proc/stat | grep cpu'` synchronously on every call
 * (three processes forked from the agent, the event loop blocked meanwhile) and the package adds to the agent's
 * memory for two numbers read from two files (docs/performance.md, "Agent RSS").
 */
import { readdir, readFile, statfs } from 'node:fs/promises';
import { freemem, totalmem, uptime } from 'node:os';
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

/** Busy and total jiffies of all CPUs (the `cpu` line of /proc/stat: user nice system idle iowait irq softirq steal …). */
export function parseProcStat(text: string): { busy: number; total: number } | null {
  const line = text.split('\n').find((l) => l.startsWith('cpu '));
  if (!line) return null;
  const f = line.trim().split(/\s+/).slice(1, 9).map(Number);
  if (f.length < 4 || f.some((x) => !Number.isFinite(x))) return null;
  // guest and guest_nice are already counted in user and nice.
  const total = f.reduce((a, b) => a + b, 0);
  const idle = (f[3] ?? 0) + (f[4] ?? 0);
  return { busy: total - idle, total };
}

/** Share of memory in use (MemAvailable, which counts reclaimable cache as free), or null without the fields. */
export function parseMeminfo(text: string): number | null {
  const kb = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+)`, 'm').exec(text)?.[1] ?? Number.NaN);
  const total = kb('MemTotal');
  const available = kb('MemAvailable');
  if (!(total > 0) || !Number.isFinite(available)) return null;
  return ((total - available) / total) * 100;
}

export function systemHealthSource(dataDir: string): HealthSource {
  let previous: { busy: number; total: number } | null = null;
  const cpuLoad = async (): Promise<number> => {
    const now = parseProcStat(await readFile('/proc/stat', 'utf8').catch(() => ''));
    if (!now) return 0;
    // The first reading covers the time since boot; later ones the time since the previous reading.
    const base = previous ?? { busy: 0, total: 0 };
    previous = now;
    const total = now.total - base.total;
    return total > 0 ? ((now.busy - base.busy) / total) * 100 : 0;
  };
  const memUsed = async (): Promise<number> => {
    const fromProc = parseMeminfo(await readFile('/proc/meminfo', 'utf8').catch(() => ''));
    if (fromProc !== null) return fromProc;
    const total = totalmem();
    return total > 0 ? ((total - freemem()) / total) * 100 : 0;
  };
  return {
    async read() {
      const [load, mem, fs, tempC] = await Promise.all([cpuLoad(), memUsed(), statfs(dataDir), thermalZoneC()]);
      const total = fs.blocks * fs.bsize;
      const free = fs.bavail * fs.bsize;
      return {
        cpuLoad: clampPct(load),
        memUsed: clampPct(mem),
        diskUsed: clampPct(total > 0 ? ((total - fs.bfree * fs.bsize) / total) * 100 : 0),
        diskFree: Math.max(0, Math.floor(free)),
        tempC,
        uptimeS: Math.floor(uptime()),
      };
    },
  };
}
