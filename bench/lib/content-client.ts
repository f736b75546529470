/**
 * Light content clients for the content-sync scenario (a forked process): each device fetches its signed
 * manifest, downloads the files it does not hold, and resumes with `Range` when its link is cut. Bytes are
 * counted, not stored; every `hashEvery`-th device and every resumed download is checked against its sha256.
 */
import { createHash } from 'node:crypto';
import http from 'node:http';
import type { SignedManifest } from '../../protocol/index.js';

interface Job {
  url: string;
  devices: Array<{ id: string; authorization: string }>;
  held: string[];
  concurrency: number;
  /** Devices (by index in this slice) whose link is cut halfway through a file. */
  cutEvery: number;
  hashEvery: number;
}

const agent = new http.Agent({ keepAlive: true, maxSockets: 256 });

function get(url: string, headers: Record<string, string>, onData: (b: Buffer) => boolean) {
  return new Promise<{ status: number; headerBytes: number; cut: boolean }>((resolve, reject) => {
    const req = http.get(url, { headers, agent }, (res) => {
      let cut = false;
      const headerBytes = res.rawHeaders.reduce((n, h) => n + h.length + 2, 0) + 20;
      res.on('data', (b: Buffer) => {
        if (!cut && !onData(b)) {
          cut = true;
          req.destroy();
          resolve({ status: res.statusCode ?? 0, headerBytes, cut });
        }
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headerBytes, cut }));
      res.on('error', (e) => (cut ? undefined : reject(e)));
    });
    req.on('error', (e) => reject(e));
  });
}

async function syncDevice(job: Job, index: number, stats: Record<string, number>): Promise<void> {
  const device = job.devices[index] as Job['devices'][number];
  const headers = { authorization: device.authorization };
  let text = '';
  const m = await get(`${job.url}/api/v1/devices/${device.id}/manifest`, headers, (b) => {
    text += b.toString();
    return true;
  });
  if (m.status !== 200) throw new Error(`manifest ${device.id}: ${m.status}`);
  stats.bytesReceived = (stats.bytesReceived ?? 0) + text.length + m.headerBytes;
  const manifest = JSON.parse(text) as SignedManifest;
  const files = new Map<string, number>();
  for (const item of manifest.manifest.items)
    for (const t of Object.values(item.translations)) if (t.file) files.set(t.file.sha256, t.file.size);
  for (const [sha, size] of files) {
    if (job.held.includes(sha)) continue;
    stats.bytesNeeded = (stats.bytesNeeded ?? 0) + size;
    const cutAt = job.cutEvery > 0 && index % job.cutEvery === 0 ? Math.floor(size / 2) : -1;
    const hash = index % job.hashEvery === 0 || cutAt >= 0 ? createHash('sha256') : null;
    let have = 0;
    for (let attempt = 0; have < size && attempt < 5; attempt++) {
      const r = await get(`${job.url}/files/${sha}`, have > 0 ? { ...headers, range: `bytes=${have}-` } : headers, (b) => {
        have += b.length;
        hash?.update(b);
        stats.bytesReceived = (stats.bytesReceived ?? 0) + b.length;
        return !(cutAt >= 0 && attempt === 0 && have >= cutAt);
      });
      stats.bytesReceived = (stats.bytesReceived ?? 0) + r.headerBytes;
      if (r.cut) stats.cuts = (stats.cuts ?? 0) + 1;
      if (have > 0 && attempt > 0 && r.status !== 206) throw new Error(`resume of ${sha} answered ${r.status}`);
    }
    if (have !== size) throw new Error(`${device.id}: ${sha} ended at ${have}/${size}`);
    if (hash) {
      stats.hashed = (stats.hashed ?? 0) + 1;
      if (hash.digest('hex') !== sha) stats.hashMismatch = (stats.hashMismatch ?? 0) + 1;
    }
    stats.filesComplete = (stats.filesComplete ?? 0) + 1;
  }
  stats.devicesDone = (stats.devicesDone ?? 0) + 1;
}

process.on('message', (job: Job) => {
  const stats: Record<string, number> = {};
  let next = 0;
  const lane = async () => {
    while (next < job.devices.length) await syncDevice(job, next++, stats);
  };
  Promise.all(Array.from({ length: job.concurrency }, lane)).then(
    () => {
      const u = process.cpuUsage();
      process.send?.({ ok: true, stats, cpuMs: (u.user + u.system) / 1000 });
    },
    (error: Error) => process.send?.({ ok: false, error: error.message, stats }),
  );
});
process.on('disconnect', () => process.exit(0));
