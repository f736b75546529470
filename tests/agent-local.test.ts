/**
 * The kiosk page's local API: the UI's static files, items valid now, view counts aggregated per day and sent on
 * `stats` once the day is over; and a `manifest` notice pulling new content.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createAgent } from '../agent/create-agent.js';
import { LocalManifest, type StatsDay, topics } from '../protocol/index.js';
import { agentEnv, fixedHealth, item, silent } from './helpers/agent-fixture.js';
import { startBroker, startObserver, waitFor } from './helpers/agent-test-net.js';

let cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => {});
  cleanups = [];
});

describe('agent local kiosk API', () => {
  it('serves the UI, items valid now, counts views per day and sends finished days on stats', async () => {
    const env = await agentEnv('kiosk-local-1');
    const broker = await startBroker({ [env.deviceId]: env.secret });
    const observer = await startObserver(broker.url);
    cleanups.push(env.cleanup, broker.close, observer.close);
    const uiDir = join(env.dir, 'ui');
    await mkdir(uiDir, { recursive: true });
    await writeFile(join(uiDir, 'index.html'), '<!doctype html><title>Kiosk biên giới</title>');
    await writeFile(join(uiDir, 'app.js'), 'console.log(1)');

    // The agent's clock agrees with the test server's (its HTTP Date is the real time): validity is judged on the
    // server-time estimate (tests/field-clock-page.test.ts covers a clock that disagrees).
    let now = Date.now();
    const hour = 3_600_000;
    env.api.publish(1, [
      item('now'),
      item('later', undefined, { validFrom: new Date(now + 48 * hour).toISOString() }),
      item('over', undefined, { validTo: new Date(now - hour).toISOString() }),
    ]);
    const agent = await createAgent(env.config(broker.url, { AGENT_UI_DIR: uiDir }), {
      log: silent,
      healthSource: fixedHealth(),
      clock: () => now,
    });
    cleanups.push(() => agent.close());
    await waitFor(() => agent.online(), 'online');
    expect((await agent.sync()).state).toMatch(/applied|unchanged/);
    const base = `http://127.0.0.1:${agent.kioskPort}`;

    expect(await (await fetch(`${base}/`)).text()).toContain('Kiosk biên giới');
    expect((await fetch(`${base}/app.js`)).headers.get('content-type')).toMatch(/javascript/);
    const lm = LocalManifest.parse(await (await fetch(`${base}/local/manifest`)).json());
    expect(lm.items.map((i) => i.id)).toEqual(['now']);
    expect(lm.online).toBe(true);

    const post = (body: unknown): Promise<Response> =>
      fetch(`${base}/local/stats`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
    expect((await post({ views: [{ lang: 'vi', seconds: 3 }] })).status).toBe(400);
    expect((await post({ views: [{ itemId: 'now', lang: 'vi', seconds: 10 }] })).status).toBe(204);
    expect(
      (
        await post({
          views: [
            { itemId: 'now', lang: 'vi', seconds: 5 },
            { itemId: 'now', lang: 'jra', seconds: 7 },
          ],
        })
      ).status,
    ).toBe(204);

    // Today is not finished: nothing is sent yet.
    await agent.collectHealth();
    await new Promise((r) => setTimeout(r, 200));
    expect(observer.messages.some((m) => m.topic.endsWith('/stats'))).toBe(false);

    now += 24 * hour; // the next day: yesterday's totals go out once
    await agent.collectHealth();
    await waitFor(() => observer.messages.some((m) => m.topic.endsWith('/stats')), 'stats');
    const days = observer.messages
      .filter((m) => m.topic.endsWith('/stats'))
      .flatMap((m) => (m.json as { days: StatsDay[] }).days);
    const day = new Date(now - 24 * hour);
    const ymd = `${day.getFullYear()}-${String(day.getMonth() + 1).padStart(2, '0')}-${String(day.getDate()).padStart(2, '0')}`;
    expect(days.sort((a, b) => a.lang.localeCompare(b.lang))).toEqual([
      { day: ymd, itemId: 'now', lang: 'jra', views: 1, seconds: 7 },
      { day: ymd, itemId: 'now', lang: 'vi', views: 2, seconds: 15 },
    ]);
    await agent.collectHealth();
    await new Promise((r) => setTimeout(r, 200));
    expect(observer.messages.filter((m) => m.topic.endsWith('/stats'))).toHaveLength(1);
  });

  it('pulls new content when a manifest notice arrives', async () => {
    const env = await agentEnv('kiosk-local-2');
    const broker = await startBroker({ [env.deviceId]: env.secret });
    const observer = await startObserver(broker.url);
    cleanups.push(env.cleanup, broker.close, observer.close);
    env.api.publish(1, [item('a')]);
    const agent = await createAgent(env.config(broker.url), { log: silent, healthSource: fixedHealth() });
    cleanups.push(() => agent.close());
    await waitFor(() => agent.online() && agent.current()?.signed.manifest.seq === 1, 'online with seq 1');
    // Absorb the runs of start and link-up, so only the notice can pull seq 2.
    expect(await agent.sync()).toEqual({ state: 'unchanged', seq: 1 });
    env.api.publish(2, [item('a'), item('b')]);
    await observer.client.publishAsync(topics.manifest(env.deviceId), JSON.stringify({ seq: 2 }), { qos: 1 });
    await waitFor(() => agent.current()?.signed.manifest.seq === 2, 'seq 2 after the notice');
  });
});
