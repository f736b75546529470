/** Read APIs over what devices report (stored by the core's ingest): sync state per device, play statistics per item. */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { basic, type ContentTestServer, client, startContentTestServer } from '../server/content/testing.js';
import { createDeviceDataRepo } from '../server/ingest/device-data-repo.js';

describe('content reports', () => {
  let server: ContentTestServer;
  beforeEach(async () => {
    server = await startContentTestServer();
  });
  afterEach(async () => {
    await server.close();
  });

  it('shows a device’s sync state beside the seq it was issued, and an item’s plays per day and language', async () => {
    const department = client(server.url, `Bearer ${server.addUser('so', 'department')}`);
    const editor = client(server.url, `Bearer ${server.addUser('bt', 'editor')}`);
    const secret = server.addDevice('kiosk-1', 'c-ia-dom');
    server.addDevice('kiosk-2', 'c-ia-o');
    const { id } = (await (await editor('POST', '/api/v1/content', { kind: 'bulletin' })).json()) as { id: string };

    const never = (await (await department('GET', '/api/v1/devices/kiosk-1/sync')).json()) as Record<string, unknown>;
    expect(never).toEqual({ deviceId: 'kiosk-1', issuedSeq: null, appliedSeq: null, report: null });
    await client(server.url, basic('kiosk-1', secret))('GET', '/api/v1/devices/kiosk-1/manifest');

    const data = createDeviceDataRepo(server.db);
    data.sync('kiosk-1', { manifestSeq: 1, state: 'failed', bytes: 10, missing: 2, error: 'disk full' }, Date.now());
    data.stats('kiosk-1', { days: [{ day: '2026-11-20', itemId: id, lang: 'jra', views: 3, seconds: 40 }] });
    data.stats('kiosk-2', {
      days: [
        { day: '2026-11-20', itemId: id, lang: 'jra', views: 2, seconds: 5 },
        { day: '2026-11-21', itemId: id, lang: 'vi', views: 1, seconds: 9.5 },
      ],
    });

    const sync = (await (await department('GET', '/api/v1/devices/kiosk-1/sync')).json()) as {
      issuedSeq: number;
      report: { state: string; error: string; failures: number };
    };
    expect(sync.issuedSeq).toBe(1);
    expect(sync.report).toMatchObject({ state: 'failed', error: 'disk full', failures: 1 });
    expect((await department('GET', '/api/v1/devices/nowhere/sync')).status).toBe(404);

    const stats = (await (await department('GET', `/api/v1/content/${id}/stats`)).json()) as { days: unknown[] };
    expect(stats.days).toEqual([
      { day: '2026-11-20', lang: 'jra', views: 5, seconds: 45, devices: 2 },
      { day: '2026-11-21', lang: 'vi', views: 1, seconds: 9.5, devices: 1 },
    ]);
    const from = (await (await department('GET', `/api/v1/content/${id}/stats?from=2026-11-21`)).json()) as { days: unknown[] };
    expect(from.days).toHaveLength(1);
    expect((await department('GET', `/api/v1/content/${id}/stats?from=yesterday`)).status).toBe(400);
  });
});
