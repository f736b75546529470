/**
 * Scenario 6: `devices` kiosks pull a `updateMiB` content update: signed manifest, then the new file over
 * `/files/{sha256}`; every 20th device has its link cut halfway through and resumes with `Range`. Measures total
 * time, server CPU, and bytes sent against bytes needed (content addressing: the item the kiosks already hold is
 * not fetched again). The server is the content module's routes in a child process (bench/lib/content-server.ts);
 * the clients are two forked processes (bench/lib/content-client.ts).
 */
import { type ChildProcess, fork } from 'node:child_process';
import { resolve } from 'node:path';
import { MiB, procUsage } from '../lib/proc.js';

interface Ready {
  url: string;
  held: { sha256: string; size: number };
  update: { sha256: string; size: number };
  devices: Array<{ id: string; authorization: string }>;
}

const here = resolve(import.meta.dirname, '..', 'lib');
const forkTs = (file: string, args: string[] = []) =>
  fork(resolve(here, file), args, { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });

function once<T>(child: ChildProcess, timeoutMs: number): Promise<T> {
  return new Promise((ok, fail) => {
    const timer = setTimeout(() => fail(new Error('content bench child timed out')), timeoutMs);
    child.once('message', (m) => {
      clearTimeout(timer);
      ok(m as T);
    });
    child.once('exit', (code) => fail(new Error(`content bench child exited with ${code}`)));
  });
}

export async function runContentSync(o: { devices: number; updateMiB: number; log: (line: string) => void }) {
  const server = forkTs('content-server.ts', [String(o.devices), String(o.updateMiB)]);
  const clients: ChildProcess[] = [];
  try {
    const ready = await once<Ready>(server, 180_000);
    o.log(`  content server ready: ${o.devices} devices, update ${ready.update.size} bytes`);
    const s0 = procUsage(server.pid as number);
    const t0 = performance.now();
    const halves = [0, 1].map((k) => ready.devices.filter((_, i) => i % 2 === k));
    const replies = await Promise.all(
      halves.map((devices) => {
        const child = forkTs('content-client.ts');
        clients.push(child);
        const reply = once<{ ok: boolean; error?: string; stats: Record<string, number>; cpuMs: number }>(child, 600_000);
        child.send({ url: ready.url, devices, held: [ready.held.sha256], concurrency: 50, cutEvery: 20, hashEvery: 50 });
        return reply;
      }),
    );
    const seconds = (performance.now() - t0) / 1000;
    const s1 = procUsage(server.pid as number);
    const failed = replies.find((r) => !r.ok);
    if (failed) throw new Error(`content clients: ${failed.error}`);
    const sum = (k: string) => replies.reduce((n, r) => n + (r.stats[k] ?? 0), 0);
    const result = {
      what: 'content module routes (server/content/testing.ts) in a child process; the full server does not mount them yet',
      devices: o.devices,
      updateBytes: ready.update.size,
      alreadyHeldBytes: ready.held.size,
      totalSeconds: seconds,
      devicesDone: sum('devicesDone'),
      linkCutsResumed: sum('cuts'),
      bytesNeeded: sum('bytesNeeded'),
      bytesSent: sum('bytesReceived'),
      sentOverNeeded: sum('bytesReceived') / Math.max(1, sum('bytesNeeded')),
      hashChecked: sum('hashed'),
      hashMismatches: sum('hashMismatch'),
      aggregateMBps: sum('bytesReceived') / 1e6 / seconds,
      serverCpuSeconds: (s1.cpuMs - s0.cpuMs) / 1000,
      serverCpuPercent: ((s1.cpuMs - s0.cpuMs) / (seconds * 1000)) * 100,
      serverPeakRssMiB: s1.peakRssBytes / MiB,
      clientCpuSeconds: replies.reduce((n, r) => n + r.cpuMs, 0) / 1000,
    };
    o.log(`  ${JSON.stringify(result)}`);
    return result;
  } finally {
    for (const c of clients) if (c.connected) c.disconnect();
    if (server.connected) {
      const exited = new Promise((r) => server.once('exit', r));
      server.send({ type: 'stop' });
      await exited;
    }
  }
}
