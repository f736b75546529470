/** The editorial workflow over HTTP: roles, approval rules, versions, any language's text kept as UTF-8. */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { basic, type ContentTestServer, client, startContentTestServer } from '../server/content/testing.js';

type Api = ReturnType<typeof client>;
interface Item {
  id: string;
  latestVersion: number;
  publishedVersion: number | null;
  current: {
    version: number;
    state: string;
    approvedBy: string | null;
    translations: Record<string, { title: string; summary: string; body: string | null }>;
  };
}

describe('content workflow', () => {
  let server: ContentTestServer;
  let editor: Api;
  let editor2: Api;
  let approver: Api;
  let approver2: Api;
  let department: Api;

  beforeEach(async () => {
    server = await startContentTestServer();
    editor = client(server.url, `Bearer ${server.addUser('bien.tap', 'editor')}`);
    editor2 = client(server.url, `Bearer ${server.addUser('bien.tap.2', 'editor')}`);
    approver = client(server.url, `Bearer ${server.addUser('phe.duyet', 'approver')}`);
    approver2 = client(server.url, `Bearer ${server.addUser('phe.duyet.2', 'approver')}`);
    department = client(server.url, `Bearer ${server.addUser('so.ngoai.vu', 'department')}`);
  });
  afterEach(async () => {
    await server.close();
  });

  async function bulletin(api: Api = editor): Promise<string> {
    const res = await api('POST', '/api/v1/content', { kind: 'bulletin', topics: ['correcting-false-information'] });
    expect(res.status).toBe(201);
    const { id } = (await res.json()) as Item;
    const t = await api('PUT', `/api/v1/content/${id}/translations/vi`, { title: 'Thông báo', body: 'Nội dung thông báo.' });
    expect(t.status).toBe(200);
    return id;
  }
  const code = async (res: Response) => ((await res.json()) as { error: { code: string } }).error.code;

  it('stores and serves a translation in an unknown script as UTF-8, unchanged', async () => {
    const id = await bulletin();
    // Jrai Ư̆ is U+01AF + U+0306 (no precomposed form); a private-use tag stands for a language nobody registered.
    const jrai = 'Tơlơi pơthâo kơ \u01AF\u0306 \u0115 \u0103\u0306 ƀ č ñ';
    const made = 'Ꙩ꙰ ꧁x\u0334\u0335\u0336꧂ 𑀓𑀸 \u{1F3F3}\u{FE0F}';
    for (const [lang, title] of [
      ['jra', jrai],
      ['qaa-x-test', made],
    ] as const) {
      const res = await editor('PUT', `/api/v1/content/${id}/translations/${lang}`, {
        title,
        summary: title,
        body: `${title}\n${title}`,
      });
      expect(res.status).toBe(200);
    }
    const res = await department('GET', `/api/v1/content/${id}`);
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    const raw = Buffer.from(await res.arrayBuffer());
    const item = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(raw)) as Item;
    expect(item.current.translations.jra?.title).toBe(jrai);
    expect(item.current.translations.jra?.title.normalize('NFC')).toBe(jrai);
    expect(item.current.translations['qaa-x-test']?.body).toBe(`${made}\n${made}`);
    expect(raw.includes(Buffer.from('\u01AF\u0306', 'utf8'))).toBe(true);
    // A language can be removed again.
    const removed = (await (await editor('DELETE', `/api/v1/content/${id}/translations/qaa-x-test`)).json()) as Item;
    expect(Object.keys(removed.current.translations).sort()).toEqual(['jra', 'vi']);
    expect((await editor('DELETE', `/api/v1/content/${id}/translations/qaa-x-test`)).status).toBe(404);
    // A malformed tag is refused, not stored under a mangled name.
    expect((await editor('PUT', `/api/v1/content/${id}/translations/not_a_tag!`, { title: 'x' })).status).toBe(400);
  });

  it('refuses to publish without approval', async () => {
    const id = await bulletin();
    expect(await code(await approver('POST', `/api/v1/content/${id}/publish`))).toBe('conflict');
    expect((await editor('POST', `/api/v1/content/${id}/submit`)).status).toBe(200);
    const res = await approver('POST', `/api/v1/content/${id}/publish`);
    expect(res.status).toBe(409);
    expect(await code(res)).toBe('not_approved');
    const item = (await (await department('GET', `/api/v1/content/${id}`)).json()) as Item;
    expect(item.current.state).toBe('in_review');
    expect(item.publishedVersion).toBeNull();
  });

  it('refuses self-approval, including by anyone who edited the version', async () => {
    // One editor writes, a second edits; editors cannot approve at all.
    const id = await bulletin();
    expect((await editor2('PUT', `/api/v1/content/${id}/translations/en`, { title: 'Notice', body: 'Text.' })).status).toBe(200);
    expect((await editor('POST', `/api/v1/content/${id}/submit`)).status).toBe(200);
    expect((await editor('POST', `/api/v1/content/${id}/approve`)).status).toBe(403);

    // The author is later made an approver: they still may not approve what they wrote; nor may the co-editor.
    server.db.prepare(`UPDATE users SET role = 'approver' WHERE username IN ('bien.tap', 'bien.tap.2')`).run();
    for (const writer of [editor, editor2]) {
      const self = await writer('POST', `/api/v1/content/${id}/approve`);
      expect(self.status).toBe(403);
      expect(await code(self)).toBe('forbidden');
    }
    const ok = await approver2('POST', `/api/v1/content/${id}/approve`);
    expect(ok.status).toBe(200);
    expect(((await ok.json()) as Item).current.approvedBy).toBe('phe.duyet.2');
    const actions = server.db.prepare('SELECT action FROM audit WHERE target = ? ORDER BY id').all(id) as Array<{
      action: string;
    }>;
    expect(actions.map((a) => a.action)).toEqual([
      'content.create',
      'content.translation',
      'content.translation',
      'content.submit',
      'content.approve',
    ]);
  });

  it('checks roles: editors write, approvers publish, the department reads', async () => {
    expect((await department('POST', '/api/v1/content', { kind: 'bulletin' })).status).toBe(403);
    expect((await approver('POST', '/api/v1/content', { kind: 'bulletin' })).status).toBe(403);
    const id = await bulletin();
    expect((await department('GET', '/api/v1/content')).status).toBe(200);
    expect((await editor('POST', `/api/v1/content/${id}/submit`)).status).toBe(200);
    expect((await approver('POST', `/api/v1/content/${id}/approve`)).status).toBe(200);
    expect((await editor('POST', `/api/v1/content/${id}/publish`)).status).toBe(403);
    expect((await department('POST', `/api/v1/content/${id}/publish`)).status).toBe(403);
    expect((await approver('POST', `/api/v1/content/${id}/publish`)).status).toBe(200);
    const device = client(server.url, basic('kiosk-1', server.addDevice('kiosk-1', 'c-ia-dom')));
    expect((await device('GET', '/api/v1/content')).status).toBe(401);
  });

  it('editing a published item opens a new version that needs a new review, while the published one stays', async () => {
    const id = await bulletin();
    await editor('POST', `/api/v1/content/${id}/submit`);
    await approver('POST', `/api/v1/content/${id}/approve`);
    expect((await approver('POST', `/api/v1/content/${id}/publish`)).status).toBe(200);
    const edited = await editor2('PUT', `/api/v1/content/${id}/translations/vi`, {
      title: 'Thông báo (sửa)',
      body: 'Nội dung mới.',
    });
    const item = (await edited.json()) as Item & { published: Item['current'] };
    expect(item.latestVersion).toBe(2);
    expect(item.publishedVersion).toBe(1);
    expect(item.current.state).toBe('draft');
    expect(item.current.translations.vi?.title).toBe('Thông báo (sửa)');
    expect(item.published.translations.vi?.title).toBe('Thông báo');
    // The first version's author may approve the second if they did not touch it.
    await editor2('POST', `/api/v1/content/${id}/submit`);
    expect((await approver('POST', `/api/v1/content/${id}/approve`)).status).toBe(200);
    const published = (await (await approver('POST', `/api/v1/content/${id}/publish`)).json()) as { item: Item };
    expect(published.item.publishedVersion).toBe(2);
    const states = server.db.prepare('SELECT version, state FROM content_versions WHERE item_id = ? ORDER BY version').all(id);
    expect(states).toEqual([
      { version: 1, state: 'retired' },
      { version: 2, state: 'published' },
    ]);
  });

  it('refuses to submit a document without its file, and a validity window that ends before it starts', async () => {
    const res = await editor('POST', '/api/v1/content', { kind: 'document' });
    const { id } = (await res.json()) as Item;
    await editor('PUT', `/api/v1/content/${id}/translations/km`, { title: 'ព័ត៌មាន' });
    expect(await code(await editor('POST', `/api/v1/content/${id}/submit`))).toBe('incomplete');
    const bad = await editor('POST', '/api/v1/content', {
      kind: 'bulletin',
      validFrom: '2026-02-01T00:00:00Z',
      validTo: '2026-01-01T00:00:00Z',
    });
    expect(bad.status).toBe(400);
    expect(
      (await editor('POST', '/api/v1/content', { kind: 'bulletin', targets: [{ scope: 'site', siteId: 'nowhere' }] })).status,
    ).toBe(400);
    expect((await editor('POST', '/api/v1/content', { kind: 'bulletin', topics: ['gossip'] })).status).toBe(400);
  });
});
