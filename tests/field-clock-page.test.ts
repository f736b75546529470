/**
 * Issue 14, clock drills, the kiosk page: with the kiosk's wall clock a year off (ahead, or behind), the page shows and
 * hides items by the server's time (agent/clock.ts `serverNow`: the HTTP `Date` of the server's answers, a manifest's
 * `issuedAt`), and after a restart with the server out of reach it still does, on the offset kept in the agent DB.
 * A real broker (the server), a real agent, the content API stand-in (its answers carry the true `Date`).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { createAgent, type RunningAgent } from '../agent/create-agent.js';
import type { LocalManifest } from '../protocol/index.js';
import { registerDevice } from '../server/registry/devices-repo.js';
import { startTestServer } from '../server/testing/test-server.js';
import { agentEnv, fixedHealth, item, silent } from './helpers/agent-fixture.js';

const DAY = 86_400_000;
const YEAR = 365 * DAY;

let cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => {});
  cleanups = [];
});

async function pageIds(agent: RunningAgent): Promise<string[]> {
  const m = (await (await fetch(`http://127.0.0.1:${agent.kioskPort}/local/manifest`)).json()) as LocalManifest;
  return m.items.map((i) => i.id).sort();
}

describe('the kiosk page judges validity on the server-time estimate, not the wall clock', () => {
  for (const [name, offset] of [
    ['a year ahead', YEAR],
    ['a year behind', -YEAR],
  ] as const) {
    it(`wall clock ${name}: the page shows the items valid at the server's time, also after a restart offline`, async () => {
      const server = await startTestServer();
      cleanups.push(() => server.stop());
      const env = await agentEnv(`kiosk-clock-page-${offset > 0 ? 'ahead' : 'behind'}`);
      cleanups.push(env.cleanup);
      registerDevice(server.db, { id: env.deviceId, secret: env.secret, siteId: 'gl-c-iadom' });
      const now = Date.now();
      const iso = (ms: number) => new Date(ms).toISOString();
      // What a wall a year off gets wrong: ahead, it hides `this-week` (ended) and shows `next-month` (started);
      // behind, it hides `this-week` (not started) and shows `last-year` (not ended).
      env.api.publish(1, [
        item('always'),
        item('this-week', undefined, { validFrom: iso(now - DAY), validTo: iso(now + 7 * DAY) }),
        item('ended', undefined, { validFrom: iso(now - 60 * DAY), validTo: iso(now - DAY) }),
        item('next-month', undefined, { validFrom: iso(now + 30 * DAY), validTo: iso(now + 2 * YEAR) }),
        item('last-year', undefined, { validFrom: iso(now - YEAR - 30 * DAY), validTo: iso(now - YEAR + 30 * DAY) }),
      ]);
      const wall = () => Date.now() + offset;
      const config = env.config(server.mqttUrl, { AGENT_SYNC_JITTER_S: '0' });
      const start = async () => {
        const agent = await createAgent(config, {
          log: silent,
          clock: wall,
          healthSource: fixedHealth(),
          syncRetryBaseMs: 60_000,
        });
        cleanups.push(() => agent.close());
        return agent;
      };
      let agent = await start();
      expect(await agent.sync()).toMatchObject({ state: expect.stringMatching(/applied|unchanged/), seq: 1 });
      const byServerTime = ['always', 'this-week'];
      expect(await pageIds(agent)).toEqual(byServerTime);

      // Restart with the content API gone: the server is not heard from in this run; the offset kept stands in.
      await agent.close();
      await env.api.close();
      agent = await start();
      expect(await pageIds(agent)).toEqual(byServerTime);
    }, 30_000);
  }
});
