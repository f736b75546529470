/**
 * The yearly report (issue 16): a real server on a real SQLite file with the Gia Lai seed; the .docx is unzipped
 * (jszip) and its word/document.xml read for the national header, the plan number, the 2025 coverage figures —
 * equal to the coverage API's on 2025-12-31 — the per-commune rows, availability and views.
 */
import JSZip from 'jszip';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HttpSession, startTestServer, TEST_ADMIN_PASSWORD, type TestServer } from '../server/testing/test-server.js';
import { insertDevice, local } from './coverage-helpers.js';

let server: TestServer;
let admin: HttpSession;
const PLAN = 'gia-lai-2509-2020';

beforeAll(async () => {
  server = await startTestServer();
  admin = new HttpSession(server.httpUrl);
  expect((await admin.login('admin', TEST_ADMIN_PASSWORD)).status).toBe(200);
  const db = server.db;
  insertDevice(db, 'k-iao', 'gl-c-iao');
  insertDevice(db, 'k-iachia', 'gl-c-iachia');
  insertDevice(db, 'k-lethanh', 'gl-s-lethanh');
  // Equipped only in 2026: not in the 2025 figures.
  insertDevice(db, 'k-ianan', 'gl-c-ianan', {
    firstSeen: local('2026-02-01T08:00:00'),
    equippedAt: local('2026-02-01T09:00:00'),
  });
  // Ia O's kiosk reported health in 100 distinct hours of 2025.
  const hourly = db.prepare('INSERT INTO health_hourly (device_id, hour, samples) VALUES (?, ?, 12)');
  const start = Math.floor(local('2025-03-02T00:00:00') / 3_600_000) * 3_600_000;
  for (let h = 0; h < 100; h++) hourly.run('k-iao', start + h * 3_600_000);
  const views = db.prepare('INSERT INTO play_stats (device_id, day, item_id, lang, views, seconds) VALUES (?, ?, ?, ?, ?, ?)');
  views.run('k-iao', '2025-05-01', 'bulletin-1', 'vi', 40, 1200);
  views.run('k-iao', '2025-05-02', 'bulletin-1', 'km', 7, 300);
  views.run('k-iao', '2026-01-03', 'bulletin-1', 'km', 1000, 1);
});

afterAll(async () => {
  await server?.stop();
});

async function documentXml(path: string): Promise<string> {
  const res = await admin.request('GET', path);
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toContain('wordprocessingml.document');
  const zip = await JSZip.loadAsync(new Uint8Array(await res.arrayBuffer()));
  const file = zip.file('word/document.xml');
  expect(file).not.toBeNull();
  return (await file?.async('string')) ?? '';
}

/** The text of each table row of the document, its cells joined by " | ". */
function rows(xml: string): string[] {
  return [...xml.matchAll(/<w:tr[ >][\s\S]*?<\/w:tr>/g)].map((tr) =>
    [...(tr[0] as string).matchAll(/<w:tc>[\s\S]*?<\/w:tc>/g)]
      .map((tc) => [...(tc[0] as string).matchAll(/<w:t(?: [^>]*)?>([^<]*)<\/w:t>/g)].map((m) => m[1]).join(''))
      .join(' | '),
  );
}

describe('GET /api/v1/reports/yearly.docx', () => {
  it('has the national header, the plan number and the 2025 coverage figures of the coverage API on 2025-12-31', async () => {
    const xml = await documentXml(`/api/v1/reports/yearly.docx?plan=${PLAN}&year=2025`);
    expect(xml).toContain('CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM');
    expect(xml).toContain('Độc lập - Tự do - Hạnh phúc');
    expect(xml).toContain('2509/KH-UBND');

    const api = await admin.json<{
      asOf: string;
      targets: { id: string; total: number; equipped: number; requiredCount: number }[];
    }>('GET', `/api/v1/plans/${PLAN}/coverage?asOf=2025-12-31`);
    expect(api.status).toBe(200);
    const table = rows(xml);
    for (const t of api.body.targets) {
      const row = table.find((r) => r.split(' | ')[1] === t.id);
      expect(row, `target ${t.id}`).toBeDefined();
      const cells = (row as string).split(' | ');
      // Phase | Id | Target | Deadline | Judged on | Total | Equipped | Operational | Required | Result
      expect(cells.slice(5, 7).map(Number)).toEqual([t.total, t.equipped]);
      expect(Number(cells[8])).toBe(t.requiredCount);
    }
    // The communes equipped in 2025 are 2 of 7 (Ia Nan's kiosk came in 2026).
    const communes = api.body.targets.find((t) => t.id.includes('commune') && t.total === 7);
    expect(communes?.equipped).toBe(2);
  });

  it('has one row per border commune, availability from the hours a kiosk reported, and views per language', async () => {
    const xml = await documentXml(`/api/v1/reports/yearly.docx?plan=${PLAN}&year=2025`);
    const table = rows(xml);
    for (const commune of ['Ia O', 'Ia Chía', 'Ia Dom', 'Ia Nan', 'Ia Pnôn', 'Ia Púch', 'Ia Mơ']) {
      expect(
        table.some((r) => r.split(' | ')[1] === commune),
        commune,
      ).toBe(true);
    }
    const iaO = table.find((r) => r.startsWith('Ia O | commune'));
    expect(iaO).toBe('Ia O | commune | 1 | 100 | 8760 | 1.1%');
    expect(table).toContain('vi | 40 | 0.3');
    expect(table).toContain('km | 7 | 0.1');
  });

  it('refuses a year that has not begun and an unknown plan, with a reason', async () => {
    const future = await admin.json<{ error: { code: string } }>('GET', '/api/v1/reports/yearly.docx?year=2099');
    expect(future.status).toBe(400);
    expect(future.body.error.code).toBe('year_in_future');
    const unknown = await admin.json<{ error: { code: string } }>('GET', '/api/v1/reports/yearly.docx?plan=nope&year=2025');
    expect(unknown.status).toBe(404);
  });
});
