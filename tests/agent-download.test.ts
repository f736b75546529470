/**
 * Content sync against a real HTTP server on port 0 that misbehaves on demand: a 206 that does not fit the range, a
 * truncated body, a piece spoiled once, a file gone (404), refused credentials (401), a disk too small for the set,
 * a download window that closes mid-file (server time from the `Date` header, the wall clock stepped), and the jitter
 * of power-on/reconnect syncs.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, open, rm, stat, statfs } from 'node:fs/promises';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { AgentClock } from '../agent/clock.js';
import type { AgentSettings } from '../agent/config.js';
import { ContentStore } from '../agent/content-store.js';
import { ContentSync } from '../agent/content-sync.js';
import { downloadFile } from '../agent/downloader.js';
import {
  generateSigningKeys,
  type ManifestFile,
  type ManifestItem,
  type SignedManifest,
  type SyncMessage,
  signManifest,
} from '../protocol/index.js';
import { silent } from './helpers/agent-fixture.js';

const DEVICE = 'kiosk-dl-1';
const SECRET = 's'.repeat(24);
const CHUNK = 64 * 1024;

type Fault =
  | { kind: 'cut'; after: number }
  | { kind: 'range-start'; start: number }
  | { kind: 'spoil'; at: number }
  | { kind: 'status'; status: number };

class FaultServer {
  readonly keys = generateSigningKeys();
  readonly files = new Map<string, Buffer>();
  /** Faults per file, each used once (first in, first out). */
  readonly faults = new Map<string, Fault[]>();
  readonly requests: Array<{ sha: string; range: string | undefined; status: number; bytes: number; at: number }> = [];
  /** Offset of the server's clock from this process's (ms): what its `Date` header says. */
  serverOffsetMs = 0;
  /** Pause before each body write (keeps a download in flight). */
  delayMs = 0;
  status401 = false;
  private signed: SignedManifest | null = null;
  private readonly server = createServer((req, res) => void this.handle(req, res));
  url = '';

  async start(): Promise<this> {
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    this.url = `http://127.0.0.1:${(this.server.address() as { port: number }).port}`;
    return this;
  }
  close(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((r) => this.server.close(() => r()));
  }
  addFile(buf: Buffer): ManifestFile {
    const sha256 = createHash('sha256').update(buf).digest('hex');
    this.files.set(sha256, buf);
    return { sha256, size: buf.length, mime: 'video/mp4' };
  }
  publish(seq: number, items: ManifestItem[]): void {
    const issued = Date.now() + this.serverOffsetMs;
    this.signed = signManifest(
      {
        v: 1,
        deviceId: DEVICE,
        seq,
        issuedAt: new Date(issued).toISOString(),
        expiresAt: new Date(issued + 7 * 86_400_000).toISOString(),
        items,
      },
      this.keys,
    );
  }
  bytesFor(sha: string): number {
    return this.requests.filter((r) => r.sha === sha).reduce((n, r) => n + r.bytes, 0);
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    res.sendDate = false;
    res.setHeader('date', new Date(Date.now() + this.serverOffsetMs).toUTCString());
    const expected = `Basic ${Buffer.from(`${DEVICE}:${SECRET}`).toString('base64')}`;
    if (this.status401 || req.headers.authorization !== expected) {
      res.writeHead(401).end();
      return;
    }
    if (req.url === `/api/v1/devices/${DEVICE}/manifest`) {
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(this.signed));
      return;
    }
    const sha = /^\/files\/([0-9a-f]{64})$/.exec(req.url ?? '')?.[1] ?? '';
    const file = this.files.get(sha);
    const fault = this.faults.get(sha)?.shift();
    const log = { sha, range: req.headers.range, status: 0, bytes: 0, at: performance.now() };
    this.requests.push(log);
    if (!file || fault?.kind === 'status') {
      log.status = fault?.kind === 'status' ? fault.status : 404;
      res.writeHead(log.status).end();
      return;
    }
    const m = /^bytes=(\d+)-(\d*)$/.exec(req.headers.range ?? '');
    let start = m ? Number(m[1]) : 0;
    const end = m?.[2] ? Number(m[2]) : file.length - 1;
    if (fault?.kind === 'range-start') start = fault.start;
    let body = Buffer.from(file.subarray(start, end + 1));
    if (fault?.kind === 'spoil') body[fault.at - start] = (body[fault.at - start] ?? 0) ^ 0xff;
    if (fault?.kind === 'cut') body = body.subarray(0, fault.after - start);
    log.status = m || fault?.kind === 'range-start' ? 206 : 200;
    res.writeHead(log.status, {
      'content-length': String(fault?.kind === 'cut' ? end - start + 1 : body.length),
      ...(log.status === 206 ? { 'content-range': `bytes ${start}-${end}/${file.length}` } : {}),
    });
    for (let at = 0; at < body.length; at += 16 * 1024) {
      if (this.delayMs) await new Promise((r) => setTimeout(r, this.delayMs));
      const piece = body.subarray(at, at + 16 * 1024);
      log.bytes += piece.length;
      if (!res.write(piece)) await new Promise((r) => res.once('drain', r));
    }
    if (fault?.kind === 'cut') res.destroy();
    else res.end();
  }
}

