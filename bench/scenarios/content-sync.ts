/**
 * Scenario 6: `devices` kiosks pull a `updateMiB` content update: signed manifest, then the new file over
 * `/files/{sha256}`; every 20th device has its link cut halfway through and resumes with `Range`. Measures total
 * time, server CPU, and bytes sent against bytes needed (content addressing: the item the kiosks already hold is
 * not fetched again). The server is the content module's routes in a child process (bench/lib/content-server.ts);
 * the clients are two forked processes (bench/lib/content-client.ts).
 */
import { type ChildProcess, fork } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { sampleFiles } from '../../server/content/testing.js';
import { openDatabase } from '../../server/db/open-database.js';
import { seedReferenceData } from '../../server/db/seed.js';
import { registerFleet } from '../../tools/fleet-sim/provision.js';
import { freePort, MiB, procUsage } from '../lib/proc.js';
import { BENCH_ADMIN_PASSWORD, type ServerProcess, startServerProcess } from '../lib/server-process.js';

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

/** A person's cookie session; a Buffer body is sent as it is, anything else as JSON. */
async function session(url: string, username: string, password: string) {
  const login = await fetch(`${url}/api/v1/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username, password }),
  });
  if (login.status !== 200) throw new Error(`login ${username}: HTTP ${login.status}`);
  const cookie = login.headers.get('set-cookie')?.split(';')[0] ?? '';
  return async (method: string, path: string, body?: unknown, headers: Record<string, string> = {}) => {
    const raw = Buffer.isBuffer(body);
    const res = await fetch(`${url}${path}`, {
      method,
      headers: { cookie, ...(body !== undefined && !raw ? { 'content-type': 'application/json' } : {}), ...headers },
      ...(body === undefined ? {} : { body: raw ? (body as Buffer) : JSON.stringify(body) }),
    });
    return { status: res.status, text: await res.text() };
  };
}

const basicAuth = (id: string, secret: string) => `Basic ${Buffer.from(`${id}:${secret}`).toString('base64')}`;

/** The full server (server/main.ts) in a child process, content published through its own API and workflow. */
async function fullServer(
  devices: number,
  updateMiB: number,
): Promise<{ ready: Ready; server: ServerProcess; dataDir: string } | null> {
  const dataDir = mkdtempSync(join(tmpdir(), 'bench-content-'));
  const db = openDatabase(join(dataDir, 'fleet.db'));
  seedReferenceData(db);
  const creds = registerFleet(db, { count: devices, prefix: 'content', status: 'active' });
  db.close();
  const server = await startServerProcess({ dataDir, httpPort: await freePort(), mqttPort: await freePort() });
  const admin = await session(server.httpUrl, 'admin', BENCH_ADMIN_PASSWORD);
  const probe = await admin('GET', '/api/v1/content');
  if (probe.status === 404) {
    await server.stop();
    rmSync(dataDir, { recursive: true, force: true });
    return null;
  }
  const user = async (username: string, role: string) => {
    const res = await admin('POST', '/api/v1/users', { username, role, password: `${username}-password` });
    if (res.status !== 201) throw new Error(`user ${username}: HTTP ${res.status} ${res.text}`);
    return session(server.httpUrl, username, `${username}-password`);
  };
  const editor = await user('bench.editor', 'editor');
  const approver = await user('bench.approver', 'approver');
  const publish = async (bytes: Buffer, title: string) => {
    const created = await editor('POST', '/api/v1/content', { kind: 'video' });
    if (created.status !== 201) throw new Error(`create: HTTP ${created.status} ${created.text}`);
    const { id } = JSON.parse(created.text) as { id: string };
    await editor('PUT', `/api/v1/content/${id}/translations/vi`, { title });
    const up = await editor('PUT', `/api/v1/content/${id}/translations/vi/file`, bytes, { 'content-type': 'video/mp4' });
    if (up.status !== 201) throw new Error(`upload: HTTP ${up.status} ${up.text}`);
    const { file } = JSON.parse(up.text) as { file: { sha256: string; size: number } };
    for (const [step, who] of [
      ['submit', editor],
      ['approve', approver],
      ['publish', approver],
    ] as const) {
      const res = await who('POST', `/api/v1/content/${id}/${step}`);
      if (res.status !== 200) throw new Error(`${step}: HTTP ${res.status} ${res.text}`);
    }
    return file;
  };
  const held = await publish(sampleFiles.mp4(10 * MiB), 'Phim cũ (already on the kiosks)');
  const update = await publish(sampleFiles.mp4(updateMiB * MiB), 'Bản tin mới');
  return {
    server,
    dataDir,
    ready: {
      url: server.httpUrl,
      held,
      update,
      devices: creds.map((c) => ({ id: c.id, authorization: basicAuth(c.id, c.secret) })),
    },
  };
}

export async function runContentSync(o: { devices: number; updateMiB: number; log: (line: string) => void }) {
  const full = await fullServer(o.devices, o.updateMiB);
  if (full) {
    try {
      return await measure(full.ready, full.server.pid, 'the full server (server/main.ts), content published through its API', o);
    } finally {
      await full.server.stop();
      rmSync(full.dataDir, { recursive: true, force: true });
    }
  }
  o.log('  content routes not mounted in the full server: measuring the content module alone (bench/lib/content-server.ts)');
  const server = forkTs('content-server.ts', [String(o.devices), String(o.updateMiB)]);
  try {
    const ready = await once<Ready>(server, 180_000);
    return await measure(
      ready,
      server.pid as number,
      'content module routes alone (server/content/testing.ts) in a child process',
      o,
    );
  } finally {
    if (server.connected) {
      const exited = new Promise((r) => server.once('exit', r));
      server.send({ type: 'stop' });
      await exited;
    }
  }
}

async function measure(ready: Ready, serverPid: number, what: string, o: { devices: number; log: (line: string) => void }) {
  const clients: ChildProcess[] = [];
  try {
    o.log(`  content server ready: ${o.devices} devices, update ${ready.update.size} bytes`);
    const s0 = procUsage(serverPid);
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
    const s1 = procUsage(serverPid);
    const failed = replies.find((r) => !r.ok);
    if (failed) throw new Error(`content clients: ${failed.error}`);
    const sum = (k: string) => replies.reduce((n, r) => n + (r.stats[k] ?? 0), 0);
    const result = {
      what,
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
  }
}
