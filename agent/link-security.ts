/**
 * The rules for the agent's links to the server (docs/deployment.md): the device secret goes to the server in every
 * MQTT CONNECT and every HTTP request, so a link to another machine must be TLS (`mqtts:`, `wss:`, `https:`), and a
 * TLS link trusts the CA pinned at enrollment, not the system's list. Plaintext is allowed to a loopback address,
 * or anywhere when the config explicitly allows it (`allowPlaintext`, for a lab).
 */
import { isIP } from 'node:net';
import { Agent } from 'undici';

const TLS_SCHEMES = new Set(['mqtts:', 'wss:', 'https:']);

function isLoopback(hostname: string): boolean {
  const bare = hostname.replace(/^\[(.*)\]$/, '$1');
  if (bare === 'localhost' || bare === '::1') return true;
  return isIP(bare) === 4 && bare.startsWith('127.');
}

/** Throws a readable error when `url` would carry the device secret in clear over the network. */
export function assertSecureLink(url: string, allowPlaintext: boolean, what: string): void {
  const parsed = new URL(url);
  if (TLS_SCHEMES.has(parsed.protocol) || allowPlaintext || isLoopback(parsed.hostname)) return;
  throw new Error(
    `refusing the ${what} ${url}: it is not TLS and not loopback, so the device secret would cross the network in clear. ` +
      'Enroll against the server\u2019s https:// PUBLIC_URL (it hands out mqtts:// and https:// and its CA), ' +
      'or, for a lab only, set "allowPlaintext": true in the config file (or AGENT_ALLOW_PLAINTEXT=1).',
  );
}

/** The CAs a link trusts: a PEM bundle, or a function read at each connection (the set may change, DESIGN §7). */
export type PinnedCas = string | undefined | (() => string | undefined);

export function currentCas(cas: PinnedCas): string | undefined {
  return typeof cas === 'function' ? cas() : cas;
}

/**
 * `fetch` that trusts only the pinned CAs for https:// (the global fetch, with an undici dispatcher whose TLS
 * connections verify against them); the global fetch when nothing is pinned. Given a function, the set is read
 * at every request and a new dispatcher made when it changed (connections to the old set are closed).
 */
export function pinnedFetch(cas: PinnedCas): typeof fetch {
  let held: { bundle: string; dispatcher: Agent } | null = null;
  const dispatcherFor = (bundle: string): Agent => {
    if (held?.bundle === bundle) return held.dispatcher;
    void held?.dispatcher.close().catch(() => {});
    held = { bundle, dispatcher: new Agent({ connect: { ca: bundle } }) };
    return held.dispatcher;
  };
  return ((input: Parameters<typeof fetch>[0], init?: RequestInit) => {
    const bundle = currentCas(cas);
    if (!bundle) return fetch(input, init);
    return fetch(input, { ...init, dispatcher: dispatcherFor(bundle) } as RequestInit);
  }) as typeof fetch;
}
