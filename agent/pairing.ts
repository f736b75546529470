/**
 * Unenrolled start: ask the server for a short code, show it on the kiosk page, poll until a technician claims it,
 * then write the enrollment into the config file (mode 0600) and hand it back.
 */
import { readFile } from 'node:fs/promises';
import { hostname, networkInterfaces } from 'node:os';
import type { Logger } from 'pino';
import { type DeviceFacts, type EnrollResponse, PairingPoll, PairingStarted } from '../protocol/index.js';
import { writeFileAtomic } from './content-store.js';

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
}

const sleep = (ms: number, signal: AbortSignal): Promise<void> =>
  new Promise((resolve) => {
    const t = setTimeout(resolve, ms);
    signal.addEventListener('abort', () => {
      clearTimeout(t);
      resolve();
    });
  });

/** Runs until claimed (returns the enrollment) or aborted (returns null). Server errors are retried, never fatal. */
export async function pairUntilClaimed(o: PairingOptions): Promise<EnrollResponse | null> {
  const base = o.serverUrl.replace(/\/$/, '');
  const facts = o.facts ?? (await deviceFacts());
  let failures = 0;
  while (!o.signal.aborted) {
    try {
      const res = await fetch(`${base}/api/v1/pairing`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ facts, kind: 'kiosk' }),
        signal: o.signal,
      });
      if (!res.ok) throw new Error(`pairing request answered ${res.status}`);
      const started = PairingStarted.parse(await res.json());
      o.onCode({ code: started.code, expiresAt: started.expiresAt });
      failures = 0;
      while (!o.signal.aborted) {
        await sleep(o.pollMs, o.signal);
        if (o.signal.aborted) break;
        const poll = await fetch(`${base}/api/v1/pairing/${encodeURIComponent(started.pollToken)}`, { signal: o.signal });
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
          return state.enrollment;
        }
        if (Date.parse(state.expiresAt) <= Date.now()) break;
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
