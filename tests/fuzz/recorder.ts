/**
 * Records what a real mqtt.js client sends in the sessions of an enrolled device: the client talks to the
 * real server through a local TCP proxy that keeps every client → server byte. Payloads, timestamps and
 * packet ids are fixed, so the recorded bytes differ between runs only by the device id and secret that
 * enrollment hands out (same lengths); the corpus hash in the report masks those two and is the same every run.
 */
import { createHash } from 'node:crypto';
import { createServer as createNetServer, connect as netConnect, type Socket } from 'node:net';
import mqtt, { type IClientOptions, UniqueMessageIdProvider } from 'mqtt';
import { generate, type Packet, parser } from 'mqtt-packet';
import { topics } from '../../protocol/index.js';
import { splitFrames } from './mqtt-wire.js';

export interface RecordedSession {
  name: string;
  protocolVersion: 4 | 5;
  /** The client's packets in the order it sent them. */
  packets: Buffer[];
}

export interface DeviceCredentials {
  id: string;
  secret: string;
}

/** A fixed device clock for recorded payloads (2025-07-01T00:00:00Z). */
const TS = 1_751_328_000_000;

function sample(seq: number) {
  return {
    seq,
    ts: TS + seq * 60_000,
    cpuLoad: 12.5,
    memUsed: 40,
    diskUsed: 55,
    diskFree: 10_000_000_000,
    tempC: 48,
    uptimeS: 3600,
    contentSeq: 0,
    queueDepth: 0,
  };
}

interface Script {
  name: string;
  options: IClientOptions;
  qos: 0 | 1;
}

function scripts(device: DeviceCredentials): Script[] {
  const will = {
    topic: topics.status(device.id),
    payload: Buffer.from(JSON.stringify({ online: false, ts: TS, agentVersion: '0.1.0', bootId: 'boot-fuzz' })),
    qos: 1 as const,
    retain: true,
  };
  return [
    // What the agent does (agent/mqtt-link.ts): persistent session, will, keepalive 30.
    { name: 'agent-v4', qos: 1, options: { clientId: device.id, clean: false, keepalive: 30, will, protocolVersion: 4 } },
    { name: 'helper-v4', qos: 1, options: { clientId: `${device.id}-fuzz`, clean: true, keepalive: 10, protocolVersion: 4 } },
    { name: 'qos0-v4', qos: 0, options: { clientId: `${device.id}-q0`, clean: true, keepalive: 0, protocolVersion: 4 } },
  ];
}

async function play(url: string, device: DeviceCredentials, script: Script): Promise<void> {
  const client = await mqtt.connectAsync(url, {
    username: device.id,
    password: device.secret,
    reconnectPeriod: 0,
    connectTimeout: 5000,
    messageIdProvider: new UniqueMessageIdProvider(),
    ...script.options,
  });
  const qos = script.qos;
  try {
    await client.publishAsync(
      topics.status(device.id),
      JSON.stringify({ online: true, ts: TS, agentVersion: '0.1.0', bootId: 'boot-fuzz' }),
      { qos, retain: true },
    );
    await client.subscribeAsync([topics.commands(device.id), topics.manifest(device.id)], { qos: 1 });
    await client.publishAsync(topics.health(device.id), JSON.stringify({ samples: [sample(1), sample(2), sample(3)] }), { qos });
    await client.publishAsync(
      topics.sync(device.id),
      JSON.stringify({ manifestSeq: 3, state: 'applied', bytes: 1_048_576, missing: 0 }),
      {
        qos,
      },
    );
    await client.publishAsync(
      topics.events(device.id),
      JSON.stringify({ type: 'agent_started', severity: 'info', message: 'Tác nhân đã khởi động', ts: TS }),
      { qos },
    );
    await client.publishAsync(
      topics.stats(device.id),
      JSON.stringify({ days: [{ day: '2025-06-30', itemId: 'bulletin-1', lang: 'vi', views: 12, seconds: 340.5 }] }),
      { qos },
    );
    await client.publishAsync(
      topics.commandResult(device.id, 'cmd-fuzz-1'),
      JSON.stringify({ id: 'cmd-fuzz-1', state: 'succeeded', detail: 'ok' }),
      { qos },
    );
    await client.unsubscribeAsync(topics.manifest(device.id));
  } finally {
    await client.endAsync();
  }
}

function asVersion5(packets: readonly Buffer[]): Buffer[] {
  const out: Buffer[] = [];
  const p = parser({ protocolVersion: 4 });
  p.on('packet', (packet: Packet) => {
    // A copy: the parser reads the version of the CONNECT it just emitted for the packets after it.
    out.push(generate(packet.cmd === 'connect' ? { ...packet, protocolVersion: 5 } : packet, { protocolVersion: 5 }));
  });
  p.parse(Buffer.concat(packets));
  return out;
}

/** Plays each script through a recording proxy in front of `mqttUrl` and returns the recorded sessions. */
export async function recordSessions(mqttUrl: string, device: DeviceCredentials): Promise<RecordedSession[]> {
  const upstream = new URL(mqttUrl);
  let captured: Buffer[] = [];
  const sockets = new Set<Socket>();
  const proxy = createNetServer((client) => {
    const server = netConnect(Number(upstream.port), upstream.hostname);
    sockets.add(client).add(server);
    client.on('data', (chunk: Buffer) => {
      captured.push(Buffer.from(chunk));
      server.write(chunk);
    });
    server.on('data', (chunk: Buffer) => client.write(chunk));
    client.on('close', () => server.end());
    server.on('close', () => client.destroy());
    client.on('error', () => server.destroy());
    server.on('error', () => client.destroy());
  });
  await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
  const address = proxy.address() as { port: number };
  const sessions: RecordedSession[] = [];
  try {
    for (const script of scripts(device)) {
      captured = [];
      await play(`mqtt://127.0.0.1:${address.port}`, device, script);
      // The DISCONNECT may still be in the proxy's hands for a moment.
      await new Promise((r) => setTimeout(r, 50));
      const { frames } = splitFrames(Buffer.concat(captured));
      sessions.push({ name: script.name, protocolVersion: 4, packets: frames.map((f) => Buffer.from(f.bytes)) });
    }
    // aedes speaks MQTT 3.1.1 only (it refuses a version 5 CONNECT), so no v5 session can be recorded against
    // it; the agent's session written again as MQTT 5 by mqtt-packet still drives the server's v5 parsing.
    const agent = sessions[0];
    if (agent) sessions.push({ name: 'agent-as-v5', protocolVersion: 5, packets: asVersion5(agent.packets) });
  } finally {
    for (const socket of sockets) socket.destroy();
    await new Promise<void>((resolve) => proxy.close(() => resolve()));
  }
  return sessions;
}

/** A short hash of the corpus, printed in the report so a replay can check it starts from the same bytes. */
export function corpusHash(sessions: readonly RecordedSession[], device: DeviceCredentials): string {
  const hash = createHash('sha256');
  const mask = (text: string) =>
    text.split(device.secret).join('S'.repeat(device.secret.length)).split(device.id).join('D'.repeat(device.id.length));
  for (const s of sessions) for (const p of s.packets) hash.update(mask(p.toString('latin1')), 'latin1');
  return hash.digest('hex').slice(0, 12);
}
