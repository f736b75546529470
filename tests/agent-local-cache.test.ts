/**
 * The kiosk page's warm reload: UI files carry strong validators and Cache-Control, `If-None-Match` gets a
 * 304 without a body; content files under /local/files/{sha256} are immutable by address. Real agent, real HTTP.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createAgent } from '../agent/create-agent.js';
import { agentEnv, fixedHealth, item, silent } from './helpers/agent-fixture.js';
import { startBroker, waitFor } from './helpers/agent-test-net.js';

let cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => {});
  cleanups = [];
});

describe('agent local server caching', () => {
  it('revalidates index.html, keeps hashed assets immutable, answers 304 on a matching ETag, and content files by address', async () => {
    const env = await agentEnv('kiosk-cache-1');
    const broker = await startBroker({ [env.deviceId]: env.secret });
    cleanups.push(env.cleanup, broker.close);
    const uiDir = join(env.dir, 'ui');
    await mkdir(uiDir, { recursive: true });
    await writeFile(join(uiDir, 'index.html'), '<!doctype html><title>Kiosk</title>');
    await writeFile(join(uiDir, 'app.js'), 'console.log(1)');
    await writeFile(join(uiDir, 'app.3f9a1c2e.js'), 'console.log(2)');
    const video = randomBytes(4000);
    const vf = env.api.addFile(video, 'video/mp4');
    env.api.publish(1, [item('v1', vf)]);
    const agent = await createAgent(env.config(broker.url, { AGENT_UI_DIR: uiDir }), {
      log: silent,
      healthSource: fixedHealth(),
    });
    cleanups.push(() => agent.close());
    await waitFor(() => agent.online(), 'online');
    expect((await agent.sync()).state).toMatch(/applied|unchanged/);
    const base = `http://127.0.0.1:${agent.kioskPort}`;

    // index.html: stored but revalidated; a matching ETag gives an empty 304.
    const page = await fetch(`${base}/`);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('<title>Kiosk</title>');
    const etag = page.headers.get('etag');
    expect(etag).toMatch(/^"[0-9a-f]+-[0-9a-f]+"$/);
    expect(page.headers.get('cache-control')).toBe('no-cache');
    const warm = await fetch(`${base}/`, { headers: { 'if-none-match': etag ?? '' } });
    expect(warm.status).toBe(304);
    expect(await warm.text()).toBe('');
    expect(warm.headers.get('etag')).toBe(etag);
    // The single-page fallback is the same file, so the same validator.
    expect((await fetch(`${base}/some/route`, { headers: { 'if-none-match': etag ?? '' } })).status).toBe(304);

    // A rebuilt page changes the validator: the old ETag no longer matches.
    await writeFile(join(uiDir, 'index.html'), '<!doctype html><title>Kiosk v2</title>');
    await utimes(join(uiDir, 'index.html'), new Date(), new Date(Date.now() + 5_000));
    const rebuilt = await fetch(`${base}/index.html`, { headers: { 'if-none-match': etag ?? '' } });
    expect(rebuilt.status).toBe(200);
    expect(await rebuilt.text()).toContain('Kiosk v2');
    expect(rebuilt.headers.get('etag')).not.toBe(etag);

    // A plain asset revalidates; a hashed one is immutable.
    const app = await fetch(`${base}/app.js`);
    expect(app.headers.get('content-type')).toMatch(/javascript/);
    expect(app.headers.get('cache-control')).toBe('no-cache');
    expect(await app.text()).toBe('console.log(1)');
    const appEtag = app.headers.get('etag') ?? '';
    expect((await fetch(`${base}/app.js`, { headers: { 'if-none-match': `W/${appEtag}, "other"` } })).status).toBe(304);
    const hashed = await fetch(`${base}/app.3f9a1c2e.js`);
    expect(hashed.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
    await hashed.arrayBuffer();

    // No way out of the UI directory.
    await writeFile(join(env.dir, 'outside.txt'), 'not for the page');
    const climbOut = await fetch(`${base}/..%2foutside.txt`);
    expect(await climbOut.text()).not.toContain('not for the page');

    // Content files: immutable by address, 304 on their sha256 ETag.
    const file = await fetch(`${base}/local/files/${vf.sha256}`);
    expect(file.status).toBe(200);
    expect(Buffer.from(await file.arrayBuffer()).equals(video)).toBe(true);
    expect(file.headers.get('etag')).toBe(`"${vf.sha256}"`);
    expect(file.headers.get('cache-control')).toContain('immutable');
    const again = await fetch(`${base}/local/files/${vf.sha256}`, { headers: { 'if-none-match': `"${vf.sha256}"` } });
    expect(again.status).toBe(304);
    expect(await again.text()).toBe('');
  });
});
