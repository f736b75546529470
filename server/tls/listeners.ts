/**
 * The TLS listeners: MQTT over TLS (MQTTS_PORT) and HTTPS (HTTPS_PORT, which also carries MQTT over secure
 * WebSocket at `/mqtt` through the same upgrade handler as plain HTTP), both on the material of a TlsState and
 * both TLS 1.2 or newer. Plus the rule for the plaintext listeners (`PLAINTEXT`).
 */
import type { ServerOptions as HttpServerOptions, IncomingMessage, RequestListener } from 'node:http';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import { type AddressInfo, isIP, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { createServer as createTlsServer, type TLSSocket, type Server as TlsServer } from 'node:tls';
import type { TlsState } from './tls-state.js';

/** A TLS handshake must be done within this (Node's default is 120 s). */
const HANDSHAKE_TIMEOUT_MS = 20_000;

export type PlaintextMode = 'on' | 'loopback' | 'off';

export function isLoopbackHost(host: string): boolean {
  const bare = host.replace(/^\[(.*)\]$/, '$1');
  if (bare === 'localhost' || bare === '::1') return true;
  return isIP(bare) === 4 && bare.startsWith('127.');
}

/**
 * Where a plaintext listener binds under `PLAINTEXT`: `on` = the configured host, `loopback` = the configured
 * host when it is a loopback one, else 127.0.0.1 (`::1` for `::`), `off` = nowhere (null).
 */
export function plaintextHost(mode: PlaintextMode, configured: string): string | null {
  if (mode === 'off') return null;
  if (mode === 'on' || isLoopbackHost(configured)) return configured;
  return configured === '::' ? '::1' : '127.0.0.1';
}

/** Every socket of each listener, so that closing does not wait for a handshake or an idle kiosk. */
const socketsOf = new WeakMap<TlsServer, Set<Socket>>();

function listening<T extends TlsServer>(server: T, host: string, port: number): Promise<T> {
  const sockets = new Set<Socket>();
  socketsOf.set(server, sockets);
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve(server);
    });
  });
}

export function addressOf(server: TlsServer): AddressInfo {
  return server.address() as AddressInfo;
}

/**
 * MQTT over TLS: each decrypted connection goes to `handle` (the broker's), as a TCP socket would. Sockets whose
 * handshake fails (wrong CA, TLS 1.1, not TLS at all) are dropped without reaching the broker.
 */
export function listenMqtts(handle: (stream: Duplex) => void, tls: TlsState, host: string, port: number): Promise<TlsServer> {
  const server = createTlsServer(
    { ...tls.secureContextOptions(), handshakeTimeout: HANDSHAKE_TIMEOUT_MS },
    (socket: TLSSocket) => {
      handle(socket);
    },
  );
  server.on('tlsClientError', (_error, socket) => socket.destroy());
  tls.attach(server);
  return listening(server, host, port);
}

export interface HttpsListenerOptions {
  requestListener: RequestListener;
  /** The same handler the plain HTTP server uses for `upgrade` (MQTT over WebSocket at `/mqtt`). */
  onUpgrade: (request: IncomingMessage, socket: Duplex, head: Buffer) => void;
  /** Timeouts and limits, the same as the plain HTTP server's. */
  serverOptions?: HttpServerOptions;
  maxHeadersCount?: number;
}

/** HTTPS: the API and dashboard, and MQTT over secure WebSocket at `/mqtt`. */
export function listenHttps(options: HttpsListenerOptions, tls: TlsState, host: string, port: number): Promise<HttpsServer> {
  const server = createHttpsServer(
    { ...options.serverOptions, ...tls.secureContextOptions(), handshakeTimeout: HANDSHAKE_TIMEOUT_MS },
    options.requestListener,
  );
  if (options.maxHeadersCount !== undefined) server.maxHeadersCount = options.maxHeadersCount;
  server.on('upgrade', options.onUpgrade);
  server.on('tlsClientError', (_error, socket: Socket) => socket.destroy());
  tls.attach(server);
  return listening(server, host, port);
}

/** Closes a TLS listener and every connection on it. */
export async function closeTlsListener(server: TlsServer | HttpsServer): Promise<void> {
  const closed = new Promise<void>((resolve) => server.close(() => resolve()));
  for (const socket of socketsOf.get(server) ?? []) socket.destroy();
  await closed;
}
