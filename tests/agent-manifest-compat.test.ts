/**
 * DESIGN §7 against a real agent, a real broker and the stand-in content API serving hand-made manifests: a field
 * the agent does not know (at the top, in an item) is accepted, kept and verified again after a restart; a changed
 * byte is refused; an expired manifest is never applied (content kept, `manifest_expired` reported).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { createAgent, type RunningAgent } from '../agent/create-agent.js';
import { type Manifest, signManifest } from '../protocol/index.js';
import { type AgentEnv, agentEnv, fixedHealth, item, silent } from './helpers/agent-fixture.js';
import { startBroker, startObserver, waitFor } from './helpers/agent-test-net.js';

let cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => {});
  cleanups = [];
});

async function start(env: AgentEnv, mqttUrl: string): Promise<RunningAgent> {
  const agent = await createAgent(env.config(mqttUrl), { log: silent, healthSource: fixedHealth(), syncRetryBaseMs: 60_000 });
  cleanups.push(() => agent.close());
  return agent;
}

function manifest(env: AgentEnv, seq: number, expiresAt = Date.now() + 86_400_000): Manifest {
  return {
    v: 1,
    deviceId: env.deviceId,
    seq,
    issuedAt: new Date().toISOString(),
    expiresAt: new Date(expiresAt).toISOString(),
    items: [item(`b${seq}`)],
  };
}

describe('forward-compatible manifests on a real agent', () => {
  it('accepts unknown fields, refuses a changed byte, never applies an expired manifest', async () => {
    const env = await agentEnv('kiosk-compat-1');
    const broker = await startBroker({ [env.deviceId]: env.secret });
    const observer = await startObserver(broker.url);
    cleanups.push(env.cleanup, broker.close, observer.close);

    // What a newer server might send: one field at the top, one in an item (and one in the envelope).
    const m = manifest(env, 1);
    const extended = { ...m, audience: 'border-residents', items: [{ ...m.items[0], priority: 3 }] } as Manifest;
    const signed = { ...signManifest(extended, env.api.keys), hint: 'ignored' };
    env.api.setRaw(signed);
    let agent = await start(env, broker.url);
    expect(await agent.sync('command')).toMatchObject({ state: expect.stringMatching(/applied|unchanged/), seq: 1 });
    expect(agent.current()?.signed.manifest.seq).toBe(1);

    // One byte changed (a title letter): refused, content kept.
    const text = JSON.stringify(signManifest({ ...extended, seq: 2 }, env.api.keys));
    env.api.setRaw(JSON.parse(text.replace('"Tin b1"', '"Tin b2"')));
    expect(await agent.sync('command')).toMatchObject({ state: 'rejected', reason: 'bad_signature' });
    expect(agent.current()?.signed.manifest.seq).toBe(1);

    // Expired: not applied as the target; the content on screen stays; reported.
    env.api.setRaw(signManifest(manifest(env, 3, Date.now() - 1000), env.api.keys));
    expect(await agent.sync('command')).toMatchObject({ state: 'rejected', reason: 'manifest_expired' });
    expect(agent.current()?.signed.manifest.seq).toBe(1);
    await waitFor(
      () =>
        observer.messages.some(
          (msg) => msg.topic.endsWith('/events') && (msg.json as { type: string }).type === 'manifest_expired',
        ),
      'manifest_expired event',
    );
    await waitFor(
      () =>
        observer.messages.some(
          (msg) =>
            msg.topic.endsWith('/sync') &&
            (msg.json as { state: string; error?: string }).state === 'failed' &&
            ((msg.json as { error?: string }).error ?? '').includes('manifest_expired'),
        ),
      'failed sync report',
    );

    // Restart: the manifest with unknown fields is read back from disk and verifies again.
    await agent.close();
    agent = await start(env, broker.url);
    expect(agent.current()?.signed.manifest.seq).toBe(1);
  }, 60_000);
});
