/**
 * `npm run bench`: every figure of issue 9 in one run (< 10 minutes on 2 vCPU at the default sizes), printed
 * as a table and written as JSON to bench/results/. The server under test and the load generators are child
 * processes; figures come from /proc (server) and process.cpuUsage (generators).
 *
 *   npm run bench                                  # everything, default sizes
 *   npm run bench -- --only fleet,broker           # some scenarios: fleet, broker, coverage, content
 *   npm run bench -- --only fleet --drill kill     # + SIGKILL under load at 10 000 devices, zero-loss check
 *   npm run bench -- --quick                       # small sizes, a smoke run of the whole bench (~2 min)
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { runBrokerCompare } from './scenarios/broker-compare.js';
import { runContentSync } from './scenarios/content-sync.js';
import { runCoverageBench } from './scenarios/coverage-dashboard.js';
import { runFleetBench } from './scenarios/fleet-bench.js';
import { renderTable } from './scenarios/table.js';

const { values } = parseArgs({
  options: {
    only: { type: 'string', default: 'fleet,broker,coverage,content' },
    sizes: { type: 'string', default: '1000,5000,10000' },
    workers: { type: 'string', default: '3' },
    nominal: { type: 'string', default: '30' },
    probe: { type: 'string', default: '10' },
    hold: { type: 'string', default: '60' },
    down: { type: 'string', default: '10' },
    prefill: { type: 'string', default: '1000000' },
    drill: { type: 'string', default: '' },
    'storm-cap': { type: 'string', default: '180' },
    'search-steps': { type: 'string', default: '6' },
    'search-seconds': { type: 'string', default: '15' },
    'hold-rate': { type: 'string' },
    'skip-restart': { type: 'boolean', default: false },
    'broker-seconds': { type: 'string', default: '15' },
    'content-devices': { type: 'string', default: '1000' },
    'coverage-requests': { type: 'string', default: '30' },
    'content-mib': { type: 'string', default: '50' },
    quick: { type: 'boolean', default: false },
  },
});

const quick = values.quick;
const only = new Set(values.only.split(','));
const started = Date.now();
const log = (line: string) => console.log(`[${((Date.now() - started) / 1000).toFixed(0).padStart(3)} s] ${line}`);

function machine() {
  let ulimit = 'unknown';
  try {
    ulimit = execFileSync('/bin/sh', ['-c', 'ulimit -n']).toString().trim();
  } catch {}
  return {
    cpus: cpus().length,
    cpuModel: cpus()[0]?.model ?? 'unknown',
    memGiB: Math.round(totalmem() / 1024 ** 3),
    node: process.version,
    openFilesLimit: ulimit,
  };
}

const results: Record<string, unknown> = { startedAt: new Date(started).toISOString(), machine: machine(), args: values };
const num = (s: string) => Number(s);

async function step(name: string, run: () => Promise<unknown>): Promise<void> {
  if (!only.has(name)) return;
  // The machine is shared: the load average says how much of it the figures had.
  const loadBefore = loadavg()[0];
  log(`${name}… (load average ${loadBefore?.toFixed(1)})`);
  try {
    const out = await run();
    results[name] = { ...(out as object), loadAverage1mBefore: loadBefore, loadAverage1mAfter: loadavg()[0] };
  } catch (error) {
    log(`${name} FAILED: ${(error as Error).stack}`);
    results[name] = { error: (error as Error).message };
    process.exitCode = 1;
  }
}

await step('fleet', () =>
  runFleetBench({
    sizes: quick ? [200, 500] : values.sizes.split(',').map(num),
    workers: num(values.workers),
    nominalSeconds: quick ? 5 : num(values.nominal),
    probeSeconds: quick ? 5 : num(values.probe),
    holdSeconds: quick ? 10 : num(values.hold),
    downSeconds: quick ? 3 : num(values.down),
    prefillRows: quick ? 10_000 : num(values.prefill),
    killDrill: values.drill.split(',').includes('kill'),
    stormCapSeconds: num(values['storm-cap']),
    searchSteps: num(values['search-steps']),
    ...(values['hold-rate'] ? { holdRate: num(values['hold-rate']) } : {}),
    skipRestart: values['skip-restart'],
    searchSeconds: quick ? 5 : num(values['search-seconds']),
    log,
  }),
);
await step('broker', () =>
  runBrokerCompare({
    publishers: quick ? 200 : 1000,
    seconds: quick ? 5 : num(values['broker-seconds']),
    workers: num(values.workers),
    log,
  }),
);
await step('coverage', () => runCoverageBench({ requests: quick ? 10 : num(values['coverage-requests']), log }));
await step('content', () =>
  runContentSync({
    devices: quick ? 50 : num(values['content-devices']),
    updateMiB: quick ? 5 : num(values['content-mib']),
    log,
  }),
);

results.totalSeconds = (Date.now() - started) / 1000;
const dir = resolve(import.meta.dirname, 'results');
mkdirSync(dir, { recursive: true });
const file = join(dir, `bench-${new Date(started).toISOString().replace(/[:.]/g, '-')}.json`);
writeFileSync(file, `${JSON.stringify(results, null, 2)}\n`);
console.log(`\n${renderTable(results)}\n\nwritten to ${file} (${results.totalSeconds} s)`);