function item(id: string, file: ManifestFile): ManifestItem {
  return {
    id,
    version: 1,
    kind: 'video',
    topics: ['border-law'],
    validFrom: null,
    validTo: null,
    translations: { vi: { title: id, summary: 's', file } },
  };
}

let cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => {});
  cleanups = [];
});

interface Rig {
  server: FaultServer;
  store: ContentStore;
  sync: ContentSync;
  reports: SyncMessage[];
  events: Array<{ type: string; message: string }>;
  settings: AgentSettings;
  dir: string;
}

async function rig(
  o: {
    wall?: () => number;
    diskReserveBytes?: number;
    triggerJitterMs?: number;
    random?: () => number;
    retryBaseMs?: number;
  } = {},
): Promise<Rig> {
  const server = await new FaultServer().start();
  const dir = await mkdtemp(join(tmpdir(), 'agent-dl-'));
  cleanups.push(
    () => server.close(),
    () => rm(dir, { recursive: true, force: true }),
  );
  const store = new ContentStore(dir);
  await store.init();
  const reports: SyncMessage[] = [];
  const events: Array<{ type: string; message: string }> = [];
  const settings: AgentSettings = { healthIntervalS: 60, syncCron: '0 3 * * *', downloadWindow: null, bandwidthLimit: null };
  const sync = new ContentSync({
    deviceId: DEVICE,
    apiUrl: server.url,
    secret: SECRET,
    manifestKey: server.keys.publicKeyPem,
    store,
    settings: () => settings,
    clock: o.wall ?? Date.now,
    time: new AgentClock({ wall: o.wall ?? Date.now }),
    log: silent,
    publishSync: (m) => reports.push(m),
    publishEvent: (type, _s, message) => events.push({ type, message }),
    onApplied: () => {},
    diskReserveBytes: o.diskReserveBytes ?? 0,
    retryBaseMs: o.retryBaseMs ?? 3_600_000,
    chunkBytes: CHUNK,
    ...(o.triggerJitterMs !== undefined ? { triggerJitterMs: o.triggerJitterMs } : {}),
    ...(o.random ? { random: o.random } : {}),
  });
  cleanups.push(() => sync.close());
  await sync.init();
  return { server, store, sync, reports, events, settings, dir };
}

