/**
 * The agent's content sync against a real broker and the stand-in content API: verify, resume, switch atomically,
 * serve from the local server, and never show content that failed a check.
 */
import { randomBytes } from 'node:crypto';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createAgent, type RunningAgent } from '../agent/create-agent.js';
import { generateSigningKeys, LocalManifest } from '../protocol/index.js';
import { type AgentEnv, agentEnv, fixedHealth, item, silent } from './helpers/agent-fixture.js';
import { startBroker, startObserver, type TestBroker, waitFor } from './helpers/agent-test-net.js';

let cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => {});
  cleanups = [];
});

async function setup(
  chunkBytes?: number,
): Promise<{ env: AgentEnv; broker: TestBroker; observer: Awaited<ReturnType<typeof startObserver>> }> {
  const env = await agentEnv('kiosk-sync-1', chunkBytes);
  const broker = await startBroker({ [env.deviceId]: env.secret });
  const observer = await startObserver(broker.url);
  cleanups.push(env.cleanup, broker.close, observer.close);
  return { env, broker, observer };
}

async function start(env: AgentEnv, mqttUrl: string, extraEnv: Record<string, string> = {}): Promise<RunningAgent> {
  const agent = await createAgent(env.config(mqttUrl, extraEnv), {
    log: silent,
    healthSource: fixedHealth(),
    syncRetryBaseMs: 60_000,
  });
  cleanups.push(() => agent.close());
  return agent;
}

const local = (agent: RunningAgent, path: string, init?: RequestInit): Promise<Response> =>
  fetch(`http://127.0.0.1:${agent.kioskPort}${path}`, init);

async function localManifest(agent: RunningAgent): Promise<LocalManifest> {
  return LocalManifest.parse(await (await local(agent, '/local/manifest')).json());
}

