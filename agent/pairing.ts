/**
 * Unenrolled start: ask the server for a short code, show it on the kiosk page, poll until a technician claims it,
 * then write the enrollment into the config file (mode 0600) and hand it back.
 *
 * Which server a pairing kiosk trusts (docs/deployment.md): the claimed enrollment — the device secret — comes back
 * over this link, so it gets the rules of every other link (agent/link-security.ts): plaintext only to loopback or
 * with `allowPlaintext`; with `serverUrl` = `https://<server>:8443/#ca=<64 hex>` (the CA fingerprint, as in the
 * enrollment link) the server must prove it holds a certificate from that CA before anything is sent, and the
 * requests then trust only that CA; without `#ca=` an https server is checked against the system's trusted CAs (a
 * province certificate).
 */
import { readFile } from 'node:fs/promises';
import { hostname, networkInterfaces } from 'node:os';
import type { Logger } from 'pino';
import { type DeviceFacts, type EnrollResponse, PairingPoll, PairingStarted } from '../protocol/index.js';
import { checkServerIdentity, parseFingerprint } from '../protocol/tls-identity.js';
import { AgentClock } from './clock.js';
import { writeFileAtomic } from './content-store.js';
import { assertSecureLink, pinnedFetch, tlsTimeEstimate } from './link-security.js';

async function readDmi(name: string): Promise<string | null> {
  try {
    const v = (await readFile(`/sys/class/dmi/id/${name}`, 'utf8')).trim();
    return v.length > 0 ? v.slice(0, 200) : null;
  } catch {
    return null;
  }
}

export async function deviceFacts(): Promise<DeviceFacts> {
  const mac =
    Object.values(networkInterfaces())
      .flat()
      .find((i) => i && !i.internal && i.mac !== '00:00:00:00:00:00')?.mac ?? 'unknown';
  const host = hostname().slice(0, 200);
  return {
    serial: (await readDmi('product_serial')) ?? (await readDmi('product_uuid')) ?? host,
    model: (await readDmi('product_name')) ?? 'unknown',
    mac,
    hostname: host,
  };
}

export interface PairingOptions {
  serverUrl: string;
  pollMs: number;
  log: Logger;
  signal: AbortSignal;
  onCode: (pairing: { code: string; expiresAt: string } | null) => void;
  facts?: DeviceFacts;
  /** Lab only: pair over plaintext with a server that is not loopback. */
  allowPlaintext?: boolean;
  /** The server-time estimate (agent/clock.ts): a code's expiry is the server's, not the kiosk's wall clock. */
  time?: AgentClock;
}

const sleep = (ms: number, signal: AbortSignal): Promise<void> =>
  new Promise((resolve) => {
    const t = setTimeout(resolve, ms);
    signal.addEventListener('abort', () => {
      clearTimeout(t);
      resolve();
    });
  });

/**
 * The pairing server of a config's `serverUrl`: its base URL and the CA fingerprint of its `#ca=` fragment (never
 * sent: a fragment stays on the kiosk). Throws a readable error for a plaintext URL to another machine (unless
 * `allowPlaintext`) or a `#ca=` that is not a SHA-256 fingerprint.
 */
export function pairingServer(serverUrl: string, allowPlaintext: boolean): { base: string; caFingerprint: string | null } {
  const url = new URL(serverUrl);
  const raw = new URLSearchParams(url.hash.slice(1)).get('ca');
  url.hash = '';
  const base = url.toString().replace(/\/$/, '');
  assertSecureLink(base, allowPlaintext, 'pairing server URL');
  if (raw === null) return { base, caFingerprint: null };
  const caFingerprint = parseFingerprint(raw);
  if (!caFingerprint) throw new Error(`serverUrl ${serverUrl}: #ca= is not a SHA-256 fingerprint (64 hex digits)`);
  if (url.protocol !== 'https:') throw new Error(`serverUrl ${serverUrl}: #ca= needs an https:// server`);
  return { base, caFingerprint };
}

/** Runs until claimed (returns the enrollment) or aborted (returns null). Server errors are retried, never fatal. */
export async function pairUntilClaimed(o: PairingOptions): Promise<EnrollResponse | null> {
  const server = pairingServer(o.serverUrl, o.allowPlaintext ?? false);
  const base = server.base;
  const facts = o.facts ?? (await deviceFacts());
  const time = o.time ?? new AgentClock();
  let failures = 0;
  while (!o.signal.aborted) {
    try {
      // With #ca=, the server proves its CA before the facts go out, every round (a captive portal may come and go).
      let http: typeof fetch = fetch;
      let pinnedCa: string | undefined;
      if (server.caFingerprint) {
        // The certificate's validity is judged on the time estimate, not a wall clock that may be behind (1970).
        const estimate = (): number => tlsTimeEstimate(() => time.serverNow());
        const check = await checkServerIdentity(base, server.caFingerprint, 15_000, estimate);
        if (!check.ok) {
          throw new Error(
            `the server at ${base} is not the one serverUrl names with #ca= (${check.message}); nothing was sent to it`,
          );
        }
        pinnedCa = check.caPem;
        http = pinnedFetch(pinnedCa, () => time.serverNow());
      }
      const res = await http(`${base}/api/v1/pairing`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ facts, kind: 'kiosk' }),
        signal: o.signal,
      });
      time.observeResponse(res);
      if (!res.ok) throw new Error(`pairing request answered ${res.status}`);
      const started = PairingStarted.parse(await res.json());
      o.onCode({ code: started.code, expiresAt: started.expiresAt });
      failures = 0;
      while (!o.signal.aborted) {
        await sleep(o.pollMs, o.signal);
        if (o.signal.aborted) break;
        const poll = await http(`${base}/api/v1/pairing/${encodeURIComponent(started.pollToken)}`, { signal: o.signal });
        time.observeResponse(poll);
        if (poll.status === 404 || poll.status === 410) break; // unknown, expired or spent: ask for a new code
        if (poll.status === 429 || poll.status >= 500) {
          // Keep the code on screen: the technician may be typing it right now.
          await poll.body?.cancel();
          await sleep(o.pollMs * 4, o.signal);
          continue;
        }
        if (!poll.ok) throw new Error(`pairing poll answered ${poll.status}`);
        const state = PairingPoll.parse(await poll.json());
        if (state.state === 'claimed') {
          o.onCode(null);
          // A server that hands out no CA (operator certificate without TLS_CA_FILE): keep trusting the one it proved.
          return pinnedCa && !state.enrollment.caPem ? { ...state.enrollment, caPem: pinnedCa } : state.enrollment;
        }
        if (Date.parse(state.expiresAt) <= time.serverNow()) break;
      }
    } catch (err) {
      if (o.signal.aborted) break;
      o.log.warn({ err: (err as Error).message }, 'pairing failed; retrying');
      await sleep(Math.min(60_000, 2000 * 2 ** Math.min(failures++, 5)), o.signal);
    }
  }
  return null;
}

/** Adds the enrollment to the config file, keeping its local settings; readable by the agent's user only. */
export async function writeEnrollment(configPath: string, enrollment: EnrollResponse): Promise<void> {
  let existing: Record<string, unknown> = {};
  try {
    existing = JSON.parse(await readFile(configPath, 'utf8')) as Record<string, unknown>;
  } catch {
    // no file yet
  }
  await writeFileAtomic(configPath, `${JSON.stringify({ ...existing, ...enrollment }, null, 2)}\n`, 0o600);
}
