/**
 * Fault drill "a kiosk's disk is full" at small N: a real agent (createAgent) linked to the real server's
 * broker, content from the stand-in content API (the server's content routes are another part's). A new
 * manifest needs more bytes than the kiosk's disk has free: the agent reports `disk_full` (it lands in the
 * server's device_events), does not switch, and keeps serving the content it had. No root, no mounts: the
 * update declares a file bigger than the free space of the temp file system, which is the agent's own
 * pre-download check (agent/downloader.ts, statfs); ENOSPC in mid-write is the same error path.
 */
import { randomBytes } from 'node:crypto';
import { statfs } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { afterEach, describe, expect, it } from 'vitest';
import { createAgent } from '../agent/create-agent.js';
import { registerDevice } from '../server/registry/devices-repo.js';
import { startTestServer, waitFor } from '../server/testing/test-server.js';
import { agentEnv, fixedHealth, item, silent } from './helpers/agent-fixture.js';

let cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => {});
  cleanups = [];
});

describe('fault drill: full disk on a kiosk', () => {
  it('is reported to the server and the old content stays on screen', async () => {
    const server = await startTestServer();
    cleanups.push(() => server.stop());
    const env = await agentEnv('kiosk-disk-full-1');
    cleanups.push(env.cleanup);
    registerDevice(server.db, { id: env.deviceId, secret: env.secret, siteId: 'gl-c-iadom' });

    const video = randomBytes(200_000);
    const held = env.api.addFile(video, 'video/mp4');
    env.api.publish(1, [item('v1', held)]);
    const agent = await createAgent(env.config(server.mqttUrl), {
      log: silent,
      healthSource: fixedHealth(),
      syncRetryBaseMs: 60_000,
    });
    cleanups.push(() => agent.close());
    await agent.enrolled();
    expect(await agent.sync()).toMatchObject({ seq: 1 });
    await waitFor(() => agent.online(), 'agent connected to the server');

    const fs = await statfs(tmpdir());
    const free = fs.bavail * fs.bsize;
    const tooBig = { sha256: 'ab'.repeat(32), size: free + 1024 ** 3, mime: 'video/mp4' };
    env.api.publish(2, [item('v1', held), item('v2', tooBig)]);
    const outcome = await agent.sync();
    expect(outcome.state).toBe('failed');

    const events = () =>
      server.db
        .prepare("SELECT severity, message FROM device_events WHERE device_id = ? AND type = 'disk_full'")
        .all(env.deviceId) as Array<{ severity: string; message: string }>;
    await waitFor(() => events().length > 0, 'disk_full event stored by the server');
    expect(events()[0]?.severity).toBe('critical');
    const sync = () =>
      server.db.prepare('SELECT manifest_seq, state FROM device_sync WHERE device_id = ?').get(env.deviceId) as
        | { manifest_seq: number; state: string }
        | undefined;
    await waitFor(() => sync()?.state === 'failed', 'failed sync recorded');
    expect(sync()?.manifest_seq).toBe(2);

    // Still on manifest 1, and its file is still served by the kiosk's local server.
    expect(agent.current()?.signed.manifest.seq).toBe(1);
    const local = await fetch(`http://127.0.0.1:${agent.kioskPort}/local/files/${held.sha256}`);
    expect(local.status).toBe(200);
    expect(Buffer.from(await local.arrayBuffer()).equals(video)).toBe(true);
    const manifest = (await (await fetch(`http://127.0.0.1:${agent.kioskPort}/local/manifest`)).json()) as {
      seq: number;
      items: Array<{ id: string }>;
    };
    expect(manifest.seq).toBe(1);
    expect(manifest.items.map((i) => i.id)).toEqual(['v1']);
  });
});
