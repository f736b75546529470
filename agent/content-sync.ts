/**
 * Content sync as a reconcile loop (balena-supervisor style): the target is the newest accepted manifest, the current
 * state is the files on disk; each run fetches the target (ETag), downloads what is missing, and switches the current
 * manifest atomically only when every file is present. One run at a time; triggers during a run coalesce into one more.
 */

import { stat, statfs } from 'node:fs/promises';
import type { Logger } from 'pino';
import {
  checkManifest,
  type EventMessage,
  type ManifestFile,
  manifestFiles,
  SignedKeysDocument,
  type SignedManifest,
  type SyncMessage,
  type Trust,
  verifyHeldManifest,
} from '../protocol/index.js';
import { boundedJitterDelay, fullJitterDelay } from './backoff.js';
import { AgentClock } from './clock.js';
import type { AgentSettings } from './config.js';
import type { ContentStore, CurrentManifest } from './content-store.js';
import { inDownloadWindow, msUntilWindow } from './download-window.js';
import {
  CredentialsRefusedError,
  collectChunkLogs,
  DiskFullError,
  downloadFile,
  FileGoneError,
  HashMismatchError,
} from './downloader.js';

/** `start` (power-on) and `reconnect` (link back) are what a whole fleet does at once: those wait a random delay. */
export type SyncReason = 'start' | 'reconnect' | 'cron' | 'notice' | 'command' | 'retry' | 'window';
const JITTERED: ReadonlySet<SyncReason> = new Set(['start', 'reconnect']);
/**
 * Bound of the random delay before a `reconnect` resumes a download the lost link cut: that kiosk was mid-file, not
 * starting with the fleet, and the MQTT reconnect that announces the link has itself waited a full-jitter delay.
 */
export const RESUME_JITTER_MS = 5000;
export type SyncOutcome =
  /** `skipped`: files the server no longer has (404): their items stay hidden, the rest applied. */
  | { state: 'applied'; seq: number; bytes: number; skipped?: number }
  | { state: 'unchanged'; seq: number }
  | { state: 'rejected'; reason: string }
  | { state: 'waiting_window'; missing: number }
  | { state: 'failed'; error: string };

export interface ContentSyncOptions {
  deviceId: string;
  apiUrl: string;
  secret: string;
  /** The signing key handed out at enrollment (SPKI PEM). */
  manifestKey: string;
  /** The root of trust pinned at enrollment; absent for a kiosk enrolled before keys documents (then `manifestKey`). */
  rootKey?: string | undefined;
  /** The keys document held (JSON of a SignedKeysDocument), kept across restarts; null = none yet. */
  loadKeys?: () => string | null;
  saveKeys?: (json: string) => void;
  store: ContentStore;
  settings: () => AgentSettings;
  /** The wall clock; used only when no `time` is given. */
  clock: () => number;
  /** Server-time estimate and monotonic clock (agent/clock.ts); default one over `clock`. */
  time?: AgentClock;
  log: Logger;
  publishSync: (msg: SyncMessage) => void;
  publishEvent: (type: string, severity: EventMessage['severity'], message: string) => void;
  onApplied: (current: CurrentManifest) => void;
  /** Free space a download must leave (default 64 MiB). */
  diskReserveBytes?: number;
  retryBaseMs?: number;
  retryCapMs?: number;
  random?: () => number;
  /**
   * Upper bound of the random delay before a run asked for by `start` or `reconnect` when content is already on
   * screen (every kiosk switched on at 07:00 must not pull at once); 0 = none. A kiosk with nothing on screen, a
   * notice, the schedule and `sync_now` never wait.
   */
  triggerJitterMs?: number;
  /** Bound of the random delay before a reconnect resumes a download that was cut (default RESUME_JITTER_MS). */
  resumeJitterMs?: number;
  /** Backoff after the server refused the device's credentials (401/403; default 1 h). */
  credentialsBackoffMs?: number;
  /** Size of the pieces verified on their own (default 4 MiB). */
  chunkBytes?: number;
  /** The HTTP client: the global fetch, or one trusting only the CA pinned at enrollment (agent/link-security.ts). */
  fetch?: typeof fetch;
}

