/**
 * The browser watchdog's knowing half: the kiosk page posts a heartbeat to the local server; this module keeps the
 * last one (on a monotonic clock) and says whether the screen is alive. The restarting half is the launcher
 * (deploy/kiosk-launcher.sh), which runs in the kiosk's graphical session and asks `GET /local/watchdog`: the agent
 * is a system service in its own sandbox and can neither start a browser in that session nor signal its processes.
 *
 * States: `waiting` (no heartbeat yet, within the grace after the agent started), `alive` (a heartbeat within
 * `staleAfterMs`), `stale` (none for longer: the launcher restarts Chromium). A stale episode and the recovery after
 * it are reported to the department as events; events made while the link is down wait (bounded) for the next one.
 */
import { performance } from 'node:perf_hooks';
import type { Logger } from 'pino';
import type { EventMessage, LocalHeartbeat } from '../protocol/index.js';

export interface WatchdogOptions {
  /** How often the page is asked to beat. */
  beatIntervalMs: number;
  /** No heartbeat for this long = the screen is dead. */
  staleAfterMs: number;
  /** After the agent starts, how long a page may take to send its first heartbeat (the browser may be starting too). */
  startGraceMs: number;
  /** Monotonic milliseconds (durations); the wall clock only stamps reports. */
  now: () => number;
  clock: () => number;
  log?: Logger;
}

export const WATCHDOG_DEFAULTS = { beatIntervalMs: 10_000, staleAfterMs: 45_000, startGraceMs: 90_000 } as const;

export type WatchdogState = 'waiting' | 'alive' | 'stale';

export interface WatchdogStatus {
  state: WatchdogState;
  /** Wall-clock time of the last heartbeat (ISO), null if none since the agent started. */
  lastBeatAt: string | null;
  /** Milliseconds since the last heartbeat (monotonic), null if none. */
  lastBeatAgoMs: number | null;
  beats: number;
  /** Stale episodes since the agent started (each one ends in a browser restart by the launcher). */
  staleEpisodes: number;
  staleAfterMs: number;
  page: LocalHeartbeat | null;
}

type Report = Omit<EventMessage, 'ts'> & { ts: number };

/** Reports kept while the link is down; a screen that dies and recovers all night still fits. */
const MAX_PENDING = 50;

export class BrowserWatchdog {
  private readonly o: WatchdogOptions;
  private readonly startedAt: number;
  private lastBeat: { mono: number; wall: number; page: LocalHeartbeat } | null = null;
  private beats = 0;
  private staleEpisodes = 0;
  /** Monotonic time the current stale episode began (null = not stale). */
  private staleSince: number | null = null;
  private timer: NodeJS.Timeout | null = null;
  private pending: Report[] = [];
  private publish: ((event: EventMessage) => Promise<void>) | null = null;
  private flushing = false;

  constructor(options: Partial<WatchdogOptions> = {}) {
    this.o = {
      ...WATCHDOG_DEFAULTS,
      now: () => performance.now(),
      clock: Date.now,
      ...options,
    };
    this.startedAt = this.o.now();
  }

  get beatIntervalMs(): number {
    return this.o.beatIntervalMs;
  }

  beat(page: LocalHeartbeat): void {
    const mono = this.o.now();
    if (this.staleSince !== null) {
      const downS = Math.round((mono - this.staleSince + this.o.staleAfterMs) / 1000);
      this.report('screen_recovered', 'info', `kiosk page heartbeat back after about ${downS} s without one`);
      this.staleSince = null;
    }
    this.lastBeat = { mono, wall: this.o.clock(), page };
    this.beats += 1;
  }

  status(): WatchdogStatus {
    const now = this.o.now();
    const ago = this.lastBeat ? now - this.lastBeat.mono : null;
    let state: WatchdogState;
    if (ago === null) state = now - this.startedAt <= this.o.startGraceMs ? 'waiting' : 'stale';
    else state = ago <= this.o.staleAfterMs ? 'alive' : 'stale';
    return {
      state,
      lastBeatAt: this.lastBeat ? new Date(this.lastBeat.wall).toISOString() : null,
      lastBeatAgoMs: ago === null ? null : Math.round(ago),
      beats: this.beats,
      staleEpisodes: this.staleEpisodes,
      staleAfterMs: this.o.staleAfterMs,
      page: this.lastBeat?.page ?? null,
    };
  }

  /** Notes a new stale episode (once per episode) and reports it. Called by the timer; tests call it directly. */
  check(): WatchdogStatus {
    const s = this.status();
    if (s.state === 'stale' && this.staleSince === null) {
      this.staleSince = this.o.now();
      this.staleEpisodes += 1;
      const last = s.lastBeatAt
        ? `last heartbeat ${s.lastBeatAt} (${Math.round((s.lastBeatAgoMs ?? 0) / 1000)} s ago)`
        : 'no heartbeat since the agent started';
      this.o.log?.warn({ lastBeatAt: s.lastBeatAt }, 'kiosk page heartbeat lost; the launcher restarts the browser');
      this.report('screen_unresponsive', 'error', `kiosk page not responding: ${last}; browser restart requested`);
      return this.status();
    }
    return s;
  }

  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => this.check(), Math.max(200, Math.min(5000, this.o.staleAfterMs / 3)));
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    this.publish = null;
  }

  /** Where reports go (the MQTT link's `events`); reports made before this wait for it. */
  setPublisher(publish: (event: EventMessage) => Promise<void>): void {
    this.publish = publish;
    this.flush();
  }

  /** Sends the reports kept while the link was down, oldest first; a failed send keeps it for the next call. */
  flush(): void {
    if (this.flushing || !this.publish || this.pending.length === 0) return;
    const publish = this.publish;
    this.flushing = true;
    void (async () => {
      try {
        while (this.pending.length > 0) {
          await publish(this.pending[0] as Report);
          this.pending.shift();
        }
      } catch {
        // link down: kept for the next flush
      } finally {
        this.flushing = false;
      }
    })();
  }

  pendingReports(): readonly Report[] {
    return this.pending;
  }

  private report(type: string, severity: EventMessage['severity'], message: string): void {
    this.pending.push({ type, severity, message, ts: this.o.clock() });
    if (this.pending.length > MAX_PENDING) this.pending.splice(0, this.pending.length - MAX_PENDING);
    this.flush();
  }
}
