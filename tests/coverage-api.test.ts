/** The coverage API over real HTTP on a real SQLite file with the Gia Lai seed (DESIGN §4, §6). */
import { parse } from 'csv-parse/sync';
import ExcelJS from 'exceljs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listAudit } from '../server/auth/audit.js';
import { type CoverageServer, HOUR, insertDevice, local, startCoverageServer } from './coverage-helpers.js';

const NOW = local('2026-11-23T10:00:00');
const PLAN = 'gia-lai-2509-2020';
let server: CoverageServer;
// biome-ignore lint/suspicious/noExplicitAny: the tests read response JSON ad hoc and assert on its shape.
type Json = any;

type Who = 'admin' | 'department' | 'technician' | 'nobody';
const authorization = (who: Who) => (who === 'nobody' ? 'Bearer fleet_unknown' : server.auth[who]);

async function get(path: string, who: Who = 'department') {
  const res = await fetch(`${server.url}${path}`, { headers: { authorization: authorization(who) } });
  const body: Json = res.headers.get('content-type')?.includes('json') ? await res.json() : await res.text();
  return { status: res.status, body, res };
}

async function post(path: string, body: unknown, who: Who = 'department') {
  const res = await fetch(`${server.url}${path}`, {
    method: 'POST',
    headers: { authorization: authorization(who), 'content-type': 'application/json' },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  const json: Json = await res.json();
  return { status: res.status, body: json };
}

type Target = { id: string; total: number; equipped: number; requiredCount: number; met: boolean };
const target = (body: { targets: Target[] }, id: string) => body.targets.find((t) => t.id === id) as Target;

beforeAll(async () => {
  server = await startCoverageServer({ now: NOW });
  const db = server.db;
  // Three border communes equipped before the phase 1 deadline, a fourth only in 2026.
  insertDevice(db, 'k-iao', 'gl-c-iao');
  insertDevice(db, 'k-iachia', 'gl-c-iachia', { lastSeen: NOW - 30 * HOUR });
  insertDevice(db, 'k-iadom', 'gl-c-iadom');
  insertDevice(db, 'k-ianan', 'gl-c-ianan', {
    firstSeen: local('2026-02-01T08:00:00'),
    equippedAt: local('2026-02-01T09:00:00'),
  });
  // Connected, never applied a manifest: does not count.
  insertDevice(db, 'k-iapnon', 'gl-c-iapnon', { equippedAt: null });
  // Registered only: planned.
  insertDevice(db, 'k-iamo', 'gl-c-iamo', { status: 'registered', firstSeen: null, equippedAt: null, lastSeen: null });
  // The gate's kiosk was decommissioned on 2025-09-10.
  insertDevice(db, 'k-gate', 'gl-g-lethanh', { status: 'decommissioned', decommissionedAt: local('2025-09-10T10:00:00') });
  insertDevice(db, 'k-district', 'gl-d-ducco');
  db.prepare(
    `INSERT INTO device_sync (device_id, manifest_seq, state, bytes, missing, error, updated_at) VALUES ('k-iadom', 6, 'failed', 0, 2, 'disk full', ?)`,
  ).run(NOW);
});

afterAll(async () => {
  await server?.close();
});

describe('GET /plans/{id}/coverage', () => {
  it('answers exactly the documented shape; phase 1 judged at its deadline, phase 2 today', async () => {
    const { status, body } = await get(`/plans/${PLAN}/coverage`);
    expect(status).toBe(200);
    expect(Object.keys(body).sort()).toEqual(['asOf', 'plan', 'targets']);
    expect(body.asOf).toBe('2026-11-23');
    expect(body.plan).toMatchObject({ id: PLAN, document: '2509/KH-UBND', issued: '2020-12-24', province: 'Gia Lai' });
    expect(Object.keys(body.targets[0]).sort()).toEqual(
      ['deadline', 'equipped', 'id', 'label', 'met', 'noUnitsInScope', 'operational', 'phase', 'requiredCount', 'total'].sort(),
    );
    expect(target(body, 'p1-communes')).toEqual({
      id: 'p1-communes',
      phase: '2020-2025',
      deadline: '2025-12-31',
      label: '50% các xã biên giới',
      total: 7,
      equipped: 3,
      operational: 2,
      requiredCount: 4,
      met: false,
      noUnitsInScope: false,
    });
    expect(target(body, 'p2-communes')).toMatchObject({ total: 7, equipped: 4, requiredCount: 7, met: false });
    expect(target(body, 'p2-districts')).toMatchObject({ total: 0, met: false, noUnitsInScope: true });
    expect(target(body, 'p1-gate')).toMatchObject({ total: 1, equipped: 0, met: false });
  });

  it('on a past day: the decommissioned gate kiosk still counted, the abolished districts existed', async () => {
    const { status, body } = await get(`/plans/${PLAN}/coverage?asOf=2025-06-30`);
    expect(status).toBe(200);
    expect(target(body, 'p1-gate')).toMatchObject({ equipped: 1, met: true });
    expect(target(body, 'p1-districts')).toMatchObject({ total: 3, equipped: 1, requiredCount: 2, met: false });
    expect(target(body, 'p1-communes')).toMatchObject({ equipped: 3, operational: null });
  });

  it.each([
    ['2025-13-01', 400, 'invalid_as_of'],
    ['yesterday', 400, 'invalid_as_of'],
    ['2020-12-23', 400, 'as_of_before_plan'],
    ['2027-01-01', 400, 'as_of_in_future'],
  ])('refuses asOf=%s with %i %s', async (asOf, code, errorCode) => {
    const { status, body } = await get(`/plans/${PLAN}/coverage?asOf=${asOf}`);
    expect(status).toBe(code);
    expect(body.error.code).toBe(errorCode);
    expect(body.error.message).toContain(asOf);
  });

  it('404 for an unknown plan; 401 without credentials', async () => {
    const unknown = await get('/plans/kon-tum-220/coverage');
    expect(unknown).toMatchObject({ status: 404, body: { error: { code: 'unknown_plan' } } });
    expect(unknown.body.error.message).toContain('kon-tum-220');
    expect((await get(`/plans/${PLAN}/coverage`, 'nobody')).status).toBe(401);
  });
});

describe('GET /plans/{id}/communes', () => {
  it('gives one row per border commune with its sites, devices and problems', async () => {
    const { status, body } = await get(`/plans/${PLAN}/communes?include=sites`);
    expect(status).toBe(200);
    expect(body.communes).toHaveLength(7);
    const iadom = body.communes.find((r: { commune: { id: string } }) => r.commune.id === 'gl-c-iadom');
    expect(iadom).toMatchObject({
      commune: { id: 'gl-c-iadom', name: 'Ia Dom', adminCode: '23872' },
      district: { id: 'gl-d-ducco', name: 'Đức Cơ', abolished: true },
      communeEquipped: true,
      sites: 3,
      devices: 1,
      equipped: 1,
      operational: 1,
      planned: 0,
      contentSeq: 5,
      problems: { offline: 0, neverApplied: 0, syncFailed: 1 },
    });
    expect(iadom.siteRows.map((s: { id: string }) => s.id).sort()).toEqual(['gl-c-iadom', 'gl-g-lethanh', 'gl-s-lethanh']);
    const iapnon = body.communes.find((r: { commune: { id: string } }) => r.commune.id === 'gl-c-iapnon');
    expect(iapnon).toMatchObject({ communeEquipped: false, devices: 1, planned: 1, problems: { neverApplied: 1 } });
    const iachia = body.communes.find((r: { commune: { id: string } }) => r.commune.id === 'gl-c-iachia');
    expect(iachia).toMatchObject({ equipped: 1, operational: 0, problems: { offline: 1 } });
  });

  it('answers a page at a time, in the same order, with the total; all=1 answers every commune', async () => {
    const all = await get(`/plans/${PLAN}/communes?all=1`);
    expect(all.body).toMatchObject({ total: 7, offset: 0, limit: 7 });
    const ids = all.body.communes.map((r: { commune: { id: string } }) => r.commune.id);
    expect(ids).toHaveLength(7);
    const first = await get(`/plans/${PLAN}/communes?limit=3`);
    const second = await get(`/plans/${PLAN}/communes?limit=3&offset=3`);
    const last = await get(`/plans/${PLAN}/communes?limit=3&offset=6`);
    expect(first.body).toMatchObject({ total: 7, limit: 3, offset: 0 });
    const paged = [...first.body.communes, ...second.body.communes, ...last.body.communes];
    expect(paged.map((r: { commune: { id: string } }) => r.commune.id)).toEqual(ids);
    expect(paged).toEqual(all.body.communes);
    expect((await get(`/plans/${PLAN}/communes?limit=0`)).body.error.code).toBe('invalid_query');
    expect((await get(`/plans/${PLAN}/communes?limit=3&asOf=2019-01-01`)).body.error.code).toBe('as_of_before_plan');
  });
});

describe('reports', () => {
  it('coverage.csv: UTF-8 with BOM, plan number and as-of date in the header, one row per target and commune', async () => {
    const res = await fetch(`${server.url}/reports/coverage.csv?asOf=2026-11-23`, {
      headers: { authorization: server.auth.department },
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('text/csv');
    expect(res.headers.get('content-disposition')).toContain('coverage-gia-lai-2509-2020-2026-11-23.csv');
    const bytes = new Uint8Array(await res.arrayBuffer());
    expect([...bytes.slice(0, 3)]).toEqual([0xef, 0xbb, 0xbf]);
    const rows: string[][] = parse(new TextDecoder().decode(bytes), {
      bom: true,
      relax_column_count: true,
      skip_empty_lines: true,
    });
    expect(rows[1]?.slice(0, 2)).toEqual(['Kế hoạch / Plan', '2509/KH-UBND']);
    expect(rows.find((r) => r[0]?.startsWith('Số liệu đến ngày'))?.[1]).toBe('2026-11-23');
    const communes = rows.find((r) => r[0] === 'p1-communes' || r[1] === 'p1-communes');
    expect(communes?.slice(5)).toEqual(['7', '3', '2', '4', 'Chưa đạt / Not met']);
    const districts = rows.find((r) => r[1] === 'p2-districts');
    expect(districts?.at(-1)).toBe('Không còn đơn vị trong phạm vi / No units in scope');
    const iadom = rows.find((r) => r[1] === 'Ia Dom');
    expect(iadom?.slice(0, 5)).toEqual(['Đức Cơ', 'Ia Dom', '23872', 'Có / Yes', '3']);
  });

  it('coverage.xlsx: a sheet per phase and per district, plan number and as-of in each header', async () => {
    const res = await fetch(`${server.url}/reports/coverage.xlsx?plan=${PLAN}`, {
      headers: { authorization: server.auth.technician },
    });
    expect(res.status).toBe(200);
    const workbook = new ExcelJS.Workbook();
    await workbook.xlsx.load(await res.arrayBuffer());
    expect(workbook.worksheets.map((s) => s.name)).toEqual([
      'Giai đoạn 2020-2025',
      'Giai đoạn 2025-2030',
      'Huyện Chư Prông',
      'Huyện Đức Cơ',
      'Huyện Ia Grai',
    ]);
    for (const sheet of workbook.worksheets) {
      expect(sheet.getRow(2).getCell(2).value).toBe('2509/KH-UBND');
      expect(sheet.getRow(5).getCell(2).value).toBe('2026-11-23');
    }
    const phase1 = workbook.getWorksheet('Giai đoạn 2020-2025');
    const rows: unknown[][] = [];
    phase1?.eachRow((row) => {
      rows.push((row.values as unknown[]).slice(1));
    });
    expect(rows.find((r) => r[1] === 'p1-stations')?.slice(5)).toEqual([8, 0, 0, 8, 'Chưa đạt / Not met']);
    const ducco = workbook.getWorksheet('Huyện Đức Cơ');
    // 5 header lines, a blank line, the column header, then Đức Cơ's three border communes.
    expect(ducco?.rowCount).toBe(7 + 3);
    expect([8, 9, 10].map((n) => ducco?.getRow(n).getCell(2).value)).toEqual(['Ia Dom', 'Ia Nan', 'Ia Pnôn']);
  });
});

describe('GET /plans/{id}/trend', () => {
  it('gives monthly points from the plan date and a projection', async () => {
    const { status, body } = await get(`/plans/${PLAN}/trend`);
    expect(status).toBe(200);
    const communes = body.targets.find((t: { id: string }) => t.id === 'p2-communes');
    expect(communes.points[0]).toMatchObject({ day: '2020-12-24', equipped: 0 });
    expect(communes.points.at(-1)).toMatchObject({ day: '2026-11-23', equipped: 4, total: 7 });
    expect(communes.projection).toMatchObject({ since: '2026-05-27', ratePerMonth: 0, requiredBy: null, status: 'never' });
  });

  it('follows a device equipped, moved and decommissioned between two requests (the spans are kept, never stale)', async () => {
    const equipped = async () => {
      const { body } = await get(`/plans/${PLAN}/trend`);
      const last = body.targets.find((t: { id: string }) => t.id === 'p2-communes').points.at(-1).equipped;
      // A past day's coverage reads the same kept spans.
      const yesterday = target((await get(`/plans/${PLAN}/coverage?asOf=2026-11-22`)).body, 'p2-communes').equipped;
      expect(yesterday).toBe(last);
      return last;
    };
    expect(await equipped()).toBe(4);
    insertDevice(server.db, 'k-trend', 'gl-c-iapuch', { firstSeen: local('2026-10-01T08:00:00'), equippedAt: null });
    expect(await equipped()).toBe(4);
    // The broker records the first manifest applied (device-data-repo.ts `sync`: equipped_at = coalesce(...)).
    server.db.prepare(`UPDATE devices SET equipped_at = ? WHERE id = 'k-trend'`).run(local('2026-10-02T08:00:00'));
    expect(await equipped()).toBe(5);
    server.db.prepare(`UPDATE devices SET last_seen = ? WHERE id = 'k-trend'`).run(NOW);
    expect(await equipped()).toBe(5);
    server.db.prepare(`UPDATE devices SET site_id = 'gl-s-iao' WHERE id = 'k-trend'`).run();
    expect(await equipped()).toBe(4);
    server.db.prepare(`UPDATE devices SET site_id = 'gl-c-iapuch' WHERE id = 'k-trend'`).run();
    expect(await equipped()).toBe(5);
    server.db
      .prepare(`UPDATE devices SET status = 'decommissioned', decommissioned_at = ? WHERE id = 'k-trend'`)
      .run(local('2026-11-01T08:00:00'));
    expect(await equipped()).toBe(4);
    server.db.prepare(`DELETE FROM devices WHERE id = 'k-trend'`).run();
    expect(await equipped()).toBe(4);
  });
});

describe('the communes list kept per registry version', () => {
  it('follows a commune renamed or a site added between two requests', async () => {
    type Row = { commune: { id: string; name: string }; siteRows: unknown[] };
    const rows = async (): Promise<Row[]> => (await get(`/plans/${PLAN}/communes?all=1&include=sites`)).body.communes;
    const iao = (list: Row[]) => list.find((r) => r.commune.id === 'gl-c-iao') as Row;
    const before = await rows();
    server.db.prepare(`UPDATE sites SET name = 'A Ia O' WHERE id = 'gl-c-iao'`).run();
    server.db
      .prepare(`INSERT INTO sites (id, kind, name, parent_id, border) VALUES ('gl-o-new', 'office', 'Mới', 'gl-c-iao', 1)`)
      .run();
    const after = await rows();
    expect(iao(after).commune.name).toBe('A Ia O');
    expect(iao(after).siteRows).toHaveLength(iao(before).siteRows.length + 1);
    server.db.prepare(`DELETE FROM sites WHERE id = 'gl-o-new'`).run();
    server.db.prepare(`UPDATE sites SET name = 'Ia O' WHERE id = 'gl-c-iao'`).run();
    expect(await rows()).toEqual(before);
  });
});

describe('plans', () => {
  const konTum = {
    id: 'kon-tum-220',
    province: 'Kon Tum',
    document: '220/KH-UBND',
    issued: '2021-01-20',
    title: 'Kế hoạch thông tin đối ngoại biên giới',
    targets: [
      {
        id: 'communes',
        phase: '2021-2025',
        deadline: '2025-12-31',
        label: '50% xã biên giới',
        scope: { kind: 'commune', border: true },
        required: { share: 0.5 },
      },
      {
        id: 'gate',
        phase: '2021-2025',
        deadline: '2025-12-31',
        label: 'Cửa khẩu',
        scope: { sites: ['gl-g-lethanh'] },
        required: { count: 1 },
      },
    ],
  };

  it('loads another province plan from JSON, lists it, replaces it, and audits who did', async () => {
    expect(await post('/plans', konTum)).toMatchObject({
      status: 201,
      body: { plan: { id: 'kon-tum-220', targets: 2 }, replaced: false },
    });
    expect(await post('/plans', { ...konTum, title: 'v2' }, 'admin')).toMatchObject({
      status: 200,
      body: { replaced: true },
    });
    const { body } = await get('/plans', 'technician');
    expect(body.plans.map((p: { id: string }) => p.id)).toEqual(['gia-lai-2509-2020', 'kon-tum-220']);
    const audit = listAudit(server.db, { limit: 10 }).map(({ actor, action, target }) => ({ actor, action, target }));
    expect(audit.reverse()).toEqual([
      { actor: 'department-user', action: 'plan.load', target: 'kon-tum-220' },
      { actor: 'admin-user', action: 'plan.replace', target: 'kon-tum-220' },
    ]);
    const coverage = await get('/plans/kon-tum-220/coverage?asOf=2025-12-31');
    expect(target(coverage.body, 'communes')).toMatchObject({ total: 7, equipped: 3, requiredCount: 4, met: false });
  });

  it.each([
    ['an unknown site id', { scope: { sites: ['gl-g-nowhere'] } }, 422, 'unknown_site', 'gl-g-nowhere'],
    ['a share above 1', { required: { share: 1.5 } }, 400, 'invalid_plan', 'share must be at most 1'],
    ['a negative count', { required: { count: -3 } }, 400, 'invalid_plan', 'count must be a positive integer'],
  ])('refuses a plan with %s', async (_name, change, status, code, message) => {
    const bad = { ...konTum, id: 'bad-plan', targets: [{ ...konTum.targets[0], ...change }] };
    const res = await post('/plans', bad);
    expect(res).toMatchObject({ status, body: { error: { code } } });
    expect(res.body.error.message).toContain(message);
    expect((await get('/plans/bad-plan')).status).toBe(404);
  });

  it('refuses malformed JSON and a user without the right role', async () => {
    expect(await post('/plans', '{"id": ')).toMatchObject({ status: 400, body: { error: { code: 'invalid_json' } } });
    expect((await post('/plans', konTum, 'technician')).status).toBe(403);
  });
});

describe('a site whose parent was abolished', () => {
  it('is refused with 422 naming it, in plans and in the per-commune report', async () => {
    const db = server.db;
    db.prepare(
      `INSERT INTO sites (id, kind, name, parent_id, border, valid_from, valid_to) VALUES
       ('gl-c-old', 'commune', 'Xã cũ', 'gl-d-ducco', 1, NULL, '2025-06-30'),
       ('gl-s-orphan', 'station', 'Đồn mới', 'gl-c-old', 1, '2025-01-01', NULL),
       ('gl-o-late', 'office', 'Điểm mới', 'gl-d-ducco', 1, '2026-01-01', NULL)`,
    ).run();
    try {
      const communes = await get(`/plans/${PLAN}/communes`);
      expect(communes).toMatchObject({ status: 422, body: { error: { code: 'site_parent_abolished' } } });
      expect(communes.body.error.message).toContain('gl-s-orphan');
      const csv = await get('/reports/coverage.csv');
      expect(csv.status).toBe(422);
      // Before the commune was abolished, the station sat in it: fine.
      expect((await get(`/plans/${PLAN}/communes?asOf=2025-06-30`)).status).toBe(200);
      const plan = {
        id: 'late-plan',
        province: 'Gia Lai',
        document: '1/KH',
        issued: '2026-02-01',
        title: 't',
        targets: [
          { id: 't', phase: 'p', deadline: '2030-12-31', label: 'l', scope: { sites: ['gl-o-late'] }, required: { count: 1 } },
        ],
      };
      const refused = await post('/plans', plan);
      expect(refused).toMatchObject({ status: 422, body: { error: { code: 'site_parent_abolished' } } });
      expect(refused.body.error.message).toContain('gl-d-ducco');
    } finally {
      db.prepare(`DELETE FROM sites WHERE id IN ('gl-s-orphan', 'gl-o-late')`).run();
      db.prepare(`DELETE FROM sites WHERE id = 'gl-c-old'`).run();
    }
  });
});