export class ContentSync {
  private current: CurrentManifest | null = null;
  private running: Promise<void> | null = null;
  private again = false;
  private againReason: SyncReason = 'retry';
  private waiters: Array<(o: SyncOutcome) => void> = [];
  private retryTimer: NodeJS.Timeout | null = null;
  private retryAttempt = 0;
  private closed = false;
  private readonly abort = new AbortController();
  lastOutcome: SyncOutcome | null = null;
  private trust: Trust;
  private readonly time: AgentClock;
  /** Triggers waiting out their jitter; any run that starts first answers them. */
  private deferred: Array<(o: SyncOutcome) => void> = [];
  private deferTimer: NodeJS.Timeout | null = null;
  /** When the deferred run is due (monotonic ms). */
  private deferDue = 0;
  /** The last run failed in the middle of a download for a transient reason: a link back resumes it soon. */
  private cut = false;

  constructor(private readonly o: ContentSyncOptions) {
    this.trust = { rootKey: o.rootKey ?? o.manifestKey, document: null, enrolledKey: o.manifestKey };
    this.time = o.time ?? new AgentClock({ wall: o.clock });
  }

  /** The trust this kiosk judges manifests with (root, newest keys document held). */
  get trustState(): Trust {
    return this.trust;
  }

  /** Loads the keys document held and the manifest on screen, checking its signature again: the disk is not trusted blindly. */
  async init(): Promise<CurrentManifest | null> {
    const held = this.o.loadKeys?.() ?? null;
    if (held) {
      let parsed: ReturnType<typeof SignedKeysDocument.safeParse> | null = null;
      try {
        parsed = SignedKeysDocument.safeParse(JSON.parse(held));
      } catch {
        parsed = null;
      }
      if (parsed?.success) this.trust = { ...this.trust, document: parsed.data };
      else this.o.log.warn('the keys document held is unreadable; trusting the enrollment keys until the next one comes');
    }
    const current = await this.o.store.readCurrent();
    if (current && verifyHeldManifest(current.signed, this.trust)) this.current = current;
    return this.current;
  }

  get currentManifest(): CurrentManifest | null {
    return this.current;
  }

  /** Asks for a run; resolves with the outcome of the run that covers this request. */
  trigger(reason: SyncReason): Promise<SyncOutcome> {
    const fleetJitterMs = this.o.triggerJitterMs ?? 0;
    // A link back after a cut mid-download resumes that download: a short delay, not the fleet's power-on spread.
    const jitterMs =
      reason === 'reconnect' && this.cut ? Math.min(fleetJitterMs, this.o.resumeJitterMs ?? RESUME_JITTER_MS) : fleetJitterMs;
    if (JITTERED.has(reason) && jitterMs > 0 && this.current !== null && this.running === null && !this.closed) {
      const done = new Promise<SyncOutcome>((resolve) => this.deferred.push(resolve));
      const delay = boundedJitterDelay(jitterMs, this.o.random);
      const due = this.time.monotonic() + delay;
      if (!this.deferTimer || due < this.deferDue) {
        if (this.deferTimer) clearTimeout(this.deferTimer);
        this.deferDue = due;
        this.deferTimer = setTimeout(() => {
          this.deferTimer = null;
          void this.trigger('retry');
        }, delay);
        this.deferTimer.unref();
      }
      return done;
    }
    const done = new Promise<SyncOutcome>((resolve) => this.waiters.push(resolve));
    if (this.running !== null) {
      this.again = true;
      this.againReason = reason === 'command' ? reason : this.againReason;
    } else {
      this.running = this.loop(reason);
    }
    return done;
  }

  private async loop(first: SyncReason): Promise<void> {
    let reason = first;
    do {
      this.again = false;
      if (this.deferTimer) clearTimeout(this.deferTimer);
      this.deferTimer = null;
      // This run answers a pending retry too; if it fails, it schedules its own.
      if (this.retryTimer) clearTimeout(this.retryTimer);
      this.retryTimer = null;
      const waiters = [...this.waiters.splice(0), ...this.deferred.splice(0)];
      let outcome: SyncOutcome;
      try {
        outcome = await this.runOnce(reason);
      } catch (err) {
        outcome = { state: 'failed', error: (err as Error).message };
      }
      this.lastOutcome = outcome;
      if (outcome.state !== 'failed') this.cut = false;
      for (const w of waiters) w(outcome);
      reason = this.againReason;
      this.againReason = 'retry';
    } while (this.again && !this.closed);
    this.running = null;
  }

