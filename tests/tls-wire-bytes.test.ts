/**
 * Issue 13: what TLS costs on the wire. A counting TCP proxy sits between a real mqtt.js device and the real server;
 * the bytes on the socket (both directions) for QoS 1 health samples — one sample per PUBLISH, as an agent sends
 * them, each with its PUBACK — are compared for plain MQTT, MQTT over TLS, WebSocket and secure WebSocket.
 * Prints the figures (docs/deployment.md quotes them).
 */
import { type AddressInfo, createServer, type Server, connect as tcpConnect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { topics } from '../protocol/index.js';
import { addDevice, connectDevice, healthSample, startTestServer, type TestServer } from '../server/testing/test-server.js';

const SAMPLES = 100;

interface CountingProxy {
  port: number;
  up: number;
  down: number;
  server: Server;
}
function countingProxy(targetPort: number): Promise<CountingProxy> {
  const proxy: CountingProxy = { port: 0, up: 0, down: 0, server: createServer() };
  proxy.server.on('connection', (client) => {
    const upstream = tcpConnect({ host: '127.0.0.1', port: targetPort });
    client.on('data', (chunk: Buffer) => {
      proxy.up += chunk.length;
      upstream.write(chunk);
    });
    upstream.on('data', (chunk: Buffer) => {
      proxy.down += chunk.length;
      client.write(chunk);
    });
    const end = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on('close', end).on('error', end);
    upstream.on('close', end).on('error', end);
  });
  return new Promise((resolve) => {
    proxy.server.listen(0, '127.0.0.1', () => {
      proxy.port = (proxy.server.address() as AddressInfo).port;
      resolve(proxy);
    });
  });
}

let server: TestServer;
const proxies: CountingProxy[] = [];
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(async () => {
  for (const proxy of proxies) proxy.server.close();
  await server?.stop();
});

describe('wire bytes per health sample', () => {
  it('measures plain MQTT, MQTTS, WS and WSS through a counting proxy', async () => {
    const transports = [
      { name: 'mqtt (TCP)', url: server.mqttUrl },
      { name: 'mqtts (TLS)', url: server.mqttsUrl },
      { name: 'ws', url: server.wsUrl },
      { name: 'wss (TLS)', url: server.wssUrl },
    ];
    const figures: Record<string, { connect: number; perSample: number }> = {};
    for (const [i, transport] of transports.entries()) {
      const target = new URL(transport.url);
      const proxy = await countingProxy(Number(target.port));
      proxies.push(proxy);
      target.hostname = 'localhost';
      target.port = String(proxy.port);
      const { id, secret } = addDevice(server, `kiosk-wire-${i}`);
      const client = await connectDevice(target.toString(), id, secret, {
        ca: server.caPem as string,
        servername: 'localhost',
        keepalive: 0,
      });
      const connect = proxy.up + proxy.down;
      const t = Date.now();
      for (let seq = 1; seq <= SAMPLES; seq++) {
        await client.publishAsync(topics.health(id), JSON.stringify({ samples: [healthSample(seq, t + seq)] }), { qos: 1 });
      }
      const perSample = (proxy.up + proxy.down - connect) / SAMPLES;
      await client.endAsync();
      figures[transport.name] = { connect, perSample };
    }
    const payload = JSON.stringify({ samples: [healthSample(1)] }).length;
    console.log(
      `wire bytes (both directions) for ${SAMPLES} QoS 1 health publishes of one sample (payload ${payload} B):\n${Object.entries(
        figures,
      )
        .map(
          ([name, f]) =>
            `  ${name.padEnd(12)} connect ${String(f.connect).padStart(5)} B   per sample ${f.perSample.toFixed(1)} B`,
        )
        .join('\n')}`,
    );
    const plain = figures['mqtt (TCP)'] as { perSample: number };
    const tls = figures['mqtts (TLS)'] as { perSample: number };
    // TLS 1.3 with AES-GCM adds 22 B per record (5 header, 1 type, 16 tag): one record each way per sample.
    expect(tls.perSample - plain.perSample).toBeGreaterThan(30);
    expect(tls.perSample - plain.perSample).toBeLessThan(100);
  });
});
