/**
 * The disk under the data directory, as the ingest uses it (docs/performance.md, "Where the tail is"): appends
 * of `--kib` KiB each followed by `fdatasync`, `--rate` a second (the group commit's WAL syncs), first alone, then
 * beside a thread that writes `--pages` random 4 KiB pages a second into another file and fsyncs it every second
 * (what the checkpointer does to fleet.db). Prints the fdatasync latency of both. Bounded: 2 × `--seconds`.
 *
 *   npm run bench:disk -- --dir /var/lib/fleet-server --kib 440 --rate 65 --pages 5000 --seconds 20
 */
import { closeSync, fdatasyncSync, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Worker } from 'node:worker_threads';
import { percentile } from './lib/proc.js';

const { values } = parseArgs({
  options: {
    dir: { type: 'string', default: tmpdir() },
    kib: { type: 'string', default: '440' },
    rate: { type: 'string', default: '65' },
    pages: { type: 'string', default: '5000' },
    seconds: { type: 'string', default: '20' },
  },
});
const KIB = Number(values.kib);
const RATE = Number(values.rate);
const PAGES = Number(values.pages);
const SECONDS = Math.min(Number(values.seconds), 120);
for (const [name, n] of Object.entries({ kib: KIB, rate: RATE, pages: PAGES, seconds: SECONDS })) {
  if (!Number.isFinite(n) || n <= 0) {
    console.error(`--${name} must be a positive number (got ${JSON.stringify(values[name as keyof typeof values])})`);
    process.exit(2);
  }
}

// The background writer: plain JavaScript in a worker thread, so its I/O runs beside the main thread's.
const WRITER = `
const { openSync, writeSync, fsyncSync, closeSync } = require('node:fs');
const { workerData, parentPort } = require('node:worker_threads');
const fd = openSync(workerData.file, 'w');
const page = Buffer.alloc(4096, 3);
let stop = false;
parentPort.on('message', () => { stop = true; });
(async () => {
  while (!stop) {
    const t = Date.now();
    for (let i = 0; i < workerData.pages; i++) writeSync(fd, page, 0, 4096, Math.floor(Math.random() * 25000) * 4096);
    fsyncSync(fd);
    await new Promise((r) => setTimeout(r, Math.max(0, 1000 - (Date.now() - t))));
  }
  closeSync(fd);
  parentPort.postMessage('stopped');
})();
`;

async function appendAndSync(file: string): Promise<number[]> {
  const fd = openSync(file, 'w');
  const chunk = Buffer.alloc(KIB * 1024, 7);
  const latencies: number[] = [];
  const end = performance.now() + SECONDS * 1000;
  let position = 0;
  while (performance.now() < end) {
    const due = performance.now() + 1000 / RATE;
    writeSync(fd, chunk, 0, chunk.length, position);
    // Like the WAL: restarted from its start once it reached 40 MiB (SQLite reuses the file, same size).
    position = position + chunk.length > 40 * 1024 * 1024 ? 0 : position + chunk.length;
    const t = performance.now();
    fdatasyncSync(fd);
    latencies.push(performance.now() - t);
    await new Promise((r) => setTimeout(r, Math.max(0, due - performance.now())));
  }
  closeSync(fd);
  return latencies;
}

function line(name: string, xs: number[]): string {
  const q = (p: number) => percentile(xs, p).toFixed(1);
  return `| ${name} | ${xs.length} | ${q(50)} | ${q(90)} | ${q(99)} | ${Math.max(...xs).toFixed(1)} |`;
}

const dir = mkdtempSync(join(values.dir, 'disk-fsync-'));
try {
  const alone = await appendAndSync(join(dir, 'wal'));
  const writer = new Worker(WRITER, { eval: true, workerData: { file: join(dir, 'db'), pages: PAGES } });
  const beside = await appendAndSync(join(dir, 'wal'));
  const stopped = new Promise((r) => writer.once('message', r));
  writer.postMessage('stop');
  await stopped;
  await writer.terminate();
  console.log(`\n${KIB} KiB appended and fdatasync'd ${RATE}/s for ${SECONDS} s in ${dir}\n`);
  console.log('| fdatasync | syncs | p50 ms | p90 ms | p99 ms | max ms |');
  console.log('|---|---|---|---|---|---|');
  console.log(line('alone', alone));
  console.log(line(`beside ${PAGES} random page writes/s + fsync each second`, beside));
} finally {
  rmSync(dir, { recursive: true, force: true });
}
