/**
 * Folds a V8 .cpuprofile of the server into the stages of one device message: each sample goes to the stage of
 * the innermost frame on its stack that belongs to a known file (so a native call — JSON.parse, a SQLite step,
 * a socket write — counts for the code that made it), divided by the messages handled in the profiled window.
 * The sampler sees the main thread's stack whether it runs or waits inside a call: a synchronous fsync in a
 * COMMIT, or the thread being descheduled on a loaded machine, counts for the frame it happened in. So the split
 * is of main-thread time (what bounds the event loop), and its total exceeds the CPU time /proc reports.
 *
 *   npx tsx bench/lib/fold-profile.ts server.cpuprofile [--messages N] [--top 25]
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
export interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

/** Stage of a frame by its file (first match wins), null when the file says nothing (Node internals, natives). */
const RULES: Array<[RegExp, string]> = [
  [/\(garbage collector\)/, 'garbage collection'],
  [/\(idle\)/, 'idle'],
  // The in-process profiler's own start/stop (bench/lib/profiled-server.ts), not the server's work.
  [/^node:inspector/, 'profiler'],
  [/\(program\)/, 'V8/native, unattributed'],
  [/mqtt-packet\/(writeToStream|generate|numbers)\.js|aedes\/lib\/write\.js/, 'PUBACK (encode + socket write)'],
  [/mqtt-packet\/|\/bl\/|aedes\/lib\/client\.js/, 'packet parse (socket read, MQTT decode)'],
  [
    /server\/broker\/(device-broker|flow-control|packet-size-cap)\.ts|protocol\/topics\.ts|server\/registry\//,
    'auth/ACL + flow control',
  ],
  [
    /\/aedes\/|\/mqemitter\/|aedes-persistence|\/qlobber\/|\/fastfall\/|\/fastparallel\/|\/fastseries\/|\/reusify\/|\/retimer\/|aedes-packet|hyperid/,
    'broker (aedes routing)',
  ],
  [/\/zod\/|server\/broker\/message-handler\.ts|protocol\/messages\.ts/, 'validation (JSON.parse + schema)'],
  [/better-sqlite3|server\/ingest\/|server\/db\//, 'commit (SQLite, group commit)'],
  [/prom-client|server\/http\/metrics/, 'metrics'],
  [/\/pino/, 'logging'],
  [/server\/(http|dashboard|coverage|auth)\/|@hono|\/hono\//, 'HTTP (/metrics polls, API)'],
  [/^node:|^internal\//, ''],
];

function stageOfUrl(url: string, functionName: string): string | null {
  const key = url || `(${functionName.replace(/[()]/g, '')})`;
  for (const [re, stage] of RULES) if (re.test(key) || re.test(`(${functionName.replace(/[()]/g, '')})`)) return stage || null;
  return url ? 'other (project or library)' : null;
}

export interface Fold {
  totalMs: number;
  /** CPU ms per stage (idle excluded from `busyMs`). */
  stages: Record<string, number>;
  busyMs: number;
  /** The heaviest functions by self time. */
  top: Array<{ fn: string; ms: number }>;
}

export function foldProfile(profile: CpuProfile, topN = 25): Fold {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const stageCache = new Map<number, string>();
  const stageOf = (id: number): string => {
    const cached = stageCache.get(id);
    if (cached) return cached;
    let stage: string | null = null;
    for (let at: number | undefined = id; at !== undefined && stage === null; at = parent.get(at)) {
      const node = byId.get(at) as ProfileNode;
      stage = stageOfUrl(node.callFrame.url, node.callFrame.functionName);
    }
    const result = stage ?? 'Node internals (timers, streams, event loop)';
    stageCache.set(id, result);
    return result;
  };
  const stages: Record<string, number> = {};
  const self = new Map<number, number>();
  let totalMs = 0;
  profile.samples.forEach((id, i) => {
    const ms = (profile.timeDeltas[i] ?? 0) / 1000;
    totalMs += ms;
    const stage = stageOf(id);
    stages[stage] = (stages[stage] ?? 0) + ms;
    self.set(id, (self.get(id) ?? 0) + ms);
  });
  const fnTotals = new Map<string, number>();
  for (const [id, ms] of self) {
    const f = (byId.get(id) as ProfileNode).callFrame;
    const key = `${f.functionName || '(anonymous)'} ${f.url.replace(/^.*node_modules\//, '').replace(/^file:\/\/.*?\/(server|protocol|bench)\//, '$1/')}:${f.lineNumber + 1}`;
    fnTotals.set(key, (fnTotals.get(key) ?? 0) + ms);
  }
  const top = [...fnTotals]
    .sort((a, b) => b[1] - a[1])
    .slice(0, topN)
    .map(([fn, ms]) => ({ fn, ms }));
  return { totalMs, stages, busyMs: totalMs - (stages.idle ?? 0) - (stages.profiler ?? 0), top };
}

/** The fold as table rows: CPU ms and µs per message for each stage, heaviest first. */
export function stageTable(
  fold: Fold,
  messages: number,
): Array<{ stage: string; ms: number; usPerMessage: number; share: number }> {
  return Object.entries(fold.stages)
    .filter(([stage]) => stage !== 'idle' && stage !== 'profiler')
    .sort((a, b) => b[1] - a[1])
    .map(([stage, ms]) => ({ stage, ms, usPerMessage: (ms * 1000) / Math.max(1, messages), share: ms / fold.busyMs }));
}

if (process.argv[1] && import.meta.url.endsWith(process.argv[1].replace(/^.*\//, ''))) {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: { messages: { type: 'string', default: '0' }, top: { type: 'string', default: '25' } },
  });
  const file = positionals[0];
  if (!file) {
    console.error('usage: fold-profile.ts FILE.cpuprofile [--messages N] [--top 25]');
    process.exit(2);
  }
  const fold = foldProfile(JSON.parse(readFileSync(file, 'utf8')) as CpuProfile, Number(values.top));
  const messages = Number(values.messages);
  console.log(`profile ${(fold.totalMs / 1000).toFixed(1)} s, busy ${(fold.busyMs / 1000).toFixed(1)} s, ${messages} messages`);
  for (const row of stageTable(fold, messages)) {
    console.log(
      `${row.stage.padEnd(46)} ${row.ms.toFixed(0).padStart(7)} ms ${row.usPerMessage.toFixed(1).padStart(7)} µs/msg ${(row.share * 100).toFixed(1).padStart(5)} %`,
    );
  }
  console.log('\nheaviest functions (self time):');
  for (const t of fold.top) console.log(`${t.ms.toFixed(0).padStart(7)} ms  ${t.fn}`);
}
