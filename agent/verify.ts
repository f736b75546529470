/**
 * Background re-verification of the content store: every stored file the manifests want is hashed again, in
 * chunks, at a bounded rate (a power cut must not cost minutes of eMMC before the page shows, and bit rot after
 * start must not go unnoticed because size and mtime did not change). The first pass starts once the page is up,
 * then one every `intervalMs`. A file whose hash no longer matches is quarantined by the store (so the page stops
 * showing it at once) and reported to `onBad`, which fetches it again.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from 'pino';
import {
  checkManifest,
  type EnrollResponse,
  SignedKeysDocument,
  type SignedManifest,
  type Trust,
  verifyHeldManifest,
} from '../protocol/index.js';
import type { ContentStore, CurrentManifest } from './content-store.js';

/** The trust of an enrollment before any keys document: its root, else its one pinned key (DESIGN §7). */
export function enrollmentTrust(e: Pick<EnrollResponse, 'manifestKey' | 'rootKey'>, keysJson: string | null): Trust {
  let document: SignedKeysDocument | null = null;
  if (keysJson) {
    try {
      const parsed = SignedKeysDocument.safeParse(JSON.parse(keysJson));
      if (parsed.success) document = parsed.data;
    } catch {
      document = null;
    }
  }
  return { rootKey: e.rootKey ?? e.manifestKey, document, enrolledKey: e.manifestKey };
}

/**
 * What the page may show before anything else runs: the manifest on screen when the power went, if its signature
 * still verifies with the trust on disk (the keys document's copy in `keys.json`, which outlives a lost agent DB),
 * and the store's record of the files verified then. Reads files only; never throws.
 */
export async function loadLastVerified(
  store: ContentStore,
  enrollment: EnrollResponse | null,
  log: Logger,
): Promise<{ current: CurrentManifest | null; unverified: string[]; keysJson: string | null }> {
  let unverified: string[] = [];
  try {
    ({ unverified } = await store.init());
  } catch (err) {
    log.error({ err: (err as Error).message }, 'content store folders cannot be made');
  }
  const keysJson = await store.readKeysCopy();
  const current = enrollment ? await store.readCurrent() : null;
  if (!current || !enrollment) return { current: null, unverified, keysJson };
  if (!verifyHeldManifest(current.signed, enrollmentTrust(enrollment, keysJson))) {
    log.warn(
      { seq: current.signed.manifest.seq },
      'the manifest on disk does not verify with the trust on disk; waiting for sync',
    );
    return { current: null, unverified, keysJson };
  }
  return { current, unverified, keysJson };
}

/**
 * Whether a held target may be used again, judged by protocol's checkManifest with the trust held now (signature,
 * key, device). Expiry is left to the sync, which keeps an expired manifest on screen but never applies one.
 */
export function heldManifestUsable(signed: SignedManifest, trust: Trust, deviceId: string, now: Date): boolean {
  const check = checkManifest(signed, { trust, deviceId, appliedSeq: 0, now });
  return check.ok || check.reason === 'manifest_expired';
}

export interface VerifierOptions {
  store: ContentStore;
  /** The files to check, most important first (on screen, then the target); stored files not listed are skipped. */
  wanted: () => Promise<string[]>;
  intervalMs: number;
  /** Read rate ceiling for hashing, bytes per second. */
  bytesPerSecond: number;
  chunkBytes?: number;
  log: Logger;
  onBad: (sha256s: string[]) => void;
  /** A pass finished (tests, and the record of what was verified is saved then). */
  onPass?: (result: PassResult) => void;
}

export interface PassResult {
  checked: number;
  bytes: number;
  bad: string[];
  ms: number;
}

export class ContentVerifier {
  private readonly abort = new AbortController();
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<PassResult | null> | null = null;
  passes = 0;

  constructor(private readonly o: VerifierOptions) {}

  /** Starts the first pass on the next turn of the event loop, then one per interval. */
  start(): void {
    this.schedule(0);
  }

  /** Runs a pass now (or joins the one running). Resolves null when closed meanwhile. */
  runPass(): Promise<PassResult | null> {
    this.running ??= this.pass().finally(() => {
      this.running = null;
    });
    return this.running;
  }

  async close(): Promise<void> {
    this.abort.abort();
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    await this.running?.catch(() => null);
  }

  private schedule(ms: number): void {
    if (this.abort.signal.aborted) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = null;
      void this.runPass()
        .catch((err: Error) => this.o.log.error({ err: err.message }, 'content verification failed'))
        .finally(() => this.schedule(this.o.intervalMs));
    }, ms);
    this.timer.unref();
  }

  private async pass(): Promise<PassResult | null> {
    const { store, log } = this.o;
    const signal = this.abort.signal;
    const t0 = performance.now();
    let bytes = 0;
    // Throttle on the monotonic clock: after each chunk, wait until the average rate is back under the ceiling.
    const pace = async (n: number): Promise<void> => {
      bytes += n;
      const due = (bytes / this.o.bytesPerSecond) * 1000 - (performance.now() - t0);
      if (due > 1) await sleep(due, undefined, { signal });
      else if (signal.aborted) throw signal.reason;
    };
    const pacing = { chunkBytes: this.o.chunkBytes ?? 1024 * 1024, pace };
    const present = new Set(await store.stored());
    const bad: string[] = [];
    let checked = 0;
    for (const sha of new Set(await this.o.wanted())) {
      if (signal.aborted) return null;
      if (!present.has(sha)) continue;
      try {
        const state = await store.check(sha, { force: true, pacing });
        if (state === 'bad') bad.push(sha);
        if (state !== 'missing') checked++;
      } catch (err) {
        if (signal.aborted) return null;
        log.warn({ sha, err: (err as Error).message }, 'could not re-check a stored file');
      }
    }
    await store.saveRecord();
    this.passes++;
    const result = { checked, bytes, bad, ms: Math.round(performance.now() - t0) };
    if (bad.length > 0) {
      log.error({ bad }, 'stored files failed their hash check; quarantined, fetching them again');
      this.o.onBad(bad);
    } else log.debug(result, 'content verified');
    this.o.onPass?.(result);
    return result;
  }
}
