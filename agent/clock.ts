/**
 * The agent's two clocks. Durations (pacing, timeouts, report throttles) are measured on a monotonic clock that no
 * step of the wall clock moves (`performance.now`). Expiry decisions (manifests, commands, pairing codes, the download
 * window, the sync schedule) use `serverNow()`: the server's time as last seen — an HTTP `Date` header, or a lower
 * bound such as a command's or manifest's `issuedAt` — carried forward on the monotonic clock. Until the server has been
 * heard from, the wall clock plus the offset kept from the last run stands in. Kiosks often have no real-time clock:
 * a board that boots in 1970, or an NTP step of a day, must change nothing here.
 */
import { performance } from 'node:perf_hooks';
import { Cron } from 'croner';

export interface AgentClockOptions {
  /** The wall clock (ms since epoch); tests inject one they can step. */
  wall?: () => number;
  /** A monotonic clock in ms (default `performance.now`). */
  monotonic?: () => number;
  /** Server − wall offset kept from a previous run (agent DB), used until the server is heard from. */
  initialOffsetMs?: number | null;
  /** Told the new server − wall offset whenever the estimate moves (to keep it across restarts). */
  onOffset?: (offsetMs: number) => void;
}

/** A `Date` header has a resolution of one second: closer readings than this do not move the estimate. */
const DATE_HEADER_SLACK_MS = 1500;

export class AgentClock {
  private readonly wallNow: () => number;
  private readonly mono: () => number;
  private anchor: { server: number; mono: number } | null = null;
  private readonly initialOffset: number;

  constructor(private readonly o: AgentClockOptions = {}) {
    this.wallNow = o.wall ?? Date.now;
    this.mono = o.monotonic ?? (() => performance.now());
    this.initialOffset = o.initialOffsetMs ?? 0;
  }

  /** The device's wall clock (what a health sample's `ts` says). */
  wall(): number {
    return this.wallNow();
  }

  /** Milliseconds on a clock that never steps; only differences mean anything. */
  monotonic(): number {
    return this.mono();
  }

  /** True once the server's time has been observed in this run. */
  get synced(): boolean {
    return this.anchor !== null;
  }

  /** The best estimate of the server's clock now. */
  serverNow(): number {
    if (this.anchor) return this.anchor.server + (this.mono() - this.anchor.mono);
    return this.wallNow() + this.initialOffset;
  }

  /** Server − wall now (what to keep across restarts). */
  offsetMs(): number {
    return this.serverNow() - this.wallNow();
  }

  /** The server said its time was `serverMs` (±`slackMs`) just now. */
  observe(serverMs: number, slackMs = DATE_HEADER_SLACK_MS): void {
    if (!Number.isFinite(serverMs)) return;
    if (this.anchor && Math.abs(this.serverNow() - serverMs) <= slackMs) return;
    this.anchor = { server: serverMs, mono: this.mono() };
    this.o.onOffset?.(this.offsetMs());
  }

  /** The server's time is at least `serverMs` (a command's or manifest's `issuedAt`). */
  observeAtLeast(serverMs: number): void {
    if (!Number.isFinite(serverMs)) return;
    if (this.anchor && this.serverNow() >= serverMs) return;
    if (!this.anchor && this.wallNow() + this.initialOffset >= serverMs) return;
    this.anchor = { server: serverMs, mono: this.mono() };
    this.o.onOffset?.(this.offsetMs());
  }

  /** Reads the `Date` header of a response from the server (the middle of its one-second resolution). */
  observeResponse(res: { headers: { get(name: string): string | null } }): void {
    const date = res.headers.get('date');
    if (!date) return;
    const ms = Date.parse(date);
    if (Number.isFinite(ms)) this.observe(ms + 500);
  }
}

/** The fields node-cron accepted (5, or 6 with seconds first): croner reads both the same; 7 (years) is not ours. */
export function cronError(expression: string): string | null {
  const fields = expression.trim().split(/\s+/).length;
  if (fields !== 5 && fields !== 6) return `a cron expression has 5 or 6 fields, got ${fields}`;
  try {
    new Cron(expression, { paused: true, domAndDow: true });
    return null;
  } catch (err) {
    return (err as Error).message;
  }
}

export interface CronSchedule {
  /** Server-time estimate of the next slot, or null when the expression has none left. */
  next(): number | null;
  /** Slots passed over because the clock moved past them (a step), never run late. */
  readonly skipped: number;
  stop(): void;
}

/**
 * Runs `fn` at each slot of `expression`, judged on the server-time estimate, waiting on a monotonic timer (setTimeout)
 * that wakes at least every `maxWaitMs` to follow a corrected estimate. A slot the estimate jumped over by more than
 * `lateMs` is skipped, not caught up: a step from 1970 to today is one reschedule, not 20 000 warnings or runs.
 */
export function scheduleCron(
  expression: string,
  clock: AgentClock,
  fn: () => void,
  o: { maxWaitMs?: number; lateMs?: number } = {},
): CronSchedule {
  const cron = new Cron(expression, { paused: true, domAndDow: true });
  const maxWait = o.maxWaitMs ?? 60_000;
  const late = o.lateMs ?? 60_000;
  let target: number | null = null;
  let timer: NodeJS.Timeout | null = null;
  let stopped = false;
  let skipped = 0;
  const plan = (): void => {
    target = cron.nextRun(new Date(clock.serverNow()))?.getTime() ?? null;
  };
  const arm = (): void => {
    if (stopped || target === null) return;
    const wait = Math.max(0, Math.min(maxWait, target - clock.serverNow()));
    timer = setTimeout(tick, wait);
    timer.unref();
  };
  const tick = (): void => {
    timer = null;
    if (stopped || target === null) return;
    const now = clock.serverNow();
    if (now >= target - 5) {
      if (now - target <= late) fn();
      else skipped++;
      plan();
    } else if (target - now > 366 * 86_400_000 || cron.nextRun(new Date(now))?.getTime() !== target) {
      // The estimate moved back (or a slot came closer): the slot planned is no longer the next one.
      plan();
    }
    arm();
  };
  plan();
  arm();
  return {
    next: () => target,
    get skipped() {
      return skipped;
    },
    stop: () => {
      stopped = true;
      if (timer) clearTimeout(timer);
    },
  };
}
