/** Commands of DESIGN §8 through a real broker: each id runs at most once (also across a restart), results reported. */
import { afterEach, describe, expect, it } from 'vitest';
import { createAgent, type RunningAgent } from '../agent/create-agent.js';
import { type CommandMessage, topics } from '../protocol/index.js';
import { type AgentEnv, agentEnv, fixedHealth, silent } from './helpers/agent-fixture.js';
import { startBroker, startObserver, waitFor } from './helpers/agent-test-net.js';

let cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => {});
  cleanups = [];
});

describe('agent commands', () => {
  it('executes a command delivered twice once, across a restart too, and reports acked then succeeded/failed', async () => {
    const env: AgentEnv = await agentEnv('kiosk-cmd-1');
    const broker = await startBroker({ [env.deviceId]: env.secret });
    const observer = await startObserver(broker.url);
    cleanups.push(env.cleanup, broker.close, observer.close);
    const hooks: string[] = [];
    const start = async (): Promise<RunningAgent> => {
      const agent = await createAgent(env.config(broker.url, { AGENT_REBOOT_CMD: 'test-reboot-hook' }), {
        log: silent,
        healthSource: fixedHealth(),
        runHook: async (cmd) => {
          hooks.push(cmd);
          return 'ok';
        },
      });
      cleanups.push(() => agent.close());
      await waitFor(() => agent.online(), 'agent online');
      return agent;
    };
    const send = async (cmd: CommandMessage): Promise<void> => {
      await observer.client.publishAsync(topics.commands(env.deviceId), JSON.stringify(cmd), { qos: 1 });
    };
    const results = (id: string): string[] =>
      observer.messages
        .filter((m) => m.topic === topics.commandResult(env.deviceId, id))
        .map((m) => (m.json as { state: string }).state);
    const now = Date.now();
    const base = { issuedAt: now, expiresAt: now + 3_600_000 };

    let agent = await start();
    await send({ id: 'cmd-reboot-1', type: 'reboot', params: {}, ...base });
    await waitFor(() => results('cmd-reboot-1').includes('succeeded'), 'first reboot result');
    await send({ id: 'cmd-reboot-1', type: 'reboot', params: {}, ...base });
    await send({ id: 'cmd-config-1', type: 'set_config', params: { healthIntervalS: 30, bandwidthLimit: 50_000 }, ...base });
    await send({ id: 'cmd-shot-1', type: 'screenshot', params: {}, ...base });
    await send({ id: 'cmd-old-1', type: 'sync_now', params: {}, issuedAt: now - 7_200_000, expiresAt: now - 3_600_000 });
    await observer.client.publishAsync(topics.commands(env.deviceId), JSON.stringify({ id: 'cmd-bad-1', type: 'format_disk' }), {
      qos: 1,
    });
    await waitFor(
      () =>
        results('cmd-config-1').includes('succeeded') &&
        results('cmd-shot-1').includes('failed') &&
        results('cmd-old-1').includes('failed') &&
        results('cmd-bad-1').includes('failed'),
      'results',
    );
    // The duplicate was received (its outcome repeated) but not executed.
    await waitFor(() => results('cmd-reboot-1').length === 3, 'repeated outcome');
    expect(results('cmd-reboot-1')).toEqual(['acked', 'succeeded', 'succeeded']);
    expect(results('cmd-config-1')).toEqual(['acked', 'succeeded']);
    expect(results('cmd-shot-1')).toEqual(['acked', 'failed']);
    expect(results('cmd-old-1')).toEqual(['failed']);
    expect(hooks).toEqual(['test-reboot-hook']);
    expect(agent.settings()).toMatchObject({ healthIntervalS: 30, bandwidthLimit: 50_000 });

    // Redelivered after a restart (e.g. the server retried): still not run again; settings survived.
    await agent.close();
    await send({ id: 'cmd-reboot-1', type: 'reboot', params: {}, ...base });
    agent = await start();
    expect(agent.settings()).toMatchObject({ healthIntervalS: 30, bandwidthLimit: 50_000 });
    await send({ id: 'cmd-reboot-2', type: 'reboot', params: {}, ...base });
    await waitFor(() => results('cmd-reboot-2').includes('succeeded') && results('cmd-reboot-1').length === 4, 'redelivery');
    expect(hooks).toEqual(['test-reboot-hook', 'test-reboot-hook']);
    expect(results('cmd-reboot-1')).toEqual(['acked', 'succeeded', 'succeeded', 'succeeded']);
  });
});