describe('downloads under field faults', () => {
  it('keeps a 90 % part when a 206 does not start at the offset asked for, and uses one that starts before it', async () => {
    const r = await rig();
    const bytes = randomBytes(10 * CHUNK);
    const f = r.server.addFile(bytes);
    r.server.publish(1, [item('v', f)]);
    const nine = 9 * CHUNK;
    r.server.faults.set(f.sha256, [
      { kind: 'cut', after: nine },
      { kind: 'range-start', start: bytes.length - 1000 },
    ]);
    expect((await r.sync.trigger('command')).state).toBe('failed'); // truncated at 90 %
    // What reached the disk before the cut (the socket drops what was still in flight).
    const kept = (await stat(r.store.partPath(f.sha256))).size;
    expect(kept).toBeGreaterThan(nine / 2);
    // A 206 claiming bytes after the offset cannot be used: refused, the part untouched.
    expect(await r.sync.trigger('command')).toMatchObject({ state: 'failed', error: expect.stringContaining('content-range') });
    expect((await stat(r.store.partPath(f.sha256))).size).toBe(kept);
    // A 206 from an earlier offset repeats bytes the part holds: skipped, the rest appended.
    r.server.faults.set(f.sha256, [{ kind: 'range-start', start: 4 * CHUNK }]);
    expect(await r.sync.trigger('command')).toMatchObject({ state: 'applied', seq: 1 });
    const ranges = r.server.requests.filter((q) => q.sha === f.sha256).map((q) => q.range);
    expect(ranges).toEqual([undefined, `bytes=${kept}-`, `bytes=${kept}-`]);
    expect(r.store.isKnownGood(f.sha256)).toBe(true);
  });

  it('fetches again the one piece spoiled in transit, not the file', async () => {
    const r = await rig();
    const bytes = randomBytes(16 * CHUNK);
    const f = r.server.addFile(bytes);
    r.server.publish(1, [item('v', f)]);
    r.server.faults.set(f.sha256, [{ kind: 'spoil', at: CHUNK + 77 }]);
    expect(await r.sync.trigger('command')).toMatchObject({ state: 'applied', seq: 1 });
    const served = r.server.bytesFor(f.sha256);
    // The whole file once, then pieces 0 and 1 again (the first that came back different was the bad one).
    expect(served).toBe(bytes.length + 2 * CHUNK);
    expect(r.events.map((e) => e.type)).not.toContain('content_hash_mismatch');
  });

  it('fetches again only the piece that changed on disk while the download waited', async () => {
    const r = await rig();
    const bytes = randomBytes(16 * CHUNK);
    const f = r.server.addFile(bytes);
    r.server.publish(1, [item('v', f)]);
    r.server.faults.set(f.sha256, [{ kind: 'cut', after: 12 * CHUNK }]);
    expect((await r.sync.trigger('command')).state).toBe('failed');
    // Bit rot in piece 5 of the part on disk.
    const part = r.store.partPath(f.sha256);
    const fh = await open(part, 'r+');
    await fh.write(Buffer.from([0xaa ^ (bytes[5 * CHUNK + 3] ?? 0)]), 0, 1, 5 * CHUNK + 3);
    await fh.close();
    const before = r.server.bytesFor(f.sha256);
    expect(await r.sync.trigger('command')).toMatchObject({ state: 'applied', seq: 1 });
    expect(r.server.bytesFor(f.sha256) - before).toBe(4 * CHUNK + CHUNK);
    const ranges = r.server.requests.filter((q) => q.sha === f.sha256).map((q) => q.range);
    expect(ranges.at(-1)).toBe(`bytes=${5 * CHUNK}-${6 * CHUNK - 1}`);
  });

  it('a file gone from the server (404) is skipped and reported; the other items apply, later manifests too', async () => {
    const r = await rig();
    const a = r.server.addFile(randomBytes(3 * CHUNK));
    const gone = r.server.addFile(randomBytes(2 * CHUNK));
    const c = r.server.addFile(randomBytes(CHUNK));
    r.server.files.delete(gone.sha256);
    r.server.publish(1, [item('a', a), item('gone', gone), item('c', c)]);
    expect(await r.sync.trigger('command')).toMatchObject({ state: 'applied', seq: 1, skipped: 1 });
    expect(r.store.isKnownGood(a.sha256) && r.store.isKnownGood(c.sha256)).toBe(true);
    expect(r.reports.at(-1)).toMatchObject({
      state: 'applied',
      manifestSeq: 1,
      missing: 1,
      error: expect.stringContaining(gone.sha256),
    });
    expect(r.events).toContainEqual(
      expect.objectContaining({ type: 'content_file_missing', message: expect.stringContaining('gone') }),
    );
    const d = r.server.addFile(randomBytes(CHUNK));
    r.server.publish(2, [item('a', a), item('gone', gone), item('d', d)]);
    expect(await r.sync.trigger('command')).toMatchObject({ state: 'applied', seq: 2, skipped: 1 });
    expect(r.sync.currentManifest?.signed.manifest.seq).toBe(2);
  });

  it('401 is a credentials problem: reported as an event, not retried file after file', async () => {
    const r = await rig();
    const a = r.server.addFile(randomBytes(CHUNK));
    const b = r.server.addFile(randomBytes(CHUNK));
    r.server.publish(1, [item('a', a), item('b', b)]);
    r.server.faults.set(a.sha256, [{ kind: 'status', status: 401 }]);
    expect((await r.sync.trigger('command')).state).toBe('failed');
    expect(r.events.map((e) => e.type)).toContain('credentials_refused');
    expect(r.server.requests.filter((q) => q.sha === b.sha256)).toHaveLength(0);
  });

  it('checks free space for the whole set of missing bytes before the first byte', async () => {
    const probe = await mkdtemp(join(tmpdir(), 'agent-dl-probe-'));
    const fs = await statfs(probe);
    await rm(probe, { recursive: true });
    const free = fs.bavail * fs.bsize;
    // Each file fits alone (with the reserve); the two together do not.
    const size = 4 * CHUNK;
    const r = await rig({ diskReserveBytes: free - size - size / 2 });
    const a = r.server.addFile(randomBytes(size));
    const b = r.server.addFile(randomBytes(size));
    r.server.publish(1, [item('a', a), item('b', b)]);
    expect(await r.sync.trigger('command')).toMatchObject({
      state: 'failed',
      error: expect.stringContaining('not enough disk space'),
    });
    expect(r.server.requests.filter((q) => q.sha)).toHaveLength(0);
    expect(r.events.map((e) => e.type)).toContain('disk_full');
  });

  it('pauses when the download window closes mid-file, reports waiting_window, judged on server time', async () => {
    // The kiosk's wall clock is a year ahead; the server's Date header is what counts.
    const r = await rig({ wall: () => Date.now() + 366 * 86_400_000 });
    const bytes = randomBytes(40 * CHUNK);
    const f = r.server.addFile(bytes);
    r.server.delayMs = 20; // ~80 ms a piece: ~3 s for the file
    // The server's clock stands 1.5 s before a minute boundary, where the window closes.
    const boundary = Math.ceil((Date.now() + 120_000) / 60_000) * 60_000;
    r.server.serverOffsetMs = boundary - 1500 - Date.now();
    r.server.publish(1, [item('v', f)]);
    const hhmm = (ms: number): string => {
      const d = new Date(ms);
      return `${String(d.getHours()).padStart(2, '0')}:${String(d.getMinutes()).padStart(2, '0')}`;
    };
    r.settings.downloadWindow = `${hhmm(boundary - 3_600_000)}-${hhmm(boundary)}`;
    const outcome = await r.sync.trigger('cron');
    expect(outcome).toMatchObject({ state: 'waiting_window', missing: 1 });
    const kept = (await stat(r.store.partPath(f.sha256))).size;
    expect(kept).toBeGreaterThan(0);
    expect(kept).toBeLessThan(bytes.length);
    expect(r.reports.at(-1)).toMatchObject({ state: 'waiting_window', manifestSeq: 1, missing: 1 });
    // sync_now ignores the window and resumes from the part.
    expect(await r.sync.trigger('command')).toMatchObject({ state: 'applied', seq: 1 });
    expect(r.server.requests.filter((q) => q.sha === f.sha256).at(-1)?.range).toBe(`bytes=${kept}-`);
  });

  it('paces the bandwidth on the monotonic clock: a wall clock stepped back a day does not sleep for a day', async () => {
    const r = await rig();
    const bytes = randomBytes(8 * CHUNK);
    const f = r.server.addFile(bytes);
    const sleeps: number[] = [];
    vi.useFakeTimers({ toFake: ['Date'], now: Date.now() });
    cleanups.push(async () => void vi.useRealTimers());
    let stepped = false;
    await downloadFile(r.store, f, {
      apiUrl: r.server.url,
      authorization: `Basic ${Buffer.from(`${DEVICE}:${SECRET}`).toString('base64')}`,
      bandwidthLimit: 4 * CHUNK, // 2 s for the file
      signal: new AbortController().signal,
      onBytes: () => {
        if (!stepped) vi.setSystemTime(Date.now() - 86_400_000);
        stepped = true;
      },
      sleep: async (ms) => {
        sleeps.push(ms);
        await new Promise((res) => setTimeout(res, Math.min(ms, 5000)));
      },
      monotonic: () => performance.now(),
      reserveBytes: 0,
    });
    expect(r.store.isKnownGood(f.sha256)).toBe(true);
    expect(Math.max(...sleeps)).toBeLessThan(5000);
    expect(sleeps.reduce((a, b) => a + b, 0)).toBeGreaterThan(1000);
  });

  it('a power-on or reconnect sync with content on screen waits a random delay; sync_now and notices do not', async () => {
    const r = await rig({ triggerJitterMs: 60_000, random: () => 0.5 });
    const a = r.server.addFile(randomBytes(CHUNK));
    r.server.publish(1, [item('a', a)]);
    expect((await r.sync.trigger('start')).state).toBe('applied'); // nothing on screen: at once
    const before = r.server.requests.length;
    let answered = false;
    const start = r.sync.trigger('reconnect').then((o) => {
      answered = true;
      return o;
    });
    await new Promise((res) => setTimeout(res, 300));
    expect(answered).toBe(false);
    expect(r.server.requests.length).toBe(before);
    // A notice runs at once and answers the deferred trigger too.
    expect((await r.sync.trigger('notice')).state).toBe('unchanged');
    expect((await start).state).toBe('unchanged');
  });

  it('a download cut twice resumes when the link comes back, within seconds: not the fleet reconnect jitter, not a grown backoff', async () => {
    // The agent's real figures: reconnect jitter 120 s, retry base 30 s. random 0.2: the old delays were 24 s and 6 s, 12 s.
    const r = await rig({ triggerJitterMs: 120_000, retryBaseMs: 30_000, random: () => 0.2 });
    const small = r.server.addFile(randomBytes(CHUNK));
    r.server.publish(1, [item('on-screen', small)]);
    expect(await r.sync.trigger('command')).toMatchObject({ state: 'applied', seq: 1 });
    const bytes = randomBytes(16 * CHUNK);
    const f = r.server.addFile(bytes);
    r.server.faults.set(f.sha256, [
      { kind: 'cut', after: 5 * CHUNK },
      { kind: 'cut', after: 10 * CHUNK },
    ]);
    r.server.publish(2, [item('on-screen', small), item('update', f)]);
    expect((await r.sync.trigger('notice')).state).toBe('failed'); // the link broke mid-file
    const t0 = performance.now();
    const within = <T>(p: Promise<T>, ms: number): Promise<T | 'late'> =>
      Promise.race([p, new Promise<'late'>((res) => setTimeout(() => res('late'), ms))]);
    // The MQTT link is back: the cut download resumes (0.2 × 5 s), is cut again, the link is back again, it completes.
    expect(await within(r.sync.trigger('reconnect'), 4000)).toMatchObject({ state: 'failed' });
    expect(await within(r.sync.trigger('reconnect'), 4000)).toMatchObject({ state: 'applied', seq: 2 });
    expect(performance.now() - t0).toBeLessThan(5000);
    // Each try went on from the part, further each time (a start from 0 would cost ≥ 1.9 × the file).
    const tries = r.server.requests.filter((q) => q.sha === f.sha256);
    const offsets = tries.map((q) => Number(/^bytes=(\d+)-$/.exec(q.range ?? 'bytes=0-')?.[1]));
    expect(offsets).toHaveLength(3);
    expect(offsets[0]).toBe(0);
    expect(offsets[1]).toBeGreaterThan(0);
    expect(offsets[2]).toBeGreaterThan(offsets[1] as number);
    expect(r.server.bytesFor(f.sha256)).toBeLessThan(1.5 * bytes.length);
    expect(r.store.isKnownGood(f.sha256)).toBe(true);
    // Nothing is cut any more: a reconnect now is a fleet reconnect again and waits its jitter (0.2 × 120 s).
    let answered = false;
    void r.sync.trigger('reconnect').then(() => {
      answered = true;
    });
    await new Promise((res) => setTimeout(res, 1500));
    expect(answered).toBe(false);
  });

  it('a try that moved the download on starts the backoff again; tries without progress double it', async () => {
    const base = 300;
    const r = await rig({ retryBaseMs: base, random: () => 0.99 });
    const bytes = randomBytes(16 * CHUNK);
    const f = r.server.addFile(bytes);
    // Four cuts, each after more bytes: the old backoff waited 0.3 + 0.6 + 1.2 + 2.4 s; each try made progress.
    r.server.faults.set(
      f.sha256,
      [3, 6, 9, 12].map((n) => ({ kind: 'cut', after: n * CHUNK }) as const),
    );
    r.server.publish(1, [item('v', f)]);
    const t0 = performance.now();
    expect((await r.sync.trigger('command')).state).toBe('failed');
    const applied = async (seq: number, ms: number): Promise<boolean> => {
      const deadline = performance.now() + ms;
      while (performance.now() < deadline) {
        if (r.reports.some((m) => m.state === 'applied' && m.manifestSeq === seq)) return true;
        await new Promise((res) => setTimeout(res, 20));
      }
      return false;
    };
    expect(await applied(1, 3000)).toBe(true);
    expect(performance.now() - t0).toBeLessThan(3000);
    expect(r.server.requests.filter((q) => q.sha === f.sha256)).toHaveLength(5);
    // A server that answers 503 three times moves nothing: 0.3 s, 0.6 s, 1.2 s between the tries.
    const g = r.server.addFile(randomBytes(CHUNK));
    r.server.faults.set(
      g.sha256,
      [1, 2, 3].map(() => ({ kind: 'status', status: 503 }) as const),
    );
    r.server.publish(2, [item('v', f), item('w', g)]);
    expect((await r.sync.trigger('command')).state).toBe('failed');
    expect(await applied(2, 5000)).toBe(true);
    const at = r.server.requests.filter((q) => q.sha === g.sha256).map((q) => q.at);
    expect(at).toHaveLength(4);
    const gaps = at.slice(1).map((t, i) => t - (at[i] as number));
    expect(gaps[0]).toBeGreaterThan(base * 0.8);
    expect(gaps[1]).toBeGreaterThan((gaps[0] as number) * 1.5);
    expect(gaps[2]).toBeGreaterThan((gaps[1] as number) * 1.5);
  });
});