  private async runOnce(reason: SyncReason): Promise<SyncOutcome> {
    if (this.closed) return { state: 'failed', error: 'agent closing' };
    const { store } = this.o;
    const held = await store.readTarget();
    let target: SignedManifest;
    let etag: string | null;
    try {
      const fetched = await this.fetchManifest(held?.etag ?? null);
      if (fetched === 'not_modified' && held) {
        target = held.signed;
        etag = held.etag;
        const isCurrent = this.current !== null && this.current.signed.signature === target.signature;
        if (!isCurrent && Date.parse(target.manifest.expiresAt) < this.time.serverNow()) {
          return this.refuse(
            target.manifest.seq,
            'manifest_expired',
            `manifest ${target.manifest.seq} expired on ${target.manifest.expiresAt}`,
          );
        }
      } else if (fetched === 'not_modified') {
        return this.fail(0, 'server answered 304 but no manifest is held');
      } else {
        const check = checkManifest(fetched.body, {
          trust: this.trust,
          deviceId: this.o.deviceId,
          appliedSeq: this.current?.signed.manifest.seq ?? 0,
          now: new Date(this.time.serverNow()),
        });
        if (check.keys) this.holdKeys(check.keys);
        // A verified manifest was issued by the server: its clock is at least that far.
        if (check.ok) this.time.observeAtLeast(Date.parse(check.signed.manifest.issuedAt));
        // A kiosk that pinned only its signing key cannot judge a document signed by a root it never saw: not news.
        const legacy = this.o.rootKey === undefined && this.trust.document === null;
        if (check.keysIssue && !(legacy && check.keysIssue.reason === 'keys_other_root')) {
          this.o.publishEvent('keys_rejected', 'error', `${check.keysIssue.reason}: ${check.keysIssue.message}`);
          this.o.log.warn({ reason: check.keysIssue.reason }, 'keys document refused');
        }
        if (!check.ok) {
          const claimed = Number((fetched.body as { manifest?: { seq?: unknown } })?.manifest?.seq);
          const seq = Number.isSafeInteger(claimed) && claimed >= 0 ? claimed : 0;
          return this.refuse(seq, check.reason, check.message);
        }
        target = check.signed;
        etag = fetched.etag;
        await store.writeTarget(target, etag);
      }
    } catch (err) {
      if (err instanceof CredentialsRefusedError) return this.credentialsRefused(held?.signed.manifest.seq ?? 0, err, 0, 0);
      // A download cut stays cut while the link is still away (the manifest is asked for first on every run).
      return this.retryLater(held?.signed.manifest.seq ?? 0, `manifest fetch: ${(err as Error).message}`, 0, 0, 'fetch');
    }
    return this.reconcile(target, reason);
  }

