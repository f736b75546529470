/**
 * The real agent's content sync against the content routes: it verifies the signed manifest, downloads the files
 * (checked against sha256), applies, gets 304 when nothing changed, and drops a retired item at a higher seq.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ContentStore } from '../agent/content-store.js';
import { ContentSync } from '../agent/content-sync.js';
import type { SyncMessage } from '../protocol/index.js';
import { type ContentTestServer, client, sampleFiles, startContentTestServer } from '../server/content/testing.js';

describe('agent content sync against the content server', () => {
  let server: ContentTestServer;
  let agentDir: string;
  let sync: ContentSync | null = null;
  beforeEach(async () => {
    server = await startContentTestServer();
    agentDir = await mkdtemp(join(tmpdir(), 'content-agent-'));
  });
  afterEach(async () => {
    await sync?.close();
    await server.close();
    await rm(agentDir, { recursive: true, force: true });
  });

  it('applies the published items and drops a retired one', async () => {
    const editor = client(server.url, `Bearer ${server.addUser('bt', 'editor')}`);
    const approver = client(server.url, `Bearer ${server.addUser('pd', 'approver')}`);
    const secret = server.addDevice('kiosk-1', 'c-ia-dom');
    const video = sampleFiles.mp4(2 * 1024 * 1024);
    const ids: string[] = [];
    for (const [kind, file, mime] of [
      ['video', video, 'video/mp4'],
      ['document', sampleFiles.pdf(), 'application/pdf'],
    ] as const) {
      const { id } = (await (await editor('POST', '/api/v1/content', { kind })).json()) as { id: string };
      await editor('PUT', `/api/v1/content/${id}/translations/km`, { title: 'ព័ត៌មាន' });
      expect((await editor('PUT', `/api/v1/content/${id}/translations/km/file`, file, { 'content-type': mime })).status).toBe(
        201,
      );
      await editor('POST', `/api/v1/content/${id}/submit`);
      await approver('POST', `/api/v1/content/${id}/approve`);
      expect((await approver('POST', `/api/v1/content/${id}/publish`)).status).toBe(200);
      ids.push(id);
    }

    const store = new ContentStore(agentDir);
    await store.init();
    const reports: SyncMessage[] = [];
    sync = new ContentSync({
      deviceId: 'kiosk-1',
      apiUrl: server.url,
      secret,
      manifestKey: server.keys.publicKeyPem,
      store,
      settings: () => ({ healthIntervalS: 60, syncCron: '0 3 * * *', downloadWindow: null, bandwidthLimit: null }),
      clock: Date.now,
      log: pino({ level: 'silent' }),
      publishSync: (msg) => reports.push(msg),
      publishEvent: () => {},
      onApplied: () => {},
      diskReserveBytes: 0,
      retryBaseMs: 60_000,
    });
    await sync.init();

    const first = await sync.trigger('start');
    expect(first).toMatchObject({ state: 'applied' });
    const seq = (first as { seq: number }).seq;
    expect(sync.currentManifest?.signed.manifest.items.map((i) => i.id).sort()).toEqual([...ids].sort());
    expect(reports.at(-1)).toMatchObject({ manifestSeq: seq, state: 'applied', missing: 0 });

    expect(await sync.trigger('cron')).toMatchObject({ state: 'unchanged', seq });

    expect((await approver('POST', `/api/v1/content/${ids[0]}/retire`)).status).toBe(200);
    expect(server.notices.at(-1)).toEqual({ deviceId: 'kiosk-1', seq: seq + 1 });
    const second = await sync.trigger('notice');
    expect(second).toMatchObject({ state: 'applied', seq: seq + 1 });
    expect(sync.currentManifest?.signed.manifest.items.map((i) => i.id)).toEqual([ids[1]]);
    const pdf = sync.currentManifest?.signed.manifest.items[0]?.translations.km?.file;
    expect(pdf && (await readFile(store.filePath(pdf.sha256))).equals(sampleFiles.pdf())).toBe(true);
  });
});
