/**
 * Over-the-air updates of the kiosk itself (docs/releases.md). Layout under the release root (`/opt/kiosk`):
 *   releases/<version>/   one slot per release (release.json + its files), written under `.staging-*` then renamed
 *   current               symlink to the slot in force, replaced by rename (atomic)
 *   bin/kiosk-boot        the boot guard (agent/updater-boot.ts) the service manager starts
 *   update/               pending, previous, rollout, boots, result (plain one-value files, sh-readable), outbox.json
 * The updater asks the server which release this kiosk should run, verifies it (protocol `checkRelease`), takes each
 * file from the current slot when its sha256 is there already and downloads the others with the content downloader
 * (resumable, verified), only inside the download window; installs the new slot beside the current one, writes the
 * pending marker, switches `current` and restarts. The new version then has `proveWithinMs` to show it works
 * (connected, a health sample acknowledged, the kiosk page served, the browser's heartbeat when asked for): it commits,
 * or asks the boot guard to bring the previous slot back. Reports go out on `release` (QoS 1); the ones that settle an
 * update wait on disk until acknowledged.
 */
import { createHash, randomUUID } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { chmod, copyFile, mkdir, open, readdir, readFile, readlink, rename, rm, stat, symlink } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import type { Logger } from 'pino';
import {
  checkRelease,
  DeviceReleaseTarget,
  RELEASE_MANIFEST_FILE,
  type ReleaseFile,
  type ReleaseReport,
  type ReleaseReportState,
  SignedRelease,
  type Trust,
} from '../protocol/index.js';
import type { AgentSettings } from './config.js';
import { ContentStore, writeFileAtomic } from './content-store.js';
import { inDownloadWindow, msUntilWindow } from './download-window.js';
import { downloadFile } from './downloader.js';
import { ensureBootGuard } from './updater-boot.js';

export interface UpdaterProofs {
  connected: () => boolean;
  healthAcked: () => boolean;
  pageServed: () => Promise<boolean>;
  /** The browser's heartbeat; absent = not required (a kiosk without a screen, tests). */
  heartbeat?: (() => boolean) | undefined;
}

export interface UpdaterOptions {
  root: string;
  deviceId: string;
  apiUrl: string;
  secret: string;
  fetch?: typeof fetch | undefined;
  trust: () => Trust;
  settings: () => AgentSettings;
  clock: () => number;
  log: Logger;
  /** QoS 1 publish on `release`; rejects while the link is down. */
  publish: (report: ReleaseReport) => Promise<void>;
  proofs: UpdaterProofs;
  /** Ends the process so the service manager starts it again (through the boot guard). */
  restart: () => void;
  proveWithinMs?: number;
  reserveBytes?: number;
}

const sha256Of = async (path: string): Promise<string> => {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
};

