/**
 * The rules for the agent's links to the server (docs/deployment.md): the device secret goes to the server in every
 * MQTT CONNECT and every HTTP request, so a link to another machine must be TLS (`mqtts:`, `wss:`, `https:`), and a
 * TLS link trusts the CA pinned at enrollment, not the system's list. Plaintext is allowed to a loopback address,
 * or anywhere when the config explicitly allows it (`allowPlaintext`, for a lab).
 */
import { isIP } from 'node:net';
import { Duplex } from 'node:stream';
import { type ConnectionOptions, type TLSSocket, connect as tlsConnect } from 'node:tls';
import { Agent, buildConnector } from 'undici';
import { tlsPeerRefusal } from '../protocol/tls-identity.js';

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
 * The clock cannot be earlier than the software (systemd-timesyncd keeps the same floor): a lower bound of the time
 * estimate a certificate is judged on. Raise it with releases (a constant: the release build replaces agent/version.ts).
 */
export const AGENT_TIME_FLOOR_MS = Date.parse('2026-12-01T00:00:00Z');

/**
 * The time a TLS link judges the server certificate's validity period on (protocol/tls-identity.ts tlsPeerRefusal):
 * the latest of the wall clock, the floor above and the server-time estimate (agent/clock.ts, kept across restarts).
 */
export function tlsTimeEstimate(serverTime?: () => number): number {
  return Math.max(Date.now(), AGENT_TIME_FLOOR_MS, serverTime?.() ?? Number.NEGATIVE_INFINITY);
}

function bareHost(hostname: string): string {
  return hostname.replace(/^\[(.*)\]$/, '$1');
}

/**
 * `fetch` that trusts only the pinned CAs for https:// (the global fetch, with an undici dispatcher whose TLS
 * connections are judged by tlsPeerRefusal before the request is written); the global fetch when nothing is pinned.
 * Given a function, the set is read at every request and a new dispatcher made when it changed (connections to the old
 * set are closed). `serverTime` is the agent's server-time estimate (tlsTimeEstimate).
 */
export function pinnedFetch(cas: PinnedCas, serverTime?: () => number): typeof fetch {
  let held: { bundle: string; dispatcher: Agent } | null = null;
  const dispatcherFor = (bundle: string): Agent => {
    if (held?.bundle === bundle) return held.dispatcher;
    void held?.dispatcher.close().catch(() => {});
    // OpenSSL only reports (it would refuse a kiosk whose wall clock is behind); tlsPeerRefusal decides.
    const base = buildConnector({ ca: bundle, rejectUnauthorized: false });
    const connect: buildConnector.connector = (options, callback) =>
      base(options, (err, socket) => {
        if (err || !socket) return callback(err ?? new Error('no socket'), null);
        if (options.protocol !== 'https:') return callback(null, socket);
        const refused = tlsPeerRefusal(socket as TLSSocket, bundle, bareHost(options.hostname), tlsTimeEstimate(serverTime));
        if (!refused) return callback(null, socket);
        socket.destroy();
        callback(refused, null);
      });
    held = { bundle, dispatcher: new Agent({ connect }) };
    return held.dispatcher;
  };
  return ((input: Parameters<typeof fetch>[0], init?: RequestInit) => {
    const bundle = currentCas(cas);
    if (!bundle) return fetch(input, init);
    return fetch(input, { ...init, dispatcher: dispatcherFor(bundle) } as RequestInit);
  }) as typeof fetch;
}

/**
 * A TLS connection (for mqtt.js's stream builder) that holds every write until the handshake is judged by
 * tlsPeerRefusal against the pinned `cas`: a refused server gets not one byte (no CONNECT, no device secret).
 */
export function pinnedTlsStream(options: ConnectionOptions & { host: string }, cas: string, serverTime?: () => number): Duplex {
  const socket = tlsConnect({ ...options, ca: cas, rejectUnauthorized: false });
  let open = false;
  const held: Array<() => void> = [];
  const whenOpen = (fn: () => void): void => {
    if (open) fn();
    else held.push(fn);
  };
  const stream = new Duplex({
    write(chunk, encoding, callback) {
      // Through at once, as a socket's own write would be; held back only by the socket's backpressure.
      whenOpen(() => (socket.write(chunk, encoding) ? callback() : socket.once('drain', () => callback())));
    },
    final(callback) {
      whenOpen(() => socket.end(callback));
    },
    read() {
      socket.resume();
    },
    destroy(err, callback) {
      socket.destroy();
      callback(err);
    },
  });
  socket.on('data', (data: Buffer) => {
    if (!stream.push(data)) socket.pause();
  });
  socket.on('end', () => stream.push(null));
  socket.on('error', (err) => stream.destroy(err));
  socket.on('close', () => stream.destroy());
  socket.once('secureConnect', () => {
    const refused = tlsPeerRefusal(socket, cas, bareHost(options.host), tlsTimeEstimate(serverTime));
    if (refused) {
      stream.destroy(refused);
      return;
    }
    open = true;
    for (const fn of held.splice(0)) fn();
  });
  return stream;
}
