/**
 * Issue 14 against the REAL server (in this process: HTTP API, broker, content store, SQLite), a real agent enrolled
 * with an enrollment token the way the field does it:
 *
 *   - a manifest naming a file the server's content store no longer has (removed at the path the store itself gives,
 *     `pathOf`): the 404 is not a transient error — the item is hidden, the rest applied, `content_file_missing`
 *     reported, and the next manifest applies (one missing file does not block every later one);
 *   - the download window closed (`set_config` through the API): the sync state `waiting_window` is visible in the
 *     server's API (`GET /api/v1/devices/{id}`), and the files come once the window is opened.
 */
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { parseAgentConfig } from '../agent/config.js';
import { createAgent } from '../agent/create-agent.js';
import { publisher } from '../bench/scenarios/field-drills.js';
import { EnrollResponse, type LocalManifest } from '../protocol/index.js';
import { createContentStore } from '../server/content/store.js';
import { sampleFiles } from '../server/content/testing.js';
import { HttpSession, startTestServer, TEST_ADMIN_PASSWORD, waitFor } from '../server/testing/test-server.js';
import { fixedHealth, silent } from './helpers/agent-fixture.js';

let cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.reverse()) await Promise.resolve(c()).catch(() => {});
  cleanups = [];
});

/** "HH:MM-HH:MM" of local time, starting `fromH` hours from now, `lengthH` long (closed now when fromH ≥ 1). */
function windowFromNow(fromH: number, lengthH: number): string {
  const at = (h: number) => {
    const d = new Date(Date.now() + h * 3_600_000);
    return `${String(d.getHours()).padStart(2, '0')}:${String(d.getMinutes()).padStart(2, '0')}`;
  };
  return `${at(fromH)}-${at(fromH + lengthH)}`;
}

