/**
 * Where the server's CPU goes per message (`npm run bench -- --only profile`): the real server (server/main.ts
 * wrapped by bench/lib/profiled-server.ts) with N kiosks connected, an open-loop load of one-sample health
 * messages, and a V8 CPU profile of the main thread over one window of that load only. The profile is folded
 * into stages (bench/lib/fold-profile.ts) and divided by the messages the server counted in the window.
 */
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { type CpuProfile, foldProfile, stageTable } from '../lib/fold-profile.js';
import { sleep, until } from '../lib/proc.js';
import { connectStorm, drain, rig, stopLoad, teardown } from './fleet-bench.js';

export interface ProfileOptions {
  devices: number;
  rate: number;
  seconds: number;
  workers: number;
  log: (line: string) => void;
}

export async function runServerProfile(o: ProfileOptions) {
  const out = join(mkdtempSync(join(tmpdir(), 'bench-profile-')), 'server.cpuprofile');
  const r = await rig(o.devices, { workers: o.workers }, 0, {
    entry: 'bench/lib/profiled-server.ts',
    env: { CPU_PROFILE_OUT: out },
  });
  try {
    await connectStorm(r, o.devices, 300);
    await drain(r, 60_000);
    await r.gen.all((i) => ({ cmd: 'rate', perSecond: o.rate / r.gen.size + (i < o.rate % r.gen.size ? 1 : 0) }));
    await sleep(3000);
    const s0 = r.server.usage();
    const acked0 = (await r.gen.all({ cmd: 'counters', latencies: false })).reduce((n, x) => n + x.acked, 0);
    r.server.child.kill('SIGUSR2');
    await sleep(o.seconds * 1000);
    r.server.child.kill('SIGUSR2');
    const s1 = r.server.usage();
    const acked1 = (await r.gen.all({ cmd: 'counters', latencies: false })).reduce((n, x) => n + x.acked, 0);
    await stopLoad(r);
    if (!(await until(() => existsSync(`${out}.done`), 60_000, 200))) throw new Error('the server wrote no CPU profile');
    // Open loop without a backlog: every message carries one sample, so samples acknowledged = messages.
    const messages = acked1 - acked0;
    const fold = foldProfile(JSON.parse(readFileSync(out, 'utf8')) as CpuProfile, 30);
    const stages = stageTable(fold, messages);
    for (const s of stages) o.log(`  ${s.stage}: ${s.usPerMessage.toFixed(1)} µs/msg (${(s.share * 100).toFixed(1)} %)`);
    return {
      devices: o.devices,
      ratePerSecond: o.rate,
      seconds: o.seconds,
      messages,
      samplesAcked: acked1 - acked0,
      serverCpuMs: s1.cpuMs - s0.cpuMs,
      serverCpuUsPerMessage: ((s1.cpuMs - s0.cpuMs) * 1000) / Math.max(1, messages),
      profiledBusyUsPerMessage: (fold.busyMs * 1000) / Math.max(1, messages),
      stages,
      top: fold.top,
      profile: out,
      load1m: loadavg()[0],
    };
  } finally {
    await teardown(r);
  }
}
