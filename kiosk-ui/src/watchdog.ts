/**
 * The page's side of the browser watchdog (agent/watchdog.ts, deploy/kiosk-launcher.sh): a heartbeat to the agent
 * while the page's JavaScript runs, and a nightly reload when nobody is there. A hung or crashed page stops beating
 * and the launcher restarts the browser; the reload frees what a page slowly leaks over weeks on screen.
 */
import type { LocalApi } from './api.js';

/** Until the agent answers with its own interval. */
const FIRST_INTERVAL_MS = 10_000;

export function startHeartbeat(api: LocalApi, screen: () => string): () => void {
  let timer: ReturnType<typeof setTimeout> | null = null;
  let stopped = false;
  const beat = async () => {
    let next = FIRST_INTERVAL_MS;
    try {
      const memory = (performance as Performance & { memory?: { usedJSHeapSize: number } }).memory;
      const reply = await api.heartbeat({
        uptimeS: performance.now() / 1000,
        screen: screen().slice(0, 40),
        ...(memory ? { heapBytes: memory.usedJSHeapSize } : {}),
      });
      if (Number.isFinite(reply.intervalMs) && reply.intervalMs >= 100) next = reply.intervalMs;
    } catch {
      // The agent is restarting: beat again at the usual pace.
    }
    if (!stopped) timer = setTimeout(() => void beat(), next);
  };
  void beat();
  return () => {
    stopped = true;
    if (timer) clearTimeout(timer);
  };
}

export interface ReloadPolicy {
  /** Local hour at which a page old enough is reloaded. */
  hour: number;
  /** A page younger than this is never reloaded (one reload a night, not one an hour). */
  minAgeMs: number;
  /** A page older than this is reloaded at the next idle moment whatever the hour (the clock may be wrong). */
  maxAgeMs: number;
}

export const NIGHTLY: ReloadPolicy = { hour: 3, minAgeMs: 12 * 3_600_000, maxAgeMs: 36 * 3_600_000 };

/** Whether to reload now: page age is monotonic (performance.now()); only the hour comes from the wall clock. */
export function reloadDue(ageMs: number, localHour: number, idle: boolean, policy: ReloadPolicy): boolean {
  if (!idle) return false;
  return ageMs >= policy.maxAgeMs || (ageMs >= policy.minAgeMs && localHour === policy.hour);
}

/** `?reload=SECONDS` (tests, demonstrations): reload after that age, at the next idle moment. */
export function reloadPolicy(search: string): ReloadPolicy {
  const seconds = Number(new URLSearchParams(search).get('reload'));
  if (Number.isFinite(seconds) && seconds >= 1 && seconds <= 86_400) {
    return { hour: -1, minAgeMs: seconds * 1000, maxAgeMs: seconds * 1000 };
  }
  return NIGHTLY;
}

export function startNightlyReload(policy: ReloadPolicy, isIdle: () => boolean, api: LocalApi, reload: () => void): () => void {
  const everyMs = Math.max(500, Math.min(60_000, policy.minAgeMs / 4));
  let busy = false;
  const timer = setInterval(() => {
    if (busy || !reloadDue(performance.now(), new Date().getHours(), isIdle(), policy)) return;
    busy = true;
    // Only when the agent answers: a reload during an agent restart would leave the browser's error page on screen.
    void api.reachable().then((ok) => {
      busy = false;
      if (ok && isIdle()) reload();
    });
  }, everyMs);
  return () => clearInterval(timer);
}
