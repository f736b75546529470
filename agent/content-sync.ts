/**
 * Content sync as a reconcile loop (balena-supervisor style): the target is the newest accepted manifest, the current
 * state is the files on disk; each run fetches the target (ETag), downloads what is missing, and switches the current
 * manifest atomically only when every file is present. One run at a time; triggers during a run coalesce into one more.
 */
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
import { fullJitterDelay } from './backoff.js';
import type { AgentSettings } from './config.js';
import type { ContentStore, CurrentManifest } from './content-store.js';
import { inDownloadWindow, msUntilWindow } from './download-window.js';
import { DiskFullError, downloadFile, HashMismatchError } from './downloader.js';

export type SyncReason = 'start' | 'cron' | 'notice' | 'command' | 'retry' | 'window';
export type SyncOutcome =
  | { state: 'applied'; seq: number; bytes: number }
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
  clock: () => number;
  log: Logger;
  publishSync: (msg: SyncMessage) => void;
  publishEvent: (type: string, severity: EventMessage['severity'], message: string) => void;
  onApplied: (current: CurrentManifest) => void;
  /** Free space a download must leave (default 64 MiB). */
  diskReserveBytes?: number;
  retryBaseMs?: number;
  retryCapMs?: number;
  random?: () => number;
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

  constructor(private readonly o: ContentSyncOptions) {
    this.trust = { rootKey: o.rootKey ?? o.manifestKey, document: null, enrolledKey: o.manifestKey };
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
      const waiters = this.waiters.splice(0);
      let outcome: SyncOutcome;
      try {
        outcome = await this.runOnce(reason);
      } catch (err) {
        outcome = { state: 'failed', error: (err as Error).message };
      }
      this.lastOutcome = outcome;
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
        if (!isCurrent && Date.parse(target.manifest.expiresAt) < this.o.clock()) {
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
          now: new Date(this.o.clock()),
        });
        if (check.keys) this.holdKeys(check.keys);
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
      return this.retryLater(held?.signed.manifest.seq ?? 0, `manifest fetch: ${(err as Error).message}`, 0);
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
    const missing: ManifestFile[] = [];
    for (const f of files) if (!(await store.verify(f.sha256))) missing.push(f);
    const sameAsCurrent = this.current !== null && this.current.signed.signature === target.signature;
    if (missing.length === 0 && sameAsCurrent) {
      this.retryAttempt = 0;
      return { state: 'unchanged', seq };
    }
    const settings = this.o.settings();
    const now = new Date(this.o.clock());
    if (missing.length > 0 && reason !== 'command' && !inDownloadWindow(settings.downloadWindow, now)) {
      this.scheduleRetry(msUntilWindow(settings.downloadWindow, now) + 1000, 'window');
      this.o.log.info({ missing: missing.length }, 'files missing; waiting for the download window');
      return { state: 'waiting_window', missing: missing.length };
    }
    let bytes = 0;
    let lastReport = 0;
    const report = (force: boolean, left: number): void => {
      const t = this.o.clock();
      if (!force && t - lastReport < 5000) return;
      lastReport = t;
      this.o.publishSync({ manifestSeq: seq, state: 'downloading', bytes, missing: left });
    };
    let left = missing.length;
    if (left > 0) report(true, left);
    for (const file of missing) {
      try {
        await downloadFile(store, file, {
          apiUrl: this.o.apiUrl,
          authorization: `Basic ${Buffer.from(`${this.o.deviceId}:${this.o.secret}`).toString('base64')}`,
          bandwidthLimit: settings.bandwidthLimit,
          signal: this.abort.signal,
          onBytes: (n) => {
            bytes += n;
            report(false, left);
          },
          sleep: (ms) => new Promise((r) => setTimeout(r, ms)),
          reserveBytes: this.o.diskReserveBytes ?? 64 * 2 ** 20,
          fetch: this.o.fetch,
        });
      } catch (err) {
        if (this.closed) return { state: 'failed', error: 'agent closing' };
        if (err instanceof DiskFullError) {
          this.o.publishEvent('disk_full', 'critical', err.message);
        } else if (err instanceof HashMismatchError) {
          this.o.publishEvent('content_hash_mismatch', 'error', err.message);
        }
        return this.retryLater(seq, (err as Error).message, bytes, left);
      }
      left--;
      report(left === 0, left);
    }
    const appliedAt = new Date(this.o.clock()).toISOString();
    if (!sameAsCurrent) await store.writeCurrent(target, appliedAt);
    this.current = sameAsCurrent && this.current ? this.current : { signed: target, appliedAt };
    this.o.onApplied(this.current);
    const wanted = new Set(files.map((f) => f.sha256));
    await store.collect(wanted, new Set());
    this.retryAttempt = 0;
    this.o.publishSync({ manifestSeq: seq, state: 'applied', bytes, missing: 0 });
    this.o.log.info({ seq, bytes }, 'manifest applied');
    return { state: 'applied', seq, bytes };
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
    if (res.status === 304) return 'not_modified';
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
    this.o.publishSync({ manifestSeq: seq, state: 'failed', bytes: 0, missing: 0, error: error.slice(0, 4000) });
    return { state: 'failed', error };
  }

  private retryLater(seq: number, error: string, bytes: number, missing = 0): SyncOutcome {
    this.o.log.warn({ error }, 'sync failed; will retry');
    this.o.publishSync({ manifestSeq: seq, state: 'failed', bytes, missing, error: error.slice(0, 4000) });
    this.scheduleRetry(
      fullJitterDelay(this.retryAttempt++, this.o.retryBaseMs ?? 30_000, this.o.retryCapMs ?? 3_600_000, this.o.random),
      'retry',
    );
    return { state: 'failed', error };
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
    this.abort.abort();
    await this.running?.catch(() => {});
  }
}
