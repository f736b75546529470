/** Per-device manifests and file access over HTTP: targeting, validity, ETag, 403s, ranges, notices. */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { SignedManifest } from '../protocol/index.js';
import { basic, type ContentTestServer, client, sampleFiles, startContentTestServer } from '../server/content/testing.js';

type Api = ReturnType<typeof client>;

describe('content distribution', () => {
  let server: ContentTestServer;
  let editor: Api;
  let approver: Api;
  let kioskA: Api; // commune Ia Dom, in district Đức Cơ
  let kioskB: Api; // commune Ia O, in district Ia Grai
  let station: Api; // station in Ia Dom

  beforeEach(async () => {
    server = await startContentTestServer();
    editor = client(server.url, `Bearer ${server.addUser('bien.tap', 'editor')}`);
    approver = client(server.url, `Bearer ${server.addUser('phe.duyet', 'approver')}`);
    kioskA = client(server.url, basic('kiosk-a', server.addDevice('kiosk-a', 'c-ia-dom')));
    kioskB = client(server.url, basic('kiosk-b', server.addDevice('kiosk-b', 'c-ia-o')));
    station = client(server.url, basic('station-1', server.addDevice('station-1', 's-ia-dom')));
  });
  afterEach(async () => {
    await server.close();
  });

  async function publish(file: Buffer, mime: string, fields: Record<string, unknown>): Promise<{ id: string; sha256: string }> {
    const created = await editor('POST', '/api/v1/content', { kind: 'leaflet', ...fields });
    expect(created.status).toBe(201);
    const { id } = (await created.json()) as { id: string };
    await editor('PUT', `/api/v1/content/${id}/translations/vi`, { title: `Tờ rơi ${id}` });
    const up = await editor('PUT', `/api/v1/content/${id}/translations/vi/file`, file, { 'content-type': mime });
    expect(up.status).toBe(201);
    const { file: stored } = (await up.json()) as { file: { sha256: string } };
    expect((await editor('POST', `/api/v1/content/${id}/submit`)).status).toBe(200);
    expect((await approver('POST', `/api/v1/content/${id}/approve`)).status).toBe(200);
    expect((await approver('POST', `/api/v1/content/${id}/publish`)).status).toBe(200);
    return { id, sha256: stored.sha256 };
  }

  async function manifestOf(api: Api, id: string): Promise<SignedManifest> {
    const res = await api('GET', `/api/v1/devices/${id}/manifest`);
    expect(res.status).toBe(200);
    return (await res.json()) as SignedManifest;
  }

  it('targets by district (parent chain), by site kind and to all, and keeps items valid now or later', async () => {
    const district = await publish(sampleFiles.pdf('Đức Cơ'), 'application/pdf', {
      targets: [{ scope: 'site', siteId: 'd-duc-co' }],
    });
    const stations = await publish(sampleFiles.pdf('đồn'), 'application/pdf', {
      targets: [{ scope: 'site_kind', kind: 'station' }],
    });
    const later = await publish(sampleFiles.pdf('sau'), 'application/pdf', { validFrom: '2099-01-01T00:00:00Z' });
    const expired = await publish(sampleFiles.pdf('cũ'), 'application/pdf', { validTo: '2001-01-01T00:00:00Z' });
    const ids = async (api: Api, id: string) => (await manifestOf(api, id)).manifest.items.map((item) => item.id).sort();
    expect(await ids(kioskA, 'kiosk-a')).toEqual([district.id, later.id].sort());
    expect(await ids(kioskB, 'kiosk-b')).toEqual([later.id]);
    expect(await ids(station, 'station-1')).toEqual([district.id, stations.id, later.id].sort());
    expect(expired.id).toBeTruthy();
    // Publishing the district item notified the devices under that district only.
    const notifiedFor = server.notices.map((n) => n.deviceId);
    expect(notifiedFor).toContain('kiosk-a');
    expect(notifiedFor.filter((d) => d === 'kiosk-b')).toHaveLength(1); // only for the `all` item
  });

  it('forbids another device’s manifest and files outside the device’s own manifest', async () => {
    const stations = await publish(sampleFiles.png(), 'image/png', { targets: [{ scope: 'site_kind', kind: 'station' }] });
    const other = await kioskA('GET', '/api/v1/devices/station-1/manifest');
    expect(other.status).toBe(403);
    expect(((await other.json()) as { error: { code: string } }).error.code).toBe('forbidden');
    expect((await kioskA('GET', `/files/${stations.sha256}`)).status).toBe(403);
    expect((await station('GET', `/files/${stations.sha256}`)).status).toBe(200);
    expect((await client(server.url, basic('kiosk-a', 'wrong'))('GET', '/api/v1/devices/kiosk-a/manifest')).status).toBe(401);
  });

  it('answers If-None-Match with 304 while nothing changes, and a Range past the end with 416', async () => {
    const item = await publish(sampleFiles.pdf('range'), 'application/pdf', {});
    const first = await kioskA('GET', '/api/v1/devices/kiosk-a/manifest');
    const etag = first.headers.get('etag') as string;
    const seq = ((await first.json()) as SignedManifest).manifest.seq;
    const again = await kioskA('GET', '/api/v1/devices/kiosk-a/manifest', undefined, { 'if-none-match': etag });
    expect(again.status).toBe(304);

    const size = sampleFiles.pdf('range').length;
    const beyond = await kioskA('GET', `/files/${item.sha256}`, undefined, { range: `bytes=${size}-` });
    expect(beyond.status).toBe(416);
    expect(beyond.headers.get('content-range')).toBe(`bytes */${size}`);
    const tail = await kioskA('GET', `/files/${item.sha256}`, undefined, { range: `bytes=${size - 6}-${size + 100}` });
    expect(tail.status).toBe(206);
    expect(tail.headers.get('content-range')).toBe(`bytes ${size - 6}-${size - 1}/${size}`);
    expect(tail.headers.get('etag')).toBe(`"${item.sha256}"`);
    expect(tail.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
    expect(await tail.text()).toBe('%%EOF\n');

    // A change for this device moves the seq and the ETag.
    await publish(sampleFiles.png(), 'image/png', {});
    const changed = await kioskA('GET', '/api/v1/devices/kiosk-a/manifest', undefined, { 'if-none-match': etag });
    expect(changed.status).toBe(200);
    expect(((await changed.json()) as SignedManifest).manifest.seq).toBe(seq + 1);
  });
});