async function fsyncPath(path: string): Promise<void> {
  const fh = await open(path, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/** The version `current` points at, or null when this is no release installation. */
export async function runningRelease(root: string): Promise<string | null> {
  const target = await readlink(join(root, 'current')).catch(() => null);
  return target ? (target.split('/').filter(Boolean).pop() ?? null) : null;
}

export class Updater {
  private readonly u: string;
  private proving: { version: string; rolloutId: string | null; timer: NodeJS.Timeout; poll: NodeJS.Timeout } | null = null;
  private running: Promise<void> | null = null;
  private again = false;
  private etag: string | null = null;
  private windowTimer: NodeJS.Timeout | null = null;
  private retryTimer: NodeJS.Timeout | null = null;
  private failures = 0;
  private closed = false;
  private readonly abort = new AbortController();
  private readonly cache: ContentStore;
  /** Bytes downloaded per version by this process, over every attempt (a resumed download counts what came before). */
  private readonly moved = new Map<string, number>();
  /** Versions this kiosk gave up on (rolled back or refused): never tried again. */
  private refused = new Set<string>();
  version: string | null = null;

  constructor(private readonly o: UpdaterOptions) {
    this.u = join(o.root, 'update');
    this.cache = new ContentStore(join(o.root, 'update', 'cache'));
  }

  private async read(name: string): Promise<string | null> {
    return (await readFile(join(this.u, name), 'utf8').catch(() => null))?.trim() ?? null;
  }

  private async put(name: string, value: string): Promise<void> {
    await writeFileAtomic(join(this.u, name), `${value}\n`);
  }

  /** At start: the boot guard, what a rollback left to report, and a pending update to prove. */
  async init(): Promise<void> {
    await mkdir(this.u, { recursive: true });
    await ensureBootGuard(this.o.root);
    this.version = await runningRelease(this.o.root);
    this.refused = new Set(((await this.read('refused')) ?? '').split('\n').filter(Boolean));
    const result = await readFile(join(this.u, 'result'), 'utf8').catch(() => null);
    const pending = await this.read('pending');
    const rolloutId = (await this.read('rollout')) || null;
    if (result !== null && pending === null) {
      // The guard brought the previous slot back: report why, never try that version again.
      const [version = '', ...why] = result.trim().split('\n');
      await this.enqueue({ version, rolloutId, state: 'rolled_back', reason: why.join(' ').slice(0, 3000) || 'rolled back' });
      await this.refuse(version);
      await rm(join(this.u, 'result'), { force: true });
      if (version && version !== this.version) await rm(join(this.o.root, 'releases', version), { recursive: true, force: true });
    }
    if (pending !== null && pending === this.version) this.startProving(pending, rolloutId);
    else if (pending !== null) await rm(join(this.u, 'pending'), { force: true });
    await this.cleanStaging();
    void this.flush();
  }

  private async refuse(version: string): Promise<void> {
    if (!version) return;
    this.refused.add(version);
    await this.put('refused', [...this.refused].slice(-50).join('\n'));
  }

  private async cleanStaging(): Promise<void> {
    const dir = join(this.o.root, 'releases');
    for (const name of await readdir(dir).catch(() => [] as string[])) {
      if (name.startsWith('.staging-')) await rm(join(dir, name), { recursive: true, force: true });
    }
  }

  /** Reports that settle an update wait in `outbox.json` until their PUBACK; progress reports are best effort. */
  private enqueue(r: Omit<ReleaseReport, 'ts' | 'running'>): Promise<void> {
    return this.withOutbox(async () => {
      const outbox = await this.outbox();
      outbox.push({ ...r, running: this.version ?? 'unknown', ts: this.o.clock() });
      await writeFileAtomic(join(this.u, 'outbox.json'), JSON.stringify(outbox));
    });
  }

  /** One outbox change at a time (a flush on reconnect must not race an enqueue or another flush). */
  private outboxLock: Promise<void> = Promise.resolve();
  private withOutbox(fn: () => Promise<void>): Promise<void> {
    const run = this.outboxLock.then(fn, fn);
    this.outboxLock = run.catch(() => {});
    return run;
  }

  private async outbox(): Promise<ReleaseReport[]> {
    try {
      return JSON.parse(await readFile(join(this.u, 'outbox.json'), 'utf8')) as ReleaseReport[];
    } catch {
      return [];
    }
  }

  /** Sends what waits in the outbox (on start and whenever the link comes up). */
  flush(): Promise<void> {
    return this.withOutbox(async () => {
      const outbox = await this.outbox();
      let sent = 0;
      for (const r of outbox) {
        try {
          await this.o.publish(r);
          sent++;
        } catch {
          break;
        }
      }
      if (sent > 0) await writeFileAtomic(join(this.u, 'outbox.json'), JSON.stringify(outbox.slice(sent)));
    });
  }

  private progress(
    version: string,
    rolloutId: string | null,
    state: ReleaseReportState,
    extra: { bytes?: number; reason?: string } = {},
  ): void {
    this.o
      .publish({ version, rolloutId, state, running: this.version ?? 'unknown', ts: this.o.clock(), ...extra })
      .catch(() => {});
  }

  private startProving(version: string, rolloutId: string | null): void {
    const within = this.o.proveWithinMs ?? 10 * 60_000;
    const missing = async (): Promise<string[]> => {
      const p = this.o.proofs;
      const out: string[] = [];
      if (!p.connected()) out.push('not connected to the server');
      if (!p.healthAcked()) out.push('no health sample acknowledged');
      if (!(await p.pageServed().catch(() => false))) out.push('the kiosk page is not served');
      if (p.heartbeat && !p.heartbeat()) out.push('no heartbeat from the browser');
      return out;
    };
    const poll = setInterval(() => {
      void missing().then((left) => (left.length === 0 ? this.commit() : undefined));
    }, 500);
    const timer = setTimeout(() => {
      void missing().then(async (left) => {
        if (left.length === 0) return this.commit();
        // The guard does the rollback (one implementation): say why, then restart into it.
        const reason = `not proven within ${Math.round(within / 1000)} s: ${left.join(', ')}`;
        this.o.log.error({ version, reason }, 'update not proven; rolling back');
        await writeFileAtomic(join(this.u, 'result'), `${version}\n${reason}\n`);
        this.o.restart();
      });
    }, within);
    this.proving = { version, rolloutId, timer, poll };
  }

  private async commit(): Promise<void> {
    const p = this.proving;
    if (!p) return;
    clearInterval(p.poll);
    clearTimeout(p.timer);
    this.proving = null;
    // The outbox first: a power cut after the marker is gone must still report the commit.
    await this.enqueue({ version: p.version, rolloutId: p.rolloutId, state: 'committed' });
    await rm(join(this.u, 'pending'), { force: true });
    await rm(join(this.u, 'boots'), { force: true });
    await fsyncPath(this.u);
    this.o.log.info({ version: p.version }, 'update committed');
    // Keep the slot in force and the one it came from; older slots go.
    const previous = await this.read('previous');
    for (const name of await readdir(join(this.o.root, 'releases')).catch(() => [] as string[])) {
      if (name !== p.version && name !== previous)
        await rm(join(this.o.root, 'releases', name), { recursive: true, force: true });
    }
    await this.flush();
  }

  get provingVersion(): string | null {
    return this.proving?.version ?? null;
  }

  /** Asks the server for this kiosk's release and moves towards it. One run at a time; a trigger during one makes one more. */
  check(): Promise<void> {
    if (this.running !== null) {
      this.again = true;
      return this.running;
    }
    this.running = (async () => {
      do {
        this.again = false;
        try {
          await this.runOnce();
          this.failures = 0;
        } catch (err) {
          if (!this.closed) {
            // A cut link or a server error: try again later (30 s doubling to 1 h), downloads resume where they were.
            const ms = Math.min(3_600_000, 30_000 * 2 ** this.failures++);
            this.o.log.warn({ err: (err as Error).message, retryInMs: ms }, 'release check failed; will retry');
            if (this.retryTimer) clearTimeout(this.retryTimer);
            this.retryTimer = setTimeout(() => void this.check(), ms);
            this.retryTimer.unref();
          }
        }
      } while (this.again && !this.closed);
      this.running = null;
    })();
    return this.running;
  }

  private auth(): string {
    return `Basic ${Buffer.from(`${this.o.deviceId}:${this.o.secret}`).toString('base64')}`;
  }

  private async runOnce(): Promise<void> {
    if (this.closed || this.proving || !this.version) return;
    const base = `${this.o.apiUrl.replace(/\/$/, '')}/api/v1/devices/${encodeURIComponent(this.o.deviceId)}/release`;
    const fetched = await this.target(base, this.etag);
    if (fetched === 'not_modified') return;
    const { etag, ...target } = fetched;
    if (!target.version || target.version === this.version || this.refused.has(target.version)) {
      this.etag = etag;
      return;
    }
    const check = checkRelease(target.release, {
      trust: this.o.trust(),
      // The release brings its own runtime: only platform and arch must match this machine.
      target: { platform: process.platform, arch: process.arch, modules: null },
      now: new Date(this.o.clock()),
    });
    if (!check.ok) {
      this.o.log.error({ version: target.version, reason: check.reason }, 'release refused');
      await this.enqueue({
        version: target.version,
        rolloutId: target.rolloutId,
        state: 'failed',
        reason: `refused: ${check.reason}: ${check.message}`,
      });
      await this.refuse(target.version);
      this.etag = etag;
      return this.flush();
    }
    const settings = this.o.settings();
    const now = new Date(this.o.clock());
    if (!inDownloadWindow(settings.downloadWindow, now)) {
      if (this.windowTimer) clearTimeout(this.windowTimer);
      this.windowTimer = setTimeout(() => void this.check(), msUntilWindow(settings.downloadWindow, now) + 1000);
      this.windowTimer.unref();
      return;
    }
    await this.install(check.signed, target.release, target.rolloutId, `${base}`);
    this.etag = etag;
  }

  private async target(
    base: string,
    etag: string | null = null,
  ): Promise<'not_modified' | (DeviceReleaseTarget & { etag: string | null })> {
    const res = await (this.o.fetch ?? fetch)(base, {
      headers: { authorization: this.auth(), ...(etag ? { 'if-none-match': etag } : {}) },
      signal: AbortSignal.any([this.abort.signal, AbortSignal.timeout(60_000)]),
    });
    if (res.status === 304) return 'not_modified';
    if (!res.ok) {
      await res.body?.cancel();
      throw new Error(`release check: server answered ${res.status}`);
    }
    return { ...DeviceReleaseTarget.parse(await res.json()), etag: res.headers.get('etag') };
  }

  /** Files of the current slot by sha256 (from its release.json): what need not move again. */
  private async currentFiles(): Promise<Map<string, string>> {
    const slot = join(this.o.root, 'releases', this.version as string);
    const byHash = new Map<string, string>();
    try {
      const held = SignedRelease.parse(JSON.parse(await readFile(join(slot, RELEASE_MANIFEST_FILE), 'utf8')));
      for (const f of held.release.files) byHash.set(f.sha256, join(slot, f.path));
    } catch {
      // No readable release.json (a hand-made slot): every file is downloaded.
    }
    return byHash;
  }

  private async install(signed: SignedRelease, raw: unknown, rolloutId: string | null, base: string): Promise<void> {
    const { version, files } = signed.release;
    const releases = join(this.o.root, 'releases');
    const have = await this.currentFiles();
    await this.cache.init();
    // Only what the current slot lacks (or holds damaged) is downloaded.
    const sources = new Map<string, string>();
    const toFetch: ReleaseFile[] = [];
    for (const f of files) {
      if (sources.has(f.sha256)) continue;
      const local = have.get(f.sha256);
      if (local && (await sha256Of(local).catch(() => null)) === f.sha256) sources.set(f.sha256, local);
      else if (await this.cache.verify(f.sha256)) sources.set(f.sha256, this.cache.filePath(f.sha256));
      else if (!toFetch.some((x) => x.sha256 === f.sha256)) toFetch.push(f);
    }
    let bytes = this.moved.get(version) ?? 0;
    if (toFetch.length > 0) this.progress(version, rolloutId, 'downloading', { bytes });
    for (const f of toFetch) {
      await downloadFile(
        this.cache,
        { sha256: f.sha256, size: f.size, mime: 'application/octet-stream' },
        {
          apiUrl: base,
          authorization: this.auth(),
          bandwidthLimit: this.o.settings().bandwidthLimit,
          signal: this.abort.signal,
          onBytes: (n) => {
            bytes += n;
            this.moved.set(version, bytes);
          },
          sleep: (ms) => new Promise((r) => setTimeout(r, ms)),
          monotonic: () => performance.now(),
          reserveBytes: this.o.reserveBytes ?? 64 * 2 ** 20,
          fetch: this.o.fetch,
        },
      );
      sources.set(f.sha256, this.cache.filePath(f.sha256));
    }
    // The new slot, beside the current one: written under a temporary name, every file fsynced, then renamed.
    const staging = join(releases, `.staging-${randomUUID().slice(0, 8)}`);
    await mkdir(staging, { recursive: true });
    for (const f of files) {
      const to = join(staging, f.path);
      await mkdir(dirname(to), { recursive: true });
      await copyFile(sources.get(f.sha256) as string, to);
      await chmod(to, f.mode);
      await fsyncPath(to);
    }
    await writeFileAtomic(join(staging, RELEASE_MANIFEST_FILE), JSON.stringify(raw));
    const slot = join(releases, version);
    await rm(slot, { recursive: true, force: true });
    await rename(staging, slot);
    await fsyncPath(releases);
    for (const f of toFetch) await rm(this.cache.filePath(f.sha256), { force: true });
    this.progress(version, rolloutId, 'installed', { bytes });
    this.o.log.info({ version, downloaded: toFetch.length, reused: files.length - toFetch.length, bytes }, 'release installed');
    if (this.closed) return;
    // Still the target? An abort (or a newer rollout) while this was downloading: drop it, never switch.
    const still = await this.target(base);
    if (still !== 'not_modified' && still.version !== version) {
      this.o.log.info({ version, now: still.version }, 'release no longer the target; not switching');
      await rm(slot, { recursive: true, force: true });
      return;
    }
    // The marker before the switch: a start finding `pending` with `current` elsewhere knows the switch never happened.
    await this.put('previous', this.version as string);
    await this.put('rollout', rolloutId ?? '');
    await rm(join(this.u, 'boots'), { force: true });
    await this.put('pending', version);
    const next = join(this.o.root, 'current.next');
    await rm(next, { force: true });
    await symlink(join('releases', version), next);
    await rename(next, join(this.o.root, 'current'));
    await fsyncPath(this.o.root);
    this.progress(version, rolloutId, 'switched', { bytes });
    this.o.log.info({ version }, 'switched; restarting into the new release');
    await new Promise((r) => setTimeout(r, 300));
    this.o.restart();
  }

  async close(): Promise<void> {
    this.closed = true;
    this.abort.abort();
    if (this.proving) {
      clearInterval(this.proving.poll);
      clearTimeout(this.proving.timer);
    }
    if (this.windowTimer) clearTimeout(this.windowTimer);
    if (this.retryTimer) clearTimeout(this.retryTimer);
    await this.running?.catch(() => {});
  }
}

/** Whether `path` exists (for callers deciding to enable updates). */
export async function isReleaseRoot(root: string): Promise<boolean> {
  return (await stat(join(root, 'releases')).catch(() => null))?.isDirectory() === true && (await runningRelease(root)) !== null;
}

/** The updater of a running agent, wired to its link and local server (agent/create-agent.ts). */
export async function startUpdater(o: {
  root: string;
  deviceId: string;
  apiUrl: string;
  secret: string;
  fetch?: typeof fetch;
  link: { readonly online: boolean; publish: (kind: 'release', payload: unknown) => Promise<void> };
  kioskPort: number;
  healthAcked: () => boolean;
  heartbeat?: () => boolean;
  trust: () => Trust;
  settings: () => AgentSettings;
  clock: () => number;
  log: Logger;
  restart: () => void;
  proveWithinMs?: number;
}): Promise<Updater> {
  const updater = new Updater({
    ...o,
    publish: (report) => o.link.publish('release', report),
    proofs: {
      connected: () => o.link.online,
      healthAcked: o.healthAcked,
      pageServed: async () => (await fetch(`http://127.0.0.1:${o.kioskPort}/`, { signal: AbortSignal.timeout(5000) })).ok,
      heartbeat: o.heartbeat,
    },
  });
  await updater.init();
  return updater;
}
