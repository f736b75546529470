/**
 * The fleet simulator with real agents (createAgent, injected health source) against the real server: every
 * agent comes online, and every sample an agent took is committed exactly once once its queue is empty
 * (the agent removes a sample from its on-disk queue only on PUBACK, which comes only after commit).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { loadOrCreateSigningKeys } from '../server/content/signing-keys.js';
import { startTestServer, type TestServer, waitFor } from '../server/testing/test-server.js';
import { type RealAgentFleet, startRealAgents } from '../tools/fleet-sim/real-agents.js';

describe('fleet simulator with real agents', () => {
  let server: TestServer | null = null;
  let fleet: RealAgentFleet | null = null;
  afterEach(async () => {
    await fleet?.close();
    await server?.stop();
    fleet = null;
    server = null;
  });

  it('brings 8 real agents online and commits each of their samples once', async () => {
    const s = await startTestServer();
    server = s;
    const keys = await loadOrCreateSigningKeys(s.dataDir);
    const f = await startRealAgents({
      db: s.db,
      count: 8,
      mqttUrl: s.mqttUrl,
      apiUrl: s.httpUrl,
      manifestKey: keys.publicKeyPem,
    });
    fleet = f;
    await waitFor(() => f.agents.every((a) => a.online()), 'every agent connected', 20_000);
    const online = () => s.db.prepare("SELECT count(*) FROM devices WHERE id LIKE 'agent-%' AND online = 1").pluck().get();
    await waitFor(() => online() === 8, 'every agent online in the registry');

    const taken = new Map<string, number[]>();
    for (let round = 0; round < 3; round++) {
      for (const [i, agent] of f.agents.entries()) {
        const sample = await agent.collectHealth();
        if (sample) taken.set(f.ids[i] as string, [...(taken.get(f.ids[i] as string) ?? []), sample.seq]);
      }
    }
    await waitFor(() => f.agents.every((a) => a.queueDepth() === 0), 'every agent queue drained', 20_000);
    for (const id of f.ids) {
      const seqs = taken.get(id) ?? [];
      expect(seqs.length).toBeGreaterThanOrEqual(3);
      const rows = s.db.prepare('SELECT seq FROM health WHERE device_id = ? ORDER BY seq').pluck().all(id) as number[];
      // Every sample taken is there once; the interval timer may have added its own too.
      for (const seq of seqs) expect(rows.filter((r) => r === seq)).toHaveLength(1);
      expect(new Set(rows).size).toBe(rows.length);
    }
  });
});
