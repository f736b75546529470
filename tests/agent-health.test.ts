/**
 * Store-and-forward of health samples through a real broker: nothing lost or duplicated across an outage, a bounded
 * queue over a simulated week offline, live samples not starved by a backlog, seq increasing across restarts.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { createAgent, type RunningAgent } from '../agent/create-agent.js';
import { type HealthSample, LIMITS } from '../protocol/index.js';
import { type AgentEnv, agentEnv, fixedHealth, silent } from './helpers/agent-fixture.js';
import { type Received, startBroker, startCuttableProxy, startObserver, waitFor } from './helpers/agent-test-net.js';

let cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => {});
  cleanups = [];
});

function healthMessages(messages: Received[]): HealthSample[][] {
  return messages.filter((m) => m.topic.endsWith('/health')).map((m) => (m.json as { samples: HealthSample[] }).samples);
}

function receivedSeqs(messages: Received[]): Set<number> {
  return new Set(healthMessages(messages).flatMap((batch) => batch.map((s) => s.seq)));
}

async function start(
  env: AgentEnv,
  mqttUrl: string,
  extra: Record<string, string> = {},
  clock?: () => number,
): Promise<RunningAgent> {
  const agent = await createAgent(env.config(mqttUrl, extra), {
    log: silent,
    healthSource: fixedHealth(),
    reconnectBaseMs: 50,
    ...(clock ? { clock } : {}),
  });
  cleanups.push(() => agent.close());
  return agent;
}

describe('agent health store-and-forward', () => {
  it('buffers through an outage and flushes oldest first in bounded batches, none lost or duplicated, live not starved', async () => {
    const env = await agentEnv('kiosk-health-1');
    // Hold every backlog batch at the broker for 300 ms, so a live sample taken meanwhile must overtake the backlog.
    const broker = await startBroker({ [env.deviceId]: env.secret }, (topic, payload) =>
      topic.endsWith('/health') && (JSON.parse(payload.toString()) as { samples: unknown[] }).samples.length > 1 ? 300 : 0,
    );
    const proxy = await startCuttableProxy(broker.port);
    const observer = await startObserver(broker.url);
    cleanups.push(env.cleanup, broker.close, proxy.close, observer.close);
    const agent = await start(env, proxy.url);
    await waitFor(() => agent.online(), 'agent online');
    for (let i = 0; i < 3; i++) await agent.collectHealth();
    await waitFor(() => receivedSeqs(observer.messages).size === 3, 'three live samples');
    // The observer can see a sample before its PUBACK reaches the agent; cut only once the queue is empty.
    await waitFor(() => agent.queueDepth() === 0, 'three live samples acknowledged');

    proxy.cut();
    await waitFor(() => !agent.online(), 'agent offline');
    const offlineCount = 1100;
    for (let i = 0; i < offlineCount; i++) await agent.collectHealth();
    expect(agent.queueDepth()).toBe(offlineCount);

    proxy.restore();
    await waitFor(() => agent.online(), 'agent back online', 30_000);
    const live = await agent.collectHealth();
    const total = 3 + offlineCount + 1;
    await waitFor(() => receivedSeqs(observer.messages).size === total, 'every sample delivered', 30_000);
    await waitFor(() => agent.queueDepth() === 0, 'queue drained');

    const batches = healthMessages(observer.messages);
    const seqs = [...receivedSeqs(observer.messages)].sort((a, b) => a - b);
    expect(seqs).toEqual(Array.from({ length: total }, (_, i) => i + 1));
    for (const batch of batches) expect(batch.length).toBeLessThanOrEqual(LIMITS.maxHealthSamples);
    const backlog = batches.filter((b) => b.length > 1);
    expect(backlog.length).toBeGreaterThanOrEqual(3);
    // Oldest first: each backlog batch starts after the previous one.
    for (let i = 1; i < backlog.length; i++) expect(backlog[i]?.[0]?.seq).toBeGreaterThan(backlog[i - 1]?.[0]?.seq ?? 0);
    const liveIndex = batches.findIndex((b) => b.length === 1 && b[0]?.seq === live?.seq);
    const lastBacklogIndex = batches.findIndex((b) => b.some((s) => s.seq === 3 + offlineCount));
    expect(liveIndex).toBeGreaterThanOrEqual(0);
    expect(liveIndex).toBeLessThan(lastBacklogIndex);

    // seq keeps increasing across a restart.
    await agent.close();
    const again = await start(env, proxy.url);
    expect((await again.collectHealth())?.seq).toBe(total + 1);
  }, 120_000);

  it('keeps a bounded queue over a simulated week offline, dropping and counting the oldest', async () => {
    const env = await agentEnv('kiosk-health-2');
    const broker = await startBroker({ [env.deviceId]: env.secret });
    const proxy = await startCuttableProxy(broker.port);
    const observer = await startObserver(broker.url);
    cleanups.push(env.cleanup, broker.close, proxy.close, observer.close);
    proxy.cut(); // the server is unreachable all week
    let now = Date.parse('2026-11-01T00:00:00Z');
    const limit = 100;
    const agent = await start(env, proxy.url, { AGENT_QUEUE_LIMIT: String(limit), AGENT_HEALTH_INTERVAL_S: '300' }, () => now);
    const week = (7 * 86_400) / 300;
    let last: HealthSample | null = null;
    for (let i = 0; i < week; i++) {
      last = await agent.collectHealth();
      now += 300_000;
      expect(agent.queueDepth()).toBeLessThanOrEqual(limit);
    }
    expect(agent.queueDepth()).toBe(limit);
    expect(last?.seq).toBe(week);
    expect(last?.queueDropped).toBe(week - limit);
    expect(last?.queueDepth).toBe(limit);

    proxy.restore();
    await waitFor(() => receivedSeqs(observer.messages).size === limit, 'the kept samples delivered', 30_000);
    const seqs = [...receivedSeqs(observer.messages)].sort((a, b) => a - b);
    expect(seqs).toEqual(Array.from({ length: limit }, (_, i) => week - limit + 1 + i));
    await waitFor(
      () =>
        observer.messages.some(
          (m) => m.topic.endsWith('/events') && (m.json as { type: string }).type === 'health_queue_dropped',
        ),
      'drop event',
    );
    const event = observer.messages.find((m) => m.topic.endsWith('/events'))?.json as { message: string };
    expect(event.message).toContain(`${week - limit} oldest samples dropped`);
  }, 120_000);
});
