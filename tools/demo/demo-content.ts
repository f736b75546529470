/**
 * Sample content for the demo, through the server's own content API and editorial workflow (an editor writes
 * and submits, an approver approves and publishes): short bulletins in Vietnamese, Jrai, Bahnar, English, Lao
 * and Khmer. Jrai and Bahnar texts are marked as placeholders: they need a real translator. Items have fixed
 * ids, so a second run finds them and adds nothing. When the content routes are not mounted, nothing is added.
 */
import { HttpSession } from '../../server/testing/test-server.js';

const EDITOR = { username: 'demo.editor', password: 'demo-editor-2026', role: 'editor' };
const APPROVER = { username: 'demo.approver', password: 'demo-approver-2026', role: 'approver' };

const placeholder = (language: string) => `[Demo: ${language} translation to be supplied by a translator]`;

const ITEMS: Array<{
  id: string;
  topics: string[];
  translations: Record<string, { title: string; summary: string; body: string }>;
}> = [
  {
    id: 'demo-border-visit',
    topics: ['border-sovereignty-law'],
    translations: {
      vi: {
        title: 'Đi lại trong khu vực biên giới',
        summary: 'Người ngoài địa phương vào vành đai biên giới cần báo với Đồn Biên phòng.',
        body: 'Bản tin mẫu (demo). Khi vào khu vực vành đai biên giới, hãy mang theo giấy tờ tùy thân và báo với Đồn Biên phòng gần nhất.',
      },
      en: {
        title: 'Travelling in the border area',
        summary: 'Visitors entering the border belt report to the border-guard station.',
        body: 'Sample bulletin (demo). Carry an identity document in the border belt and report to the nearest border-guard station.',
      },
      jra: { title: placeholder('Jrai'), summary: placeholder('Jrai'), body: placeholder('Jrai') },
      bdq: { title: placeholder('Bahnar'), summary: placeholder('Bahnar'), body: placeholder('Bahnar') },
      lo: { title: 'ຂໍ້ມູນຊາຍແດນ (demo)', summary: 'Sample bulletin (demo) in Lao.', body: 'ຂໍ້ມູນຊາຍແດນ' },
      km: { title: 'ព័ត៌មានព្រំដែន (demo)', summary: 'Sample bulletin (demo) in Khmer.', body: 'ព័ត៌មានព្រំដែន' },
    },
  },
  {
    id: 'demo-le-thanh-gate',
    topics: ['socio-economic-development'],
    translations: {
      vi: {
        title: 'Cửa khẩu Quốc tế Lệ Thanh',
        summary: 'Giờ làm việc và thủ tục xuất nhập cảnh (bản tin mẫu).',
        body: 'Bản tin mẫu (demo): thông tin về thủ tục qua Cửa khẩu Quốc tế Lệ Thanh sẽ do Sở cập nhật.',
      },
      en: {
        title: 'Lệ Thanh international border gate',
        summary: 'Opening hours and crossing formalities (sample bulletin).',
        body: 'Sample bulletin (demo): the department publishes the current crossing formalities here.',
      },
      km: { title: 'ច្រកព្រំដែនអន្តរជាតិ លេថាញ់ (demo)', summary: 'Sample bulletin (demo) in Khmer.', body: 'ព័ត៌មានព្រំដែន' },
    },
  },
];

export type DemoContentResult = { available: false; reason: string } | { available: true; added: number; existing: number };

async function ensureUser(baseUrl: string, admin: HttpSession, user: typeof EDITOR): Promise<HttpSession> {
  const created = await admin.request('POST', '/api/v1/users', user);
  if (created.status !== 201 && created.status !== 409) throw new Error(`creating ${user.username}: HTTP ${created.status}`);
  await created.arrayBuffer();
  const session = new HttpSession(baseUrl);
  const login = await session.login(user.username, user.password);
  if (login.status !== 200) throw new Error(`${user.username} cannot log in (HTTP ${login.status}); was the password changed?`);
  return session;
}

export async function ensureDemoContent(baseUrl: string, adminPassword: string): Promise<DemoContentResult> {
  const admin = new HttpSession(baseUrl);
  const login = await admin.login('admin', adminPassword);
  if (login.status !== 200) return { available: false, reason: `admin login failed (HTTP ${login.status})` };
  const probe = await admin.request('GET', '/api/v1/content');
  await probe.arrayBuffer();
  if (probe.status === 404) return { available: false, reason: 'the content routes are not mounted in this build yet' };
  const editor = await ensureUser(baseUrl, admin, EDITOR);
  const approver = await ensureUser(baseUrl, admin, APPROVER);
  let added = 0;
  let existing = 0;
  for (const item of ITEMS) {
    const created = await editor.request('POST', '/api/v1/content', { id: item.id, kind: 'bulletin', topics: item.topics });
    await created.arrayBuffer();
    if (created.status === 409) {
      existing++;
      continue;
    }
    if (created.status !== 201) throw new Error(`creating ${item.id}: HTTP ${created.status}`);
    for (const [lang, t] of Object.entries(item.translations)) {
      const res = await editor.request('PUT', `/api/v1/content/${item.id}/translations/${lang}`, t);
      if (res.status >= 300) throw new Error(`${item.id}/${lang}: HTTP ${res.status} ${await res.text()}`);
      await res.arrayBuffer();
    }
    for (const [step, who] of [
      ['submit', editor],
      ['approve', approver],
      ['publish', approver],
    ] as const) {
      const res = await who.request('POST', `/api/v1/content/${item.id}/${step}`);
      if (res.status !== 200) throw new Error(`${step} ${item.id}: HTTP ${res.status} ${await res.text()}`);
      await res.arrayBuffer();
    }
    added++;
  }
  return { available: true, added, existing };
}
