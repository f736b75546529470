/**
 * Whole stack: a real agent (real systeminformation on this machine) against the real server (createServer: broker,
 * health ingest with group commit, SQLite). The link is cut, samples are buffered, the link returns, and the server's
 * health table ends up with every sample exactly once.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { parseAgentConfig } from '../agent/config.js';
import { createAgent } from '../agent/create-agent.js';
import { loadOrCreateSigningKeys } from '../server/content/signing-keys.js';
import { addDevice, startTestServer } from '../server/testing/test-server.js';
import { silent } from './helpers/agent-fixture.js';
import { startCuttableProxy, waitFor } from './helpers/agent-test-net.js';

let cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => {});
  cleanups = [];
});

describe('agent against the real server', () => {
  it('reports health, buffers through an outage and flushes: every sample stored once', async () => {
    const server = await startTestServer();
    cleanups.push(() => server.stop());
    const device = addDevice(server, 'kiosk-stack-1');
    const proxy = await startCuttableProxy(Number(new URL(server.mqttUrl).port));
    cleanups.push(proxy.close);
    const dir = await mkdtemp(join(tmpdir(), 'agent-stack-'));
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    const keys = await loadOrCreateSigningKeys(server.dataDir);
    const config = parseAgentConfig(
      {
        deviceId: device.id,
        secret: device.secret,
        siteId: 'gl-c-iao',
        mqttUrl: proxy.url,
        apiUrl: server.httpUrl,
        manifestKey: keys.publicKeyPem,
        dataDir: join(dir, 'data'),
        kioskPort: 0,
      },
      { AGENT_UI_DIR: join(dir, 'no-ui') },
      null,
    );
    // Real health source (systeminformation); short reconnect backoff so the test does not wait minutes.
    const agent = await createAgent(config, { log: silent, reconnectBaseMs: 50 });
    cleanups.push(() => agent.close());
    const stored = (): Array<{ seq: number; cpu_load: number; disk_free: number }> =>
      server.db.prepare('SELECT seq, cpu_load, disk_free FROM health WHERE device_id = ? ORDER BY seq').all(device.id) as Array<{
        seq: number;
        cpu_load: number;
        disk_free: number;
      }>;

    await waitFor(() => agent.online(), 'agent online');
    for (let i = 0; i < 3; i++) await agent.collectHealth();
    // Stored is not yet acknowledged: a committed batch is visible before its fsync returned and its PUBACK went
    // (server/ingest/wal-sync.ts). The outage below must find the agent's queue empty.
    await waitFor(() => stored().length === 3 && agent.queueDepth() === 0, 'live samples stored and acknowledged');
    expect(stored()[0]?.disk_free).toBeGreaterThan(0);

    proxy.cut();
    await waitFor(() => !agent.online(), 'agent offline');
    for (let i = 0; i < 40; i++) await agent.collectHealth();
    expect(agent.queueDepth()).toBe(40);
    proxy.restore();
    await waitFor(() => agent.online(), 'agent back', 30_000);
    await agent.collectHealth();
    await waitFor(() => stored().length === 44 && agent.queueDepth() === 0, 'backlog stored and acknowledged', 30_000);
    expect(stored().map((r) => r.seq)).toEqual(Array.from({ length: 44 }, (_, i) => i + 1));
  }, 120_000);
});