describe('field cases against the real server', () => {
  it('a file the server lacks (404) hides its item only; a closed download window shows as waiting_window in the API', async () => {
    const server = await startTestServer({ LOG_LEVEL: 'error' });
    cleanups.push(() => server.stop());
    const admin = new HttpSession(server.httpUrl);
    expect((await admin.login('admin', TEST_ADMIN_PASSWORD)).status).toBe(200);
    const publish = await publisher(server.httpUrl, admin);

    // Enrollment as in the field: a token from the admin, the kiosk's request.
    const made = await admin.json<{ tokens: Array<{ token: string }> }>('POST', '/api/v1/enrollment-tokens', {
      siteId: 'gl-c-iao',
    });
    expect(made.status).toBe(201);
    const enrolled = await fetch(`${server.httpUrl}/api/v1/enroll`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        token: made.body.tokens[0]?.token,
        facts: { serial: 'SN-REAL-1', model: 'KIOSK-55', mac: '02:00:00:00:14:04', hostname: 'kiosk-real-1' },
      }),
    });
    expect(enrolled.status).toBe(201);
    const enrollment = EnrollResponse.parse(await enrolled.json());
    const deviceId = enrollment.deviceId;

    // Two items; then the server's copy of the first one's file goes missing (a lost disk, a bad restore).
    const lost = await publish(sampleFiles.mp4(40_000), 'Mất tệp (file lost)');
    const kept = await publish(sampleFiles.mp4(30_000), 'Còn tệp (file kept)');
    await rm(createContentStore({ dataDir: server.dataDir }).pathOf(lost));

    const dir = join(server.dataDir, 'kiosk');
    const config = parseAgentConfig(
      { ...enrollment, dataDir: join(dir, 'data'), kioskPort: 0 },
      { AGENT_UI_DIR: join(dir, 'no-ui'), AGENT_SYNC_JITTER_S: '0', AGENT_DISK_RESERVE_MB: '0' },
      null,
    );
    const agent = await createAgent(config, {
      log: silent,
      healthSource: fixedHealth(),
      reconnectBaseMs: 50,
      syncRetryBaseMs: 3_600_000,
    });
    cleanups.push(() => agent.close());
    await waitFor(() => agent.online(), 'online');
    const page = async () => (await (await fetch(`http://127.0.0.1:${agent.kioskPort}/local/manifest`)).json()) as LocalManifest;
    const pageFiles = async () => JSON.stringify((await page()).items);
    const device = async () =>
      (
        await admin.json<{
          sync: { state: string; manifestSeq: number; missing: number; error: string | null; updatedAt: number } | null;
        }>('GET', `/api/v1/devices/${deviceId}`)
      ).body.sync;

    // 404: the kept file is on the page, the lost one is not; the sync is `applied` with 1 missing, said so.
    await waitFor(async () => (await pageFiles()).includes(kept), 'the kept file on the page', 20_000);
    expect(await pageFiles()).not.toContain(lost);
    await waitFor(async () => (await device())?.state === 'applied', 'applied in the API', 10_000).catch(async (e) => {
      throw new Error(
        `${e.message}: ${JSON.stringify(await device())} ${JSON.stringify(server.db.prepare('SELECT * FROM device_sync').all())}`,
      );
    });
    expect(await device()).toMatchObject({ state: 'applied', missing: 1, error: expect.stringContaining(lost) });
    // Asked again (the schedule does this): the server still lacks the file; its last word must not be `downloading`.
    const before = (await device())?.updatedAt ?? 0;
    expect(await agent.sync('cron')).toMatchObject({ state: 'unchanged' });
    await waitFor(
      async () => {
        const d = await device();
        return d?.state === 'applied' && d.updatedAt > before && d.missing === 1;
      },
      'applied (1 missing) reported again after the re-run',
      10_000,
    ).catch(async (e) => {
      throw new Error(`${e.message}: ${JSON.stringify(await device())}`);
    });
    await waitFor(
      () =>
        (server.db
          .prepare(`SELECT count(*) FROM device_events WHERE device_id = ? AND type = 'content_file_missing'`)
          .pluck()
          .get(deviceId) as number) >= 1,
      'content_file_missing event',
    );
    // The next manifest is not blocked by the missing file.
    const next = await publish(sampleFiles.mp4(20_000), 'Tin tiếp theo (next)');
    await waitFor(async () => (await pageFiles()).includes(next), 'the next item applied', 20_000);

    // The window closed: set through the server's command API; the next update waits and the API says so.
    const closed = windowFromNow(2, 2);
    const cmd = await admin.json('POST', `/api/v1/devices/${deviceId}/commands?ttl=10m`, {
      type: 'set_config',
      params: { downloadWindow: closed },
    });
    expect(cmd.status).toBe(201);
    await waitFor(() => agent.settings().downloadWindow === closed, 'window set on the kiosk', 10_000);
    const waiting = await publish(sampleFiles.mp4(25_000), 'Chờ khung giờ (waits for the window)');
    await waitFor(async () => (await device())?.state === 'waiting_window', 'waiting_window in the API', 20_000);
    const w = await device();
    // Missing: the new file, and the one the server lost (asked for again whenever the window opens).
    expect(w).toMatchObject({ state: 'waiting_window', missing: 2 });
    expect(await pageFiles()).not.toContain(waiting);
    expect(await pageFiles()).toContain(next);
    // Opened (any time): the file comes, the API says applied.
    await admin.json('POST', `/api/v1/devices/${deviceId}/commands?ttl=10m`, {
      type: 'set_config',
      params: { downloadWindow: null },
    });
    await waitFor(() => agent.settings().downloadWindow === null, 'window opened', 10_000);
    await admin.json('POST', `/api/v1/devices/${deviceId}/commands?ttl=10m`, { type: 'sync_now', params: {} });
    await waitFor(async () => (await pageFiles()).includes(waiting), 'the waiting file on the page', 20_000);
    await waitFor(async () => (await device())?.state === 'applied', 'applied again in the API', 10_000);
  }, 90_000);
});
