/**
 * Idle traffic (issue 14): health samples go out in batches, one publish per send interval
 * (AGENT_HEALTH_SEND_INTERVAL_S), and at once when it matters (the queue cannot be written, a reconnect, shutdown);
 * the MQTT keepalive is long and from the config, so a batch replaces the pings. A real aedes broker, real mqtt.js,
 * a real agent (its own timer) and a real SQLite queue.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Aedes } from 'aedes';
import { afterEach, describe, expect, it } from 'vitest';
import { openAgentDb } from '../agent/agent-db.js';
import { parseAgentConfig } from '../agent/config.js';
import { createAgent } from '../agent/create-agent.js';
import { HealthQueue } from '../agent/health-queue.js';
import { HealthReporter } from '../agent/health-sender.js';
import { MqttLink } from '../agent/mqtt-link.js';
import type { HealthSample } from '../protocol/index.js';
import { agentEnv, fixedHealth, silent } from './helpers/agent-fixture.js';
import { type Received, startBroker, startCuttableProxy, startObserver, waitFor } from './helpers/agent-test-net.js';

let cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => {});
  cleanups = [];
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function healthBatches(messages: Received[]): HealthSample[][] {
  return messages.filter((m) => m.topic.endsWith('/health')).map((m) => (m.json as { samples: HealthSample[] }).samples);
}

describe('health batching and keepalive', () => {
  it('N samples taken by the timer arrive in at most ceil(N/k) + 1 publishes, every one of them, the last ones at shutdown', async () => {
    const env = await agentEnv('kiosk-idle-1');
    const broker = await startBroker({ [env.deviceId]: env.secret });
    const observer = await startObserver(broker.url);
    cleanups.push(env.cleanup, broker.close, observer.close);
    // k = 1000 ms / 100 ms = 10 samples per publish (samplesPerSend in agent/health-sender.ts).
    const k = 10;
    const agent = await createAgent(
      env.config(broker.url, { AGENT_HEALTH_INTERVAL_MS: '100', AGENT_HEALTH_SEND_INTERVAL_MS: '1000' }),
      { log: silent, healthSource: fixedHealth(), reconnectBaseMs: 50 },
    );
    let closed = false;
    cleanups.push(async () => {
      if (!closed) await agent.close();
    });
    await waitFor(() => agent.online(), 'agent online');
    await sleep(3500);
    await agent.close();
    closed = true;
    await sleep(300);
    const batches = healthBatches(observer.messages);
    const seqs = batches.flat().map((s) => s.seq);
    const n = seqs.length;
    expect(n).toBeGreaterThanOrEqual(20);
    // Every sample taken arrived once (the held ones with the shutdown flush), in seq order 1..n.
    expect([...seqs].sort((a, b) => a - b)).toEqual(Array.from({ length: n }, (_, i) => i + 1));
    // The first publish is the first sample alone (sent at once after the connect, below); then full batches but for
    // the last (the shutdown's).
    expect(batches[0]).toHaveLength(1);
    expect(batches.length).toBeLessThanOrEqual(Math.ceil((n - 1) / k) + 2);
    for (const b of batches.slice(1, -1)) expect(b.length).toBe(k);
  });

  it('the first sample after a connect goes out at once, so a kiosk just enrolled or just updated need not wait a send interval', async () => {
    const env = await agentEnv('kiosk-idle-connect');
    const broker = await startBroker({ [env.deviceId]: env.secret });
    const proxy = await startCuttableProxy(broker.port);
    const observer = await startObserver(broker.url);
    cleanups.push(env.cleanup, broker.close, proxy.close, observer.close);
    // A sample every 400 ms, one publish every 15 min: nothing would go out for 15 minutes but for the first sample.
    const agent = await createAgent(
      env.config(proxy.url, { AGENT_HEALTH_INTERVAL_MS: '400', AGENT_HEALTH_SEND_INTERVAL_MS: '900000' }),
      { log: silent, healthSource: fixedHealth(), reconnectBaseMs: 50 },
    );
    cleanups.push(() => agent.close());
    await waitFor(() => agent.online(), 'agent online');
    await waitFor(() => healthBatches(observer.messages).length === 1, 'the first sample');
    expect(healthBatches(observer.messages)[0]?.map((s) => s.seq)).toEqual([1]);
    await sleep(1000);
    // The next ones are held for their batch.
    expect(healthBatches(observer.messages)).toHaveLength(1);
    // (Every connect sets it again: agent/create-agent.ts onUp; this first one went through that path too. After a
    // reconnect the held samples and that first one may share the flush, so the next test judges the reconnect.)
  });

  it('held samples go out at once after a reconnect, not a send interval later', async () => {
    const env = await agentEnv('kiosk-idle-2');
    const broker = await startBroker({ [env.deviceId]: env.secret });
    const proxy = await startCuttableProxy(broker.port);
    const observer = await startObserver(broker.url);
    cleanups.push(env.cleanup, broker.close, proxy.close, observer.close);
    // 600 samples per publish: none is due within this test but for the flushes.
    const agent = await createAgent(
      env.config(proxy.url, { AGENT_HEALTH_INTERVAL_MS: '100', AGENT_HEALTH_SEND_INTERVAL_MS: '60000' }),
      { log: silent, healthSource: fixedHealth(), reconnectBaseMs: 50 },
    );
    cleanups.push(() => agent.close());
    await waitFor(() => agent.online(), 'agent online');
    await sleep(800);
    // Only the first sample after the connect went out; the next ones are held.
    expect(healthBatches(observer.messages)).toHaveLength(1);
    const heldBefore = agent.queueDepth();
    expect(heldBefore).toBeGreaterThan(3);
    proxy.cut();
    await waitFor(() => !agent.online(), 'agent offline');
    proxy.restore();
    await waitFor(() => agent.online(), 'agent back online');
    // Within a few seconds of the reconnect, not 60 s later: everything taken until the reconnect.
    await waitFor(
      () => healthBatches(observer.messages).flat().length >= heldBefore + 1,
      'held samples after the reconnect',
      5000,
    );
    const seqs = healthBatches(observer.messages)
      .flat()
      .map((s) => s.seq);
    expect(new Set(seqs).size).toBe(seqs.length);
  });

  it('a queue that cannot be written sends what is held at once, with its event', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'agent-idle-'));
    const broker = await startBroker({ 'kiosk-idle-3': 's'.repeat(24) });
    const observer = await startObserver(broker.url);
    cleanups.push(() => rm(dir, { recursive: true, force: true }), broker.close, observer.close);
    const db = openAgentDb(dir);
    const queue = new HealthQueue(db, 1000);
    cleanups.push(async () => {
      queue.close();
      db.close();
    });
    const reporter = new HealthReporter({
      queue,
      source: fixedHealth(),
      queueLimit: 1000,
      clock: Date.now,
      log: silent,
      contentSeq: () => 0,
      samplesPerSend: () => 100,
    });
    const link = new MqttLink({
      url: broker.url,
      deviceId: 'kiosk-idle-3',
      secret: 's'.repeat(24),
      agentVersion: 'test',
      bootId: 'b',
      reconnectBaseMs: 50,
      reconnectCapMs: 1000,
      keepaliveS: 600,
      clock: Date.now,
      log: silent,
      onUp: () => reporter.onLinkUp(),
      onDown: () => {},
      onMessage: () => {},
    });
    cleanups.push(() => link.close());
    reporter.attach({
      get online() {
        return link.online;
      },
      publish: (kind, payload) => link.publish(kind, payload),
      publishEvent: (type, severity, message) => link.publish('events', { type, severity, message, ts: Date.now() }),
    });
    link.start();
    await waitFor(() => link.online, 'link up');
    for (let i = 0; i < 3; i++) await reporter.collect();
    await sleep(300);
    expect(healthBatches(observer.messages)).toHaveLength(0);
    // The DB refuses writes from now on (as a read-only remount does): the sample goes to memory, and out at once.
    db.pragma('query_only = ON');
    await reporter.collect();
    await waitFor(() => healthBatches(observer.messages).flat().length === 4, 'the held samples and the new one');
    await waitFor(
      () =>
        observer.messages.some(
          (m) => m.topic.endsWith('/events') && (m.json as { type: string }).type === 'health_queue_unwritable',
        ),
      'the storage event',
    );
    expect(healthBatches(observer.messages)).toHaveLength(1);
  });

  it('the MQTT keepalive comes from the config and is long by default; the CONNECT carries it', async () => {
    const file = {
      deviceId: 'k-1',
      secret: 'x'.repeat(32),
      siteId: 'gl-c-iadom',
      mqttUrl: 'mqtt://127.0.0.1:1883',
      apiUrl: 'http://127.0.0.1:8080',
      manifestKey: '-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEA\n-----END PUBLIC KEY-----\n',
    };
    expect(parseAgentConfig(file, {}, null).mqttKeepaliveS).toBe(1200);
    expect(parseAgentConfig(file, { AGENT_MQTT_KEEPALIVE_S: '900' }, null).mqttKeepaliveS).toBe(900);

    // A real aedes broker records the keepalive of each CONNECT.
    const keepalives: number[] = [];
    const broker = await Aedes.createBroker({
      preConnect: (_client, packet, done) => {
        keepalives.push((packet as { keepalive: number }).keepalive);
        done(null, true);
      },
    });
    const server = createServer(broker.handle);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    cleanups.push(
      () => new Promise<void>((resolve) => server.close(() => resolve())),
      () => new Promise<void>((resolve) => broker.close(() => resolve())),
    );
    const env = await agentEnv('kiosk-idle-4');
    cleanups.push(env.cleanup);
    const url = `mqtt://127.0.0.1:${(server.address() as { port: number }).port}`;
    for (const [extra, expected] of [
      [{}, 1200],
      [{ AGENT_MQTT_KEEPALIVE_S: '2400' }, 2400],
    ] as const) {
      const agent = await createAgent(env.config(url, extra), { log: silent, healthSource: fixedHealth() });
      await waitFor(() => agent.online(), 'agent online');
      await agent.close();
      expect(keepalives.at(-1)).toBe(expected);
    }
  });
});