  private async reconcile(target: SignedManifest, reason: SyncReason): Promise<SyncOutcome> {
    const { store } = this.o;
    const seq = target.manifest.seq;
    const files = manifestFiles(target.manifest);
    // Files neither on screen nor wanted are garbage whatever happens next; freeing them first helps a full disk.
    const keep = new Set([...files, ...(this.current ? manifestFiles(this.current.signed.manifest) : [])].map((f) => f.sha256));
    await store.collect(keep, keep);
    await collectChunkLogs(store);
    const missing: ManifestFile[] = [];
    for (const f of files) if (!(await store.verify(f.sha256))) missing.push(f);
    const sameAsCurrent = this.current !== null && this.current.signed.signature === target.signature;
    if (missing.length === 0 && sameAsCurrent) {
      this.retryAttempt = 0;
      return { state: 'unchanged', seq };
    }
    const settings = this.o.settings();
    // The window is local time of day, read on the server-time estimate: a kiosk clock off by hours downloads on time.
    const windowOpen = (): boolean =>
      reason === 'command' || inDownloadWindow(settings.downloadWindow, new Date(this.time.serverNow()));
    let bytes = 0;
    const waitWindow = (left: number): SyncOutcome => {
      const now = new Date(this.time.serverNow());
      this.scheduleRetry(msUntilWindow(settings.downloadWindow, now) + 1000, 'window');
      this.o.log.info({ missing: left }, 'files missing; waiting for the download window');
      this.o.publishSync({ manifestSeq: seq, state: 'waiting_window', bytes, missing: left });
      return { state: 'waiting_window', missing: left };
    };
    if (missing.length > 0 && !windowOpen()) return waitWindow(missing.length);
    // Room for the whole set before the first byte: a disk that holds 3 of 4 files must not fill up trying.
    if (missing.length > 0) {
      let need = 0;
      for (const f of missing)
        need += f.size - Math.min(f.size, (await stat(store.partPath(f.sha256)).catch(() => null))?.size ?? 0);
      const fs = await statfs(store.tmpDir);
      const reserve = this.o.diskReserveBytes ?? 64 * 2 ** 20;
      if (fs.bavail * fs.bsize < need + reserve) {
        const err = new DiskFullError(
          `not enough disk space for manifest ${seq}: ${need} bytes missing in ${missing.length} file(s), ${fs.bavail * fs.bsize} free, ${reserve} kept free`,
        );
        this.o.publishEvent('disk_full', 'critical', err.message);
        return this.retryLater(seq, err.message, 0, missing.length, 'other');
      }
    }
    let lastReport: number | null = null;
    const report = (force: boolean, left: number): void => {
      const t = this.time.monotonic();
      if (!force && lastReport !== null && t - lastReport < 5000) return;
      lastReport = t;
      this.o.publishSync({ manifestSeq: seq, state: 'downloading', bytes, missing: left });
    };
    let left = missing.length;
    const gone: ManifestFile[] = [];
    if (left > 0) report(true, left);
    for (const file of missing) {
      if (!windowOpen()) return waitWindow(left);
      let result: 'done' | 'paused';
      try {
        result = await downloadFile(store, file, {
          apiUrl: this.o.apiUrl,
          authorization: `Basic ${Buffer.from(`${this.o.deviceId}:${this.o.secret}`).toString('base64')}`,
          bandwidthLimit: settings.bandwidthLimit,
          signal: this.abort.signal,
          onBytes: (n) => {
            bytes += n;
            report(false, left);
          },
          sleep: (ms) => new Promise((r) => setTimeout(r, ms)),
          monotonic: () => this.time.monotonic(),
          reserveBytes: this.o.diskReserveBytes ?? 64 * 2 ** 20,
          fetch: this.o.fetch,
          onResponse: (res) => this.time.observeResponse(res),
          mayContinue: windowOpen,
          chunkBytes: this.o.chunkBytes,
        });
      } catch (err) {
        if (this.closed) return { state: 'failed', error: 'agent closing' };
        if (err instanceof FileGoneError) {
          // This file is gone from the server: its items stay hidden, the others go on.
          gone.push(file);
          left--;
          continue;
        }
        if (err instanceof CredentialsRefusedError) return this.credentialsRefused(seq, err, bytes, left);
        if (err instanceof DiskFullError) {
          this.o.publishEvent('disk_full', 'critical', err.message);
          return this.retryLater(seq, err.message, bytes, left, 'other');
        }
        if (err instanceof HashMismatchError) {
          this.o.publishEvent('content_hash_mismatch', 'error', err.message);
          return this.retryLater(seq, err.message, bytes, left, 'other');
        }
        // A reset, a 5xx, a truncated body: the part is kept and the next run resumes it.
        return this.retryLater(seq, (err as Error).message, bytes, left, 'cut');
      }
      if (result === 'paused') return waitWindow(left);
      left--;
      report(left === 0, left);
    }
    let goneNote: string | undefined;
    if (gone.length > 0) {
      const names = gone.map((f) => `${f.sha256} (${itemsOf(target, f.sha256).join(', ')})`);
      goneNote = `skipped ${gone.length} file(s) the server no longer has: ${names.join('; ')}`;
      this.o.publishEvent('content_file_missing', 'warning', goneNote);
      this.o.log.warn({ gone: gone.map((f) => f.sha256) }, 'files gone from the server; their items are hidden');
      // Asked again on the next run (the schedule, a notice): the server may have it back. The `downloading` this run
      // reported must not stay the server's last word: it hears `applied` (with what is still missing) again.
      if (sameAsCurrent && gone.length === missing.length) {
        this.o.publishSync({ manifestSeq: seq, state: 'applied', bytes, missing: gone.length, error: goneNote.slice(0, 4000) });
        return { state: 'unchanged', seq };
      }
    }
    const appliedAt = new Date(this.time.serverNow()).toISOString();
    if (!sameAsCurrent) await store.writeCurrent(target, appliedAt);
    this.current = sameAsCurrent && this.current ? this.current : { signed: target, appliedAt };
    this.o.onApplied(this.current);
    const wanted = new Set(files.map((f) => f.sha256));
    await store.collect(wanted, new Set(gone.map((f) => f.sha256)));
    this.retryAttempt = 0;
    this.o.publishSync({
      manifestSeq: seq,
      state: 'applied',
      bytes,
      missing: gone.length,
      ...(goneNote ? { error: goneNote.slice(0, 4000) } : {}),
    });
    this.o.log.info({ seq, bytes, skipped: gone.length }, 'manifest applied');
    return gone.length > 0 ? { state: 'applied', seq, bytes, skipped: gone.length } : { state: 'applied', seq, bytes };
  }

