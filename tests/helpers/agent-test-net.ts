/**
 * Test-side network for agent tests: a real aedes broker (device auth = id:secret), an observer client that records
 * what devices publish, a TCP proxy that can cut the agent's link to the broker (or lose what the broker sends),
 * and a free port for a child.
 */
import { connect, createServer, type Server, type Socket } from 'node:net';
import { Transform } from 'node:stream';
import { Aedes } from 'aedes';
import mqtt, { type MqttClient } from 'mqtt';
import { TOPIC_ROOT } from '../../protocol/index.js';

export interface TestBroker {
  url: string;
  port: number;
  close(): Promise<void>;
}

/** `delayPublishMs` lets a test hold a device's publish (and so its PUBACK) for a while. */
export async function startBroker(
  devices: Record<string, string>,
  delayPublishMs?: (topic: string, payload: Buffer) => number,
): Promise<TestBroker> {
  const broker = await Aedes.createBroker({
    authorizePublish: (_client, packet, done) => {
      const ms = delayPublishMs?.(packet.topic, packet.payload as Buffer) ?? 0;
      if (ms > 0) setTimeout(() => done(null), ms);
      else done(null);
    },
    authenticate: (_client, username, password, done) => {
      if (username === 'observer') return done(null, true);
      done(null, username !== undefined && devices[username] !== undefined && password?.toString() === devices[username]);
    },
  });
  const server = createServer(broker.handle);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  return {
    url: `mqtt://127.0.0.1:${port}`,
    port,
    close: async () => {
      await new Promise<void>((resolve) => broker.close(() => resolve()));
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

export interface Received {
  topic: string;
  json: unknown;
}

/** Subscribes to every device topic and keeps what arrives. */
export async function startObserver(url: string): Promise<{ messages: Received[]; client: MqttClient; close(): Promise<void> }> {
  const client = await mqtt.connectAsync(url, {
    username: 'observer',
    password: 'x',
    clientId: `observer-${process.pid}-${Math.random()}`,
  });
  const messages: Received[] = [];
  client.on('message', (topic, payload) => {
    let json: unknown = null;
    try {
      json = JSON.parse(payload.toString('utf8'));
    } catch {
      json = payload.toString('utf8');
    }
    messages.push({ topic, json });
  });
  await client.subscribeAsync(`${TOPIC_ROOT}/#`, { qos: 1 });
  return { messages, client, close: () => client.endAsync(true) };
}

/**
 * A TCP proxy whose link can be cut (existing sockets destroyed, new ones refused) and restored. With `lossy`,
 * `swallow(true)` drops what the target sends until `swallow(false)` (a device's PUBACKs lost, its publishes not).
 */
export async function startCuttableProxy(
  targetPort: number,
  o: { lossy?: boolean } = {},
): Promise<{ url: string; port: number; cut(): void; restore(): void; swallow(on: boolean): void; close(): Promise<void> }> {
  let down = false;
  let swallowing = false;
  const sockets = new Set<Socket>();
  const server: Server = createServer((inbound: Socket) => {
    if (down) {
      inbound.destroy();
      return;
    }
    const outbound = connect(targetPort, '127.0.0.1');
    sockets.add(inbound);
    sockets.add(outbound);
    const back = o.lossy
      ? outbound.pipe(new Transform({ transform: (chunk, _encoding, done) => done(null, swallowing ? undefined : chunk) }))
      : outbound;
    inbound.pipe(outbound);
    back.pipe(inbound);
    const drop = (): void => {
      inbound.destroy();
      outbound.destroy();
      sockets.delete(inbound);
      sockets.delete(outbound);
    };
    inbound.on('error', drop).on('close', drop);
    outbound.on('error', drop).on('close', drop);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  return {
    url: `mqtt://127.0.0.1:${port}`,
    port,
    cut: () => {
      down = true;
      for (const s of sockets) s.destroy();
      sockets.clear();
    },
    restore: () => {
      down = false;
    },
    swallow: (on: boolean) => {
      swallowing = on;
    },
    close: async () => {
      down = true;
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** Polls `check` every 20 ms until it returns true; fails after `timeoutMs`. */
export async function waitFor(check: () => boolean | Promise<boolean>, what: string, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`timed out waiting for ${what}`);
}

/** A TCP port free on 127.0.0.1 now (for a child process that must be told its port). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as { port: number };
      probe.close(() => resolve(port));
    });
  });
}
