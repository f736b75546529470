/** The agent's local API (DESIGN §8, protocol/local.ts): the only server the page talks to. */
import type { LocalHeartbeat, LocalHeartbeatReply, LocalManifest, LocalViews } from '../../protocol/local.js';

export class LocalApiError extends Error {
  override name = 'LocalApiError';
}

export interface LocalApi {
  manifest(): Promise<LocalManifest>;
  postViews(views: LocalViews['views']): Promise<void>;
  /** Fire-and-forget post that survives the page being closed or reloaded; false if the browser refused it. */
  beaconViews(views: LocalViews['views']): boolean;
  /** Tells the agent's browser watchdog the page is alive; the answer says when to beat next. */
  heartbeat(beat: LocalHeartbeat): Promise<LocalHeartbeatReply>;
  /** Whether the agent serves the page now (checked before a reload, so a reload never lands on an error page). */
  reachable(): Promise<boolean>;
}

/** Same-origin calls; the page is served by the agent, so there is no base URL to configure. */
export function createLocalApi(fetchFn: typeof fetch = (input, init) => fetch(input, init)): LocalApi {
  return {
    async manifest() {
      const res = await fetchFn('/local/manifest', { cache: 'no-store' });
      if (!res.ok) throw new LocalApiError(`GET /local/manifest: ${res.status}`);
      const body = (await res.json()) as LocalManifest;
      // A light shape check: the agent validates with the zod schema; here a broken answer must not blank the page.
      if (!body || !Array.isArray(body.items)) throw new LocalApiError('GET /local/manifest: malformed body');
      return body;
    },
    async postViews(views) {
      const body: LocalViews = { views };
      const res = await fetchFn('/local/stats', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
      if (!res.ok) throw new LocalApiError(`POST /local/stats: ${res.status}`);
    },
    beaconViews(views) {
      const body: LocalViews = { views };
      const blob = new Blob([JSON.stringify(body)], { type: 'application/json' });
      return navigator.sendBeacon('/local/stats', blob);
    },
    async heartbeat(beat) {
      const res = await fetchFn('/local/heartbeat', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(beat),
        cache: 'no-store',
      });
      if (!res.ok) throw new LocalApiError(`POST /local/heartbeat: ${res.status}`);
      return (await res.json()) as LocalHeartbeatReply;
    },
    async reachable() {
      try {
        return (await fetchFn('/', { method: 'HEAD', cache: 'no-store' })).ok;
      } catch {
        return false;
      }
    },
  };
}