  private async fetchManifest(etag: string | null): Promise<'not_modified' | { body: unknown; etag: string | null }> {
    const headers: Record<string, string> = {
      authorization: `Basic ${Buffer.from(`${this.o.deviceId}:${this.o.secret}`).toString('base64')}`,
    };
    if (etag) headers['if-none-match'] = etag;
    const url = `${this.o.apiUrl.replace(/\/$/, '')}/api/v1/devices/${encodeURIComponent(this.o.deviceId)}/manifest`;
    const res = await (this.o.fetch ?? fetch)(url, {
      headers,
      signal: AbortSignal.any([this.abort.signal, AbortSignal.timeout(60_000)]),
    });
    this.time.observeResponse(res);
    if (res.status === 304) return 'not_modified';
    if (res.status === 401 || res.status === 403) {
      await res.body?.cancel();
      throw new CredentialsRefusedError(`server refused this device's credentials (${res.status}) for its manifest`);
    }
    if (!res.ok) {
      await res.body?.cancel();
      throw new Error(`server answered ${res.status}`);
    }
    return { body: await res.json().catch(() => null), etag: res.headers.get('etag') };
  }

  /** Keeps a newer root-signed keys document, in memory and on disk. */
  private holdKeys(doc: SignedKeysDocument): void {
    this.trust = { ...this.trust, document: doc };
    this.o.saveKeys?.(JSON.stringify(doc));
    this.o.log.info({ version: doc.document.version }, 'keys document updated');
  }

  /** A manifest not taken as the target: the content on screen stays; reported as a failed sync and an event. */
  private refuse(seq: number, reason: string, message: string): SyncOutcome {
    this.o.publishSync({
      manifestSeq: seq,
      state: 'failed',
      bytes: 0,
      missing: 0,
      error: `rejected: ${reason}: ${message}`.slice(0, 4000),
    });
    if (reason === 'manifest_expired') this.o.publishEvent('manifest_expired', 'warning', message);
    else this.o.publishEvent('manifest_rejected', 'error', `${reason}: ${message}`);
    this.o.log.warn({ reason }, 'manifest rejected');
    return { state: 'rejected', reason };
  }

  private fail(seq: number, error: string): SyncOutcome {
    this.cut = false;
    this.o.publishSync({ manifestSeq: seq, state: 'failed', bytes: 0, missing: 0, error: error.slice(0, 4000) });
    return { state: 'failed', error };
  }

  /**
   * A transient failure: retried after a full-jitter delay that doubles with each try that made no progress. A try that
   * moved a download forward (`cut` with bytes) starts the count again: the link works, it just broke. `fetch` (the
   * manifest could not be fetched) leaves a cut download cut, `other` (disk full, a hash mismatch) ends it.
   */
  private retryLater(seq: number, error: string, bytes: number, missing: number, kind: 'cut' | 'fetch' | 'other'): SyncOutcome {
    if (kind === 'cut' && bytes > 0) this.retryAttempt = 0;
    if (kind !== 'fetch') this.cut = kind === 'cut';
    this.o.log.warn({ error, bytes, attempt: this.retryAttempt }, 'sync failed; will retry');
    this.o.publishSync({ manifestSeq: seq, state: 'failed', bytes, missing, error: error.slice(0, 4000) });
    this.scheduleRetry(
      fullJitterDelay(this.retryAttempt++, this.o.retryBaseMs ?? 30_000, this.o.retryCapMs ?? 3_600_000, this.o.random),
      'retry',
    );
    return { state: 'failed', error };
  }

  /** 401/403: nothing will work until the server knows this device again; say so and wait long. */
  private credentialsRefused(seq: number, err: Error, bytes: number, missing: number): SyncOutcome {
    this.cut = false;
    this.o.publishEvent('credentials_refused', 'critical', err.message);
    this.o.log.error({ error: err.message }, 'server refused the device credentials');
    this.o.publishSync({ manifestSeq: seq, state: 'failed', bytes, missing, error: err.message.slice(0, 4000) });
    this.scheduleRetry(this.o.credentialsBackoffMs ?? 3_600_000, 'retry');
    return { state: 'failed', error: err.message };
  }

  private scheduleRetry(ms: number, reason: SyncReason): void {
    if (this.closed) return;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      void this.trigger(reason);
    }, ms);
    this.retryTimer.unref();
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    if (this.deferTimer) clearTimeout(this.deferTimer);
    for (const w of this.deferred.splice(0)) w({ state: 'failed', error: 'agent closing' });
    this.abort.abort();
    await this.running?.catch(() => {});
  }
}

/** Ids of the items of a manifest whose translations use a file. */
function itemsOf(signed: SignedManifest, sha256: string): string[] {
  return signed.manifest.items
    .filter((i) => Object.values(i.translations).some((t) => t.file?.sha256 === sha256))
    .map((i) => i.id);
}
