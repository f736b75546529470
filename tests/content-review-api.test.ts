/**
 * The three review views of issue 16 over real HTTP and a real SQLite file: a rejection's reason the editor sees,
 * what the latest version changes against the published one, and which kiosks hold an item. Device reports go
 * through the ingest repo the broker writes with; manifests are fetched by the device over HTTP.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ContentDiff, ContentHolders, ContentRejection } from '../protocol/api.js';
import { ContentItemOut, ContentListOut } from '../protocol/api-dashboard.js';
import { basic, type ContentTestServer, client, sampleFiles, startContentTestServer } from '../server/content/testing.js';
import { createDeviceDataRepo } from '../server/ingest/device-data-repo.js';

type Api = ReturnType<typeof client>;

describe('content review API', () => {
  let server: ContentTestServer;
  let editor: Api;
  let approver: Api;
  let department: Api;

  beforeEach(async () => {
    server = await startContentTestServer();
    editor = client(server.url, `Bearer ${server.addUser('bien.tap', 'editor')}`);
    approver = client(server.url, `Bearer ${server.addUser('phe.duyet', 'approver')}`);
    department = client(server.url, `Bearer ${server.addUser('so.ngoai.vu', 'department')}`);
  });
  afterEach(async () => {
    await server.close();
  });

  async function ok(res: Response | Promise<Response>, status = 200): Promise<unknown> {
    const r = await res;
    const body = await r.json();
    expect(r.status, JSON.stringify(body)).toBe(status);
    return body;
  }
  const item = async (id: string, api: Api = editor) => ContentItemOut.parse(await ok(api('GET', `/api/v1/content/${id}`)));

  async function bulletin(targets: unknown[] = [{ scope: 'all' }]): Promise<string> {
    const { id } = ContentItemOut.parse(
      await ok(editor('POST', '/api/v1/content', { kind: 'bulletin', topics: ['culture-tourism'], targets }), 201),
    );
    await ok(editor('PUT', `/api/v1/content/${id}/translations/vi`, { title: 'Cửa khẩu Lệ Thanh', body: 'Giờ mở cửa.' }));
    return id;
  }
  async function publish(id: string) {
    await ok(editor('POST', `/api/v1/content/${id}/submit`));
    await ok(approver('POST', `/api/v1/content/${id}/approve`));
    await ok(approver('POST', `/api/v1/content/${id}/publish`));
  }

  it('keeps the reason of a rejection on the item for its editor until the next submit, audited', async () => {
    const id = await bulletin();
    await ok(editor('POST', `/api/v1/content/${id}/submit`));
    expect((await item(id)).rejection).toBeNull();
    // A blank reason is no reason.
    expect((await approver('POST', `/api/v1/content/${id}/reject`, { reason: '   ' })).status).toBe(400);
    const rejected = ContentItemOut.parse(
      await ok(approver('POST', `/api/v1/content/${id}/reject`, { reason: 'Thiếu giờ mở cửa ngày lễ' })),
    );
    expect(rejected.current.state).toBe('draft');
    const seen = await item(id);
    const rejection = ContentRejection.parse(seen.rejection);
    expect(rejection).toMatchObject({ version: 1, reason: 'Thiếu giờ mở cửa ngày lễ', by: 'phe.duyet' });
    expect(Math.abs(rejection.at - Date.now())).toBeLessThan(60_000);
    // In the list too, for every reader.
    const list = ContentListOut.parse(await ok(department('GET', '/api/v1/content?state=draft')));
    expect(list.items.find((i) => i.id === id)?.rejection?.reason).toBe('Thiếu giờ mở cửa ngày lễ');
    // Editing keeps it in view; the next submit clears it.
    await ok(
      editor('PUT', `/api/v1/content/${id}/translations/vi`, { title: 'Cửa khẩu Lệ Thanh', body: 'Giờ mở cửa, cả ngày lễ.' }),
    );
    expect((await item(id)).rejection?.reason).toBe('Thiếu giờ mở cửa ngày lễ');
    await ok(editor('POST', `/api/v1/content/${id}/submit`));
    expect((await item(id)).rejection).toBeNull();
    const audited = server.db
      .prepare(`SELECT actor, detail FROM audit WHERE action = 'content.reject' AND target = ?`)
      .all(id) as Array<{ actor: string; detail: string }>;
    expect(audited).toHaveLength(1);
    expect(audited[0]?.actor).toBe('phe.duyet');
    expect(JSON.parse(audited[0]?.detail ?? '{}')).toMatchObject({ version: 1, reason: 'Thiếu giờ mở cửa ngày lễ' });
  });

  it('shows what the latest version changes against the published one, field by field and per language', async () => {
    const id = await bulletin();
    const fresh = ContentDiff.parse(await ok(approver('GET', `/api/v1/content/${id}/diff`)));
    expect(fresh).toMatchObject({ itemId: id, publishedVersion: null, latestVersion: 1 });
    expect(fresh.fields).toContainEqual({ field: 'topics', before: null, after: ['culture-tourism'] });
    expect(fresh.fields).toContainEqual({ field: 'targets', before: null, after: [{ scope: 'all' }] });
    expect(fresh.translations).toEqual([
      {
        lang: 'vi',
        change: 'added',
        fields: [
          { field: 'title', before: null, after: 'Cửa khẩu Lệ Thanh' },
          { field: 'body', before: null, after: 'Giờ mở cửa.' },
        ],
      },
    ]);
    await ok(editor('PUT', `/api/v1/content/${id}/translations/en`, { title: 'Le Thanh gate', body: 'Opening hours.' }));
    await publish(id);
    const same = ContentDiff.parse(await ok(department('GET', `/api/v1/content/${id}/diff`)));
    expect(same).toEqual({ itemId: id, publishedVersion: 1, latestVersion: 1, fields: [], translations: [] });

    // A new version: other topics, featured, a validity end, a new title and a PDF in Vietnamese, Khmer added,
    // English removed.
    await ok(
      editor('PATCH', `/api/v1/content/${id}`, {
        topics: ['culture-tourism', 'border-sovereignty-law'],
        featured: true,
        validTo: '2027-06-30T00:00:00.000Z',
      }),
    );
    await ok(editor('PUT', `/api/v1/content/${id}/translations/vi`, { title: 'Cửa khẩu quốc tế Lệ Thanh', body: 'Giờ mở cửa.' }));
    const pdf = sampleFiles.pdf();
    const upload = (await ok(
      editor('PUT', `/api/v1/content/${id}/translations/vi/file`, pdf, { 'content-type': 'application/pdf' }),
      201,
    )) as { file: { sha256: string } };
    await ok(editor('PUT', `/api/v1/content/${id}/translations/km`, { title: 'ច្រកព្រំដែនលេថាញ់', body: 'ម៉ោងបើក' }));
    await ok(editor('DELETE', `/api/v1/content/${id}/translations/en`));
    const diff = ContentDiff.parse(await ok(approver('GET', `/api/v1/content/${id}/diff`)));
    expect(diff).toMatchObject({ publishedVersion: 1, latestVersion: 2 });
    expect(diff.fields).toEqual([
      { field: 'topics', before: ['culture-tourism'], after: ['culture-tourism', 'border-sovereignty-law'] },
      { field: 'featured', before: false, after: true },
      { field: 'validTo', before: null, after: '2027-06-30T00:00:00.000Z' },
    ]);
    expect(diff.translations.map((t) => [t.lang, t.change])).toEqual([
      ['en', 'removed'],
      ['km', 'added'],
      ['vi', 'changed'],
    ]);
    expect(diff.translations.find((t) => t.lang === 'vi')?.fields).toEqual([
      { field: 'title', before: 'Cửa khẩu Lệ Thanh', after: 'Cửa khẩu quốc tế Lệ Thanh' },
      { field: 'file.sha256', before: null, after: upload.file.sha256 },
      { field: 'file.mime', before: null, after: 'application/pdf' },
      { field: 'file.size', before: null, after: pdf.length },
    ]);
    expect(diff.translations.find((t) => t.lang === 'en')?.fields).toContainEqual({
      field: 'title',
      before: 'Le Thanh gate',
      after: null,
    });
    expect((await department('GET', '/api/v1/content/nope/diff')).status).toBe(404);
  });

  it('lists the kiosks an item targets with whether their manifest lists it, whether they applied it, sync problems', async () => {
    const secrets = {
      'k-station': server.addDevice('k-station', 's-ia-dom'),
      'k-commune': server.addDevice('k-commune', 'c-ia-dom'),
    };
    server.addDevice('k-elsewhere', 'c-ia-o');
    const ingest = createDeviceDataRepo(server.db);
    const manifestSeq = async (deviceId: keyof typeof secrets) => {
      const device = client(server.url, basic(deviceId, secrets[deviceId]));
      return ((await ok(device('GET', `/api/v1/devices/${deviceId}/manifest`))) as { manifest: { seq: number } }).manifest.seq;
    };
    const holders = async (id: string) => ContentHolders.parse(await ok(department('GET', `/api/v1/content/${id}/holders`)));

    const id = await bulletin([{ scope: 'site', siteId: 'd-duc-co' }]);
    // Not published yet: the devices it will reach, none issued.
    const draft = await holders(id);
    expect(draft.publishedVersion).toBeNull();
    expect(draft.devices.map((d) => [d.deviceId, d.issued, d.holds])).toEqual([
      ['k-commune', false, false],
      ['k-station', false, false],
    ]);

    await publish(id);
    const issued = await holders(id);
    expect(issued.publishedVersion).toBe(1);
    const station = issued.devices.find((d) => d.deviceId === 'k-station');
    expect(station).toMatchObject({
      siteId: 's-ia-dom',
      siteName: 'Đồn Biên phòng Ia Dom',
      issued: true,
      holds: false,
      issuedSeq: 1,
      appliedSeq: null,
      syncState: null,
      syncProblem: false,
    });
    expect(issued.devices.map((d) => d.deviceId)).not.toContain('k-elsewhere');

    // The station applies its manifest; the commune's kiosk fails three downloads in a row while retrying.
    const seq = await manifestSeq('k-station');
    expect(seq).toBe(1);
    const t = Date.now();
    ingest.sync('k-station', { manifestSeq: seq, state: 'applied', bytes: 0, missing: 0, ts: t }, t);
    for (let i = 0; i < 3; i++) {
      ingest.sync('k-commune', { manifestSeq: 1, state: 'failed', bytes: 0, missing: 1, error: 'timeout', ts: t + i }, t + i);
    }
    const after = await holders(id);
    expect(after.devices.find((d) => d.deviceId === 'k-station')).toMatchObject({
      holds: true,
      appliedSeq: 1,
      syncState: 'applied',
      syncProblem: false,
    });
    expect(after.devices.find((d) => d.deviceId === 'k-commune')).toMatchObject({
      issued: true,
      holds: false,
      syncState: 'failed',
      syncProblem: true,
    });

    // Another item raises the station's seq to 2: it still holds the first one (listed since seq 1).
    await publish(await bulletin([{ scope: 'site', siteId: 's-ia-dom' }]));
    expect(await manifestSeq('k-station')).toBe(2);
    expect((await holders(id)).devices.find((d) => d.deviceId === 'k-station')).toMatchObject({ holds: true, issuedSeq: 1 });

    // A new published version is not held until a manifest listing it is applied.
    await ok(editor('PUT', `/api/v1/content/${id}/translations/vi`, { title: 'Cửa khẩu Lệ Thanh', body: 'Giờ mới.' }));
    await publish(id);
    const v2 = (await holders(id)).devices.find((d) => d.deviceId === 'k-station');
    expect(v2).toMatchObject({ issued: true, holds: false, issuedSeq: 3, appliedSeq: 1 });
  });
});