describe('agent content sync', () => {
  it('pulls, verifies and serves content, and keeps serving it with the network to the server cut', async () => {
    const { env, broker, observer } = await setup();
    const video = randomBytes(300_000);
    const vf = env.api.addFile(video, 'video/mp4');
    const img = env.api.addFile(randomBytes(5000), 'image/png');
    env.api.publish(1, [item('v1', vf), item('i1', img), item('b1')]);
    const agent = await start(env, broker.url);
    expect(await agent.sync()).toMatchObject({ state: expect.stringMatching(/applied|unchanged/), seq: 1 });

    const lm = await localManifest(agent);
    expect(lm.seq).toBe(1);
    expect(lm.deviceId).toBe(env.deviceId);
    expect(lm.items.map((i) => i.id).sort()).toEqual(['b1', 'i1', 'v1']);
    const whole = await local(agent, `/local/files/${vf.sha256}`);
    expect(whole.headers.get('content-type')).toBe('video/mp4');
    expect(Buffer.from(await whole.arrayBuffer()).equals(video)).toBe(true);
    const part = await local(agent, `/local/files/${vf.sha256}`, { headers: { range: 'bytes=1000-1999' } });
    expect(part.status).toBe(206);
    expect(part.headers.get('content-range')).toBe(`bytes 1000-1999/${video.length}`);
    expect(Buffer.from(await part.arrayBuffer()).equals(video.subarray(1000, 2000))).toBe(true);
    expect((await local(agent, `/local/files/${vf.sha256}`, { headers: { range: 'bytes=999999-' } })).status).toBe(416);
    expect((await local(agent, `/local/files/${'0'.repeat(64)}`)).status).toBe(404);
    const syncs = observer.messages.filter((m) => m.topic.endsWith('/sync')).map((m) => m.json);
    expect(syncs).toContainEqual(expect.objectContaining({ manifestSeq: 1, state: 'applied', missing: 0 }));

    // Cut the network: content API and broker gone.
    await env.api.close();
    await observer.close();
    await broker.close();
    for (let i = 0; i < 100 && agent.online(); i++) await new Promise((r) => setTimeout(r, 50));
    const offline = await localManifest(agent);
    expect(offline.online).toBe(false);
    expect(offline.items).toHaveLength(3);
    const again = await local(agent, `/local/files/${vf.sha256}`);
    expect(Buffer.from(await again.arrayBuffer()).equals(video)).toBe(true);
    expect((await agent.sync()).state).toBe('failed');
    expect((await localManifest(agent)).seq).toBe(1);
  });

  it('refuses a bad signature, another device id and a lower seq, and keeps the content on screen', async () => {
    const { env, broker, observer } = await setup();
    const f = env.api.addFile(randomBytes(1000), 'image/png');
    env.api.publish(5, [item('a', f)]);
    const agent = await start(env, broker.url);
    expect((await agent.sync()).state).toMatch(/applied|unchanged/);

    // Another key names itself: no keys document lists it (DESIGN §7).
    env.api.publish(6, [item('evil')], { keys: generateSigningKeys() });
    expect(await agent.sync()).toEqual({ state: 'rejected', reason: 'key_unknown' });
    const tampered = env.api.publish(6, [item('b')]);
    env.api.setRaw({ ...tampered, manifest: { ...tampered.manifest, seq: 60 } });
    expect(await agent.sync()).toEqual({ state: 'rejected', reason: 'bad_signature' });
    env.api.publish(7, [item('other')], { deviceId: 'kiosk-someone-else' });
    expect(await agent.sync()).toEqual({ state: 'rejected', reason: 'wrong_device' });
    env.api.publish(4, [item('old')]);
    expect(await agent.sync()).toEqual({ state: 'rejected', reason: 'rollback' });

    const lm = await localManifest(agent);
    expect(lm.seq).toBe(5);
    expect(lm.items.map((i) => i.id)).toEqual(['a']);
    await new Promise((r) => setTimeout(r, 200));
    const failed = observer.messages.filter((m) => m.topic.endsWith('/sync') && (m.json as { state: string }).state === 'failed');
    expect(failed.length).toBeGreaterThanOrEqual(4);
    const events = observer.messages.filter((m) => m.topic.endsWith('/events')).map((m) => (m.json as { type: string }).type);
    expect(events.filter((t) => t === 'manifest_rejected').length).toBeGreaterThanOrEqual(4);
  });

  it('never applies nor serves a file whose bytes do not match its sha256', async () => {
    const { env, broker, observer } = await setup();
    const a = env.api.addFile(randomBytes(2000), 'image/png');
    env.api.publish(1, [item('a', a)]);
    const agent = await start(env, broker.url);
    expect((await agent.sync()).state).toMatch(/applied|unchanged/);
    const b = env.api.addFile(randomBytes(50_000), 'video/mp4');
    env.api.corrupt.set(b.sha256, randomBytes(50_000));
    env.api.publish(2, [item('a', a), item('b', b)]);
    expect((await agent.sync()).state).toBe('failed');
    expect((await localManifest(agent)).seq).toBe(1);
    expect((await local(agent, `/local/files/${b.sha256}`)).status).toBe(404);
    expect(await readdir(join(env.dir, 'data', 'content'))).toEqual([a.sha256]);
    await new Promise((r) => setTimeout(r, 200));
    expect(
      observer.messages.some((m) => m.topic.endsWith('/events') && (m.json as { type: string }).type === 'content_hash_mismatch'),
    ).toBe(true);
    // The server fixes its file: the next run applies.
    env.api.corrupt.delete(b.sha256);
    expect(await agent.sync()).toMatchObject({ state: 'applied', seq: 2 });
    expect((await local(agent, `/local/files/${b.sha256}`)).status).toBe(200);
  });

  it('resumes a download cut at 50% without fetching any byte twice beyond one chunk', async () => {
    const chunk = 16 * 1024;
    const { env, broker } = await setup(chunk);
    const bytes = randomBytes(1024 * 1024);
    const f = env.api.addFile(bytes, 'video/mp4');
    env.api.cutAfter.set(f.sha256, bytes.length / 2);
    env.api.publish(1, [item('v', f)]);
    const agent = await start(env, broker.url);
    const first = await agent.sync();
    // The start-up run and this one coalesce; either saw the cut.
    if (first.state !== 'failed') expect(first.state).toBe('applied');
    const outcome = first.state === 'failed' ? await agent.sync() : first;
    expect(outcome).toMatchObject({ state: 'applied', seq: 1 });
    const served = env.api.bytesServed.get(f.sha256) ?? 0;
    expect(served).toBeGreaterThanOrEqual(bytes.length);
    expect(served).toBeLessThanOrEqual(bytes.length + chunk);
    const ranges = env.api.requests.filter((r) => r.path === `/files/${f.sha256}`).map((r) => r.range);
    expect(ranges).toHaveLength(2);
    expect(ranges[0]).toBeUndefined();
    expect(Number(/bytes=(\d+)-/.exec(ranges[1] ?? '')?.[1])).toBeGreaterThanOrEqual(bytes.length / 2 - chunk);
    const served2 = Buffer.from(await (await local(agent, `/local/files/${f.sha256}`)).arrayBuffer());
    expect(served2.equals(bytes)).toBe(true);
  });

  it('retries after a 5xx and transfers only the changed file when 1 of 10 changes', async () => {
    const { env, broker } = await setup();
    const files = Array.from({ length: 10 }, (_, i) => env.api.addFile(randomBytes(40_000 + i), 'image/png'));
    env.api.fail5xx = 1;
    env.api.publish(
      1,
      files.map((f, i) => item(`i${i}`, f)),
    );
    const agent = await start(env, broker.url);
    const first = await agent.sync();
    const applied = first.state === 'applied' || first.state === 'unchanged' ? first : await agent.sync();
    expect(applied).toMatchObject({ seq: 1 });
    expect(env.api.requests.some((r) => r.status === 503)).toBe(true);
    const before = env.api.totalBytesServed();
    const changed = env.api.addFile(randomBytes(40_000), 'image/png');
    const next = [...files];
    const old = next[3];
    next[3] = changed;
    env.api.publish(
      2,
      next.map((f, i) => item(`i${i}`, f)),
    );
    expect(await agent.sync()).toMatchObject({ state: 'applied', seq: 2, bytes: changed.size });
    expect(env.api.totalBytesServed() - before).toBe(changed.size);
    const stored = await readdir(join(env.dir, 'data', 'content'));
    expect(stored.sort()).toEqual(next.map((f) => f.sha256).sort());
    expect(stored).not.toContain(old?.sha256);
  });

  it('detects a corrupted cached file at start, hides it, and fetches it again', async () => {
    const { env, broker } = await setup();
    const a = env.api.addFile(randomBytes(20_000), 'image/png');
    const b = env.api.addFile(randomBytes(20_000), 'image/png');
    env.api.publish(1, [item('a', a), item('b', b)]);
    const first = await start(env, broker.url);
    expect((await first.sync()).state).toMatch(/applied|unchanged/);
    await first.close();
    const path = join(env.dir, 'data', 'content', b.sha256);
    const buf = await readFile(path);
    buf[100] = (buf[100] ?? 0) ^ 0xff;
    await writeFile(path, buf);
    env.api.fail5xx = 1000; // server unreachable for now
    const agent = await start(env, broker.url);
    await waitFor(() => agent.online(), 'agent online');
    // Absorbs the runs triggered by start and by the link coming up: both fail on the 503s.
    expect((await agent.sync()).state).toBe('failed');
    const lm = await localManifest(agent);
    expect(lm.seq).toBe(1);
    expect(lm.items.map((i) => i.id)).toEqual(['a']);
    expect((await local(agent, `/local/files/${b.sha256}`)).status).toBe(404);
    const servedBefore = env.api.bytesServed.get(b.sha256) ?? 0;
    env.api.fail5xx = 0;
    // The agent's own retry after the failures may run first: then this run finds nothing left to do.
    expect(await agent.sync()).toMatchObject({ state: expect.stringMatching(/^(applied|unchanged)$/), seq: 1 });
    expect((env.api.bytesServed.get(b.sha256) ?? 0) - servedBefore).toBe(b.size);
    expect((await localManifest(agent)).items.map((i) => i.id)).toEqual(['a', 'b']);
    expect(
      Buffer.from(await (await local(agent, `/local/files/${b.sha256}`)).arrayBuffer()).equals(
        env.api.files.get(b.sha256) as Buffer,
      ),
    ).toBe(true);
  });

  it('reports a disk too full for an update, keeps the old content and downloads nothing', async () => {
    const { env, broker, observer } = await setup();
    const a = env.api.addFile(randomBytes(5000), 'image/png');
    env.api.publish(1, [item('a', a)]);
    const first = await start(env, broker.url);
    expect((await first.sync()).state).toMatch(/applied|unchanged/);
    await first.close();
    // The same disk, but now the agent must leave more free space than the disk has: as good as full.
    const agent = await start(env, broker.url, { AGENT_DISK_RESERVE_MB: String(2 ** 40) });
    const b = env.api.addFile(randomBytes(50_000), 'video/mp4');
    env.api.publish(2, [item('a', a), item('b', b)]);
    await waitFor(() => agent.online(), 'online');
    const outcome = await agent.sync();
    expect(outcome).toMatchObject({ state: 'failed', error: expect.stringContaining('not enough disk space') });
    expect(env.api.bytesServed.get(b.sha256) ?? 0).toBe(0);
    const lm = await localManifest(agent);
    expect(lm.seq).toBe(1);
    expect(lm.items.map((i) => i.id)).toEqual(['a']);
    await waitFor(
      () =>
        observer.messages.some(
          (m) => m.topic.endsWith('/events') && (m.json as { type: string; severity: string }).type === 'disk_full',
        ),
      'disk_full event',
    );
    const event = observer.messages.find((m) => m.topic.endsWith('/events') && (m.json as { type: string }).type === 'disk_full');
    expect(event?.json).toMatchObject({ severity: 'critical' });
  });

  it('waits for the download window (sync_now does not) and honours the bandwidth limit', async () => {
    const { env, broker } = await setup();
    const f = env.api.addFile(randomBytes(150_000), 'video/mp4');
    env.api.publish(1, [item('v', f)]);
    const now = new Date();
    const hh = (h: number): string => String((now.getHours() + h) % 24).padStart(2, '0');
    const agent = await start(env, broker.url, {
      AGENT_DOWNLOAD_WINDOW: `${hh(2)}:00-${hh(3)}:00`,
      AGENT_BANDWIDTH_LIMIT: '100000',
    });
    expect(await agent.sync('cron')).toEqual({ state: 'waiting_window', missing: 1 });
    expect((await localManifest(agent)).seq).toBe(0);
    const t0 = Date.now();
    expect(await agent.sync('command')).toMatchObject({ state: 'applied', seq: 1 });
    // 150 kB at 100 kB/s cannot take less than about a second, whatever the machine.
    expect(Date.now() - t0).toBeGreaterThanOrEqual(1000);
  });
});
