/**
 * Provisioning's HTTP API with the core's real auth, audit and error handling, over real HTTP on port 0 and a
 * real SQLite file: tokens, enrollment (and its refusals), pairing, imports, roles, brute force.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { serve } from '@hono/node-server';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EnrollResponse, generateSigningKeys, PairingPoll, PairingStarted, type Role } from '../protocol/index.js';
import { createAudit } from '../server/auth/audit.js';
import { createAuthMiddleware } from '../server/auth/auth-middleware.js';
import { createApiToken, insertUser } from '../server/auth/users-repo.js';
import { type Database, openDatabase } from '../server/db/open-database.js';
import { seedReferenceData } from '../server/db/seed.js';
import { buildHttpApp } from '../server/http/app.js';
import type { AppEnv } from '../server/http/app-env.js';
import { createProvisioningRoutes } from '../server/provisioning/provisioning-routes.js';

const facts = (serial: string) => ({ serial, model: 'KIOSK-55', mac: '02:00:00:00:00:01', hostname: `kiosk-${serial}` });

let dir: string;
let db: Database;
let base: string;
const closers: Array<() => Promise<void>> = [];
let log: pino.Logger;
const logLines: Array<{ level: number; msg: string; limiter?: string }> = [];
const tokens: Partial<Record<Role, string>> = {};
const manifestKey = generateSigningKeys().publicKeyPem;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'prov-api-'));
  db = openDatabase(join(dir, 'fleet.db'));
  seedReferenceData(db);
  for (const role of ['admin', 'department', 'technician', 'editor'] as const) {
    const user = insertUser(db, { username: `${role}1`, role, passwordHash: 'x' });
    tokens[role] = createApiToken(db, { userId: user.id, name: 'test', ttlMs: null }).token;
  }
  const sink = new Writable({
    write(chunk, _enc, done) {
      for (const line of String(chunk).split('\n').filter(Boolean)) logLines.push(JSON.parse(line));
      done();
    },
  });
  log = pino({ level: 'info' }, sink);
  // Every test here comes from 127.0.0.1: this server's limits are loose; the brute-force test starts its own.
  const loose = { freeStrikes: 1000, maxStrikes: 2000 };
  base = await startServer({ enroll: loose, pairing: loose, poll: loose });
});

/** Core's app (auth, audit, error mapping) with only the provisioning routes, on port 0. */
async function startServer(limits: Parameters<typeof createProvisioningRoutes>[0]['limits']): Promise<string> {
  const urls = { publicUrl: '', mqttUrl: 'mqtt://127.0.0.1:1883' };
  const routes = createProvisioningRoutes<AppEnv>({
    db,
    log,
    auth: createAuthMiddleware(db),
    audit: createAudit(db),
    urls,
    manifestKey,
    limits,
  });
  const app = buildHttpApp([{ path: '/api/v1', app: routes }], log);
  await new Promise<void>((resolve) => {
    const server = serve({ fetch: app.fetch, hostname: '127.0.0.1', port: 0 }, (info) => {
      urls.publicUrl = `http://127.0.0.1:${info.port}`;
      resolve();
    });
    closers.push(() => new Promise((done) => server.close(() => done())));
  });
  return urls.publicUrl;
}

afterAll(async () => {
  for (const close of closers) await close();
  db.close();
  rmSync(dir, { recursive: true, force: true });
});

async function call(
  method: string,
  path: string,
  options: { role?: Role; json?: unknown; body?: string | Uint8Array; headers?: Record<string, string>; server?: string } = {},
) {
  const headers: Record<string, string> = { ...options.headers };
  if (options.role) headers.authorization = `Bearer ${tokens[options.role]}`;
  let body = options.body;
  if (options.json !== undefined) {
    headers['content-type'] = 'application/json';
    body = JSON.stringify(options.json);
  }
  const res = await fetch(`${options.server ?? base}${path}`, { method, headers, ...(body !== undefined ? { body } : {}) });
  const type = res.headers.get('content-type') ?? '';
  // biome-ignore lint/suspicious/noExplicitAny: responses are checked field by field below
  const data = type.includes('json') ? ((await res.json()) as any) : await res.text();
  return { status: res.status, data, headers: res.headers };
}

async function newToken(siteId = 'gl-c-iao', extra: Record<string, unknown> = {}) {
  const res = await call('POST', '/api/v1/enrollment-tokens', { role: 'technician', json: { siteId, ...extra } });
  expect(res.status).toBe(201);
  return res.data.tokens[0] as {
    id: string;
    token: string;
    siteId: string;
    expiresAt: string;
    qrSvgUrl: string;
    qrPngUrl: string;
  };
}

const count = (sql: string, ...params: unknown[]) => (db.prepare(sql).get(...params) as { n: number }).n;

describe('enrollment tokens', () => {
  it('creates site-bound, expiring tokens stored only as hashes, with a QR, and audits it', async () => {
    const res = await call('POST', '/api/v1/enrollment-tokens', { role: 'technician', json: { siteId: 'gl-c-iadom', count: 2 } });
    expect(res.status).toBe(201);
    expect(res.data.tokens).toHaveLength(2);
    const [t] = res.data.tokens;
    expect(t.siteId).toBe('gl-c-iadom');
    const hours = (Date.parse(t.expiresAt) - Date.now()) / 3_600_000;
    expect(hours).toBeGreaterThan(71.9);
    expect(hours).toBeLessThanOrEqual(72);
    const row = db.prepare('SELECT * FROM enrollment_tokens WHERE id = ?').get(t.id) as Record<string, unknown>;
    expect(JSON.stringify(row)).not.toContain(t.token);
    expect(row.token_hash).toMatch(/^[0-9a-f]{64}$/);
    const svg = await fetch(t.qrSvgUrl, { headers: { authorization: `Bearer ${tokens.technician}` } });
    expect(svg.headers.get('content-type')).toContain('image/svg+xml');
    expect(await svg.text()).toContain('<svg');
    const png = await fetch(t.qrPngUrl, { headers: { authorization: `Bearer ${tokens.technician}` } });
    expect(
      Buffer.from(await png.arrayBuffer())
        .subarray(1, 4)
        .toString(),
    ).toBe('PNG');
    expect(count(`SELECT count(*) AS n FROM audit WHERE action = 'enrollment_tokens.create' AND actor = 'technician1'`)).toBe(1);
  });

  it('lists tokens without their secret, and revokes an unused one so it cannot enroll', async () => {
    const t = await newToken('gl-c-iamo');
    const list = await call('GET', '/api/v1/enrollment-tokens?siteId=gl-c-iamo', { role: 'department' });
    expect(list.status).toBe(200);
    expect(list.data.tokens[0]).toMatchObject({ id: t.id, siteId: 'gl-c-iamo', state: 'unused', createdBy: 'technician1' });
    expect(JSON.stringify(list.data)).not.toContain(t.token);
    expect((await call('DELETE', `/api/v1/enrollment-tokens/${t.id}`, { role: 'technician' })).status).toBe(204);
    const refused = await call('POST', '/api/v1/enroll', { json: { token: t.token, facts: facts('REVOKED') } });
    expect(refused.status).toBe(401);
    expect(refused.data.error.code).toBe('enrollment_token_revoked');
    expect(count(`SELECT count(*) AS n FROM devices WHERE serial = 'REVOKED'`)).toBe(0);
    const after = await call('GET', '/api/v1/enrollment-tokens?siteId=gl-c-iamo', { role: 'technician' });
    expect(after.data.tokens[0].state).toBe('revoked');
  });

  it('refuses an unknown site, an editor, and an anonymous caller', async () => {
    const unknown = await call('POST', '/api/v1/enrollment-tokens', { role: 'admin', json: { siteId: 'gl-nowhere' } });
    expect(unknown.status).toBe(404);
    expect(unknown.data.error.message).toContain("site 'gl-nowhere'");
    expect((await call('POST', '/api/v1/enrollment-tokens', { role: 'editor', json: { siteId: 'gl-c-iao' } })).status).toBe(403);
    expect((await call('POST', '/api/v1/enrollment-tokens', { json: { siteId: 'gl-c-iao' } })).status).toBe(401);
  });
});

describe('enroll', () => {
  it('enrolls once: device id, secret stored hashed, endpoints and manifest key; the token is then used', async () => {
    const t = await newToken('gl-c-iao');
    const res = await call('POST', '/api/v1/enroll', { json: { token: t.token, facts: facts('SN-1') } });
    expect(res.status).toBe(201);
    const enrollment = EnrollResponse.parse(res.data);
    expect(enrollment).toMatchObject({ siteId: 'gl-c-iao', apiUrl: base, manifestKey });
    const device = db.prepare('SELECT * FROM devices WHERE id = ?').get(enrollment.deviceId) as Record<string, unknown>;
    expect(device).toMatchObject({ site_id: 'gl-c-iao', status: 'provisioned', serial: 'SN-1', kind: 'kiosk' });
    expect(device.secret_hash).not.toContain(enrollment.secret);
    expect(Buffer.from(enrollment.secret, 'base64url')).toHaveLength(32);

    const again = await call('POST', '/api/v1/enroll', { json: { token: t.token, facts: facts('SN-2') } });
    expect(again.status).toBe(409);
    expect(again.data.error.code).toBe('enrollment_token_used');
    expect(again.data.error.message).toContain(enrollment.deviceId);
    expect(count(`SELECT count(*) AS n FROM devices WHERE serial = 'SN-2'`)).toBe(0);
    const qr = await fetch(t.qrSvgUrl, { headers: { authorization: `Bearer ${tokens.technician}` } });
    expect(qr.status).toBe(404);
  });

  it('refuses an unknown or an expired token and creates nothing', async () => {
    const before = count('SELECT count(*) AS n FROM devices');
    const unknown = await call('POST', '/api/v1/enroll', { json: { token: 'not-a-real-token-at-all', facts: facts('SN-X') } });
    expect(unknown.status).toBe(401);
    expect(unknown.data.error.code).toBe('enrollment_token_unknown');
    const t = await newToken('gl-c-iao');
    db.prepare('UPDATE enrollment_tokens SET expires_at = ? WHERE id = ?').run(Date.now() - 1, t.id);
    const expired = await call('POST', '/api/v1/enroll', { json: { token: t.token, facts: facts('SN-X') } });
    expect(expired.status).toBe(410);
    expect(expired.data.error.code).toBe('enrollment_token_expired');
    expect(count('SELECT count(*) AS n FROM devices')).toBe(before);
    expect(count('SELECT count(*) AS n FROM enrollment_tokens WHERE id = ? AND used_at IS NULL', t.id)).toBe(1);
  });

  it('adopts an inventory device at the token site, refuses a token for another site', async () => {
    const csv = 'serial,model,kind,site\nINV-1,KIOSK-55,kiosk,gl-c-iachia\n';
    expect((await call('POST', '/api/v1/devices/import', { role: 'technician', body: csv })).status).toBe(200);
    const inventoryId = (db.prepare(`SELECT id FROM devices WHERE serial = 'INV-1'`).get() as { id: string }).id;

    const other = await newToken('gl-c-iao');
    const refused = await call('POST', '/api/v1/enroll', { json: { token: other.token, facts: facts('INV-1') } });
    expect(refused.status).toBe(409);
    expect(refused.data.error.code).toBe('enrollment_token_other_site');
    expect(refused.data.error.message).toContain('gl-c-iachia');
    expect(count('SELECT count(*) AS n FROM enrollment_tokens WHERE id = ? AND used_at IS NULL', other.id)).toBe(1);

    const right = await newToken('gl-c-iachia');
    const ok = await call('POST', '/api/v1/enroll', { json: { token: right.token, facts: facts('INV-1') } });
    expect(ok.status).toBe(201);
    expect(ok.data.deviceId).toBe(inventoryId);
    expect(count(`SELECT count(*) AS n FROM devices WHERE serial = 'INV-1'`)).toBe(1);
  });

  it('enrolls a replacement kiosk at the same site beside the old one, which keeps its history', async () => {
    const first = (
      await call('POST', '/api/v1/enroll', { json: { token: (await newToken('gl-c-ianan')).token, facts: facts('OLD') } })
    ).data;
    db.prepare(
      'INSERT INTO health (device_id, seq, device_ts, received_ts, cpu_load, mem_used, disk_used, disk_free, uptime_s, content_seq, queue_depth) VALUES (?, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0)',
    ).run(first.deviceId);
    db.prepare(`UPDATE devices SET status = 'decommissioned', decommissioned_at = ? WHERE id = ?`).run(
      Date.now(),
      first.deviceId,
    );
    const second = await call('POST', '/api/v1/enroll', {
      json: { token: (await newToken('gl-c-ianan')).token, facts: facts('NEW') },
    });
    expect(second.status).toBe(201);
    expect(second.data.deviceId).not.toBe(first.deviceId);
    expect(second.data.siteId).toBe('gl-c-ianan');
    expect(count('SELECT count(*) AS n FROM health WHERE device_id = ?', first.deviceId)).toBe(1);
  });

  it('slows down, then blocks and logs brute force on enrollment from one source', async () => {
    const server = await startServer({ enroll: { freeStrikes: 3, maxStrikes: 6, baseDelayMs: 40, maxDelayMs: 200 } });
    const attempt = () =>
      call('POST', '/api/v1/enroll', { server, json: { token: `guess-${Math.random()}`, facts: facts('BF') } });
    for (let i = 0; i < 3; i++) expect((await attempt()).status).toBe(401);
    const started = Date.now();
    expect((await attempt()).status).toBe(401); // strike 4: waited baseDelayMs (40 ms) first
    expect(Date.now() - started).toBeGreaterThanOrEqual(35);
    let blocked: Awaited<ReturnType<typeof attempt>> | undefined;
    for (let i = 0; i < 5 && !blocked; i++) {
      const res = await attempt();
      if (res.status === 429) blocked = res;
    }
    expect(blocked?.data.error.code).toBe('too_many_attempts');
    expect(Number(blocked?.headers.get('retry-after'))).toBeGreaterThan(0);
    // Even a valid token is refused while the source is blocked, and it stays unused.
    const t = await newToken('gl-c-iao');
    expect((await call('POST', '/api/v1/enroll', { server, json: { token: t.token, facts: facts('BF-OK') } })).status).toBe(429);
    expect(count('SELECT count(*) AS n FROM enrollment_tokens WHERE id = ? AND used_at IS NULL', t.id)).toBe(1);
    expect(logLines.some((l) => l.limiter === 'enroll' && l.msg.includes('brute force'))).toBe(true);
  });
});

describe('pairing', () => {
  it('pairs: code, pending, claimed by a technician, the enrollment once; a second claim is refused', async () => {
    const started = PairingStarted.parse((await call('POST', '/api/v1/pairing', { json: { facts: facts('PAIR-1') } })).data);
    expect(started.code).toMatch(/^[ABCDEFGHJKMNPQRSTUVWXYZ23456789]{6}$/);
    const pending = PairingPoll.parse((await call('GET', `/api/v1/pairing/${started.pollToken}`)).data);
    expect(pending.state).toBe('pending');

    const claim = await call('POST', '/api/v1/pairing/claim', {
      role: 'technician',
      json: { code: started.code.toLowerCase(), siteId: 'gl-c-iapuch' },
    });
    expect(claim.status).toBe(200);
    expect(claim.data).toMatchObject({ siteId: 'gl-c-iapuch', kind: 'kiosk' });
    expect(count(`SELECT count(*) AS n FROM audit WHERE action = 'pairing.claim' AND target = ?`, claim.data.deviceId)).toBe(1);

    const twice = await call('POST', '/api/v1/pairing/claim', {
      role: 'department',
      json: { code: started.code, siteId: 'gl-c-iamo' },
    });
    expect(twice.status).toBe(409);
    expect(twice.data.error.code).toBe('pairing_code_claimed');
    expect(twice.data.error.message).toContain('technician1');

    const delivered = PairingPoll.parse((await call('GET', `/api/v1/pairing/${started.pollToken}`)).data);
    if (delivered.state !== 'claimed') throw new Error('expected the enrollment');
    expect(delivered.enrollment).toMatchObject({ deviceId: claim.data.deviceId, siteId: 'gl-c-iapuch', manifestKey });
    const onceMore = await call('GET', `/api/v1/pairing/${started.pollToken}`);
    expect(onceMore.status).toBe(410);
    expect(onceMore.data.error.code).toBe('pairing_delivered');
    expect(count(`SELECT count(*) AS n FROM devices WHERE site_id = 'gl-c-iapuch' AND serial = 'PAIR-1'`)).toBe(1);
  });

  it('refuses an expired or unknown code, and an editor', async () => {
    const started = (await call('POST', '/api/v1/pairing', { json: { facts: facts('PAIR-2') } })).data;
    expect(
      (await call('POST', '/api/v1/pairing/claim', { role: 'editor', json: { code: started.code, siteId: 'gl-c-iao' } })).status,
    ).toBe(403);
    db.prepare('UPDATE pairings SET expires_at = ? WHERE poll_hash IS NOT NULL AND claimed_at IS NULL').run(Date.now() - 1);
    const expired = await call('POST', '/api/v1/pairing/claim', {
      role: 'technician',
      json: { code: started.code, siteId: 'gl-c-iao' },
    });
    expect(expired.status).toBe(410);
    expect(expired.data.error.code).toBe('pairing_code_expired');
    const unknown = await call('POST', '/api/v1/pairing/claim', {
      role: 'technician',
      json: { code: '222222', siteId: 'gl-c-iao' },
    });
    expect(unknown.status).toBe(404);
    expect(unknown.data.error.code).toBe('pairing_code_unknown');
  });
});

describe('CSV imports', () => {
  const SITES_HEADER = 'id,kind,name,parent_id,border,admin_code,valid_to,note';
  const sites = (text: string | Uint8Array, query = '') =>
    call('POST', `/api/v1/sites/import${query}`, { role: 'department', body: text, headers: { 'content-type': 'text/csv' } });
  const siteCount = () => count('SELECT count(*) AS n FROM sites');

  it('imports the reference file with a BOM, diacritics intact, as updates of the seeded sites', async () => {
    const { readFileSync } = await import('node:fs');
    const file = readFileSync('server/seed/gia-lai-border-sites.csv');
    const res = await sites(Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), file]).toString('utf8'));
    expect(res.status).toBe(200);
    expect(res.data.rejected).toBe(0);
    expect(res.data.updated).toBe(19);
    const lethanh = db.prepare(`SELECT name, note FROM sites WHERE id = 'gl-g-lethanh'`).get() as { name: string; note: string };
    expect(lethanh.name).toBe('Cửa khẩu Quốc tế Lệ Thanh');
    expect(lethanh.note).toBe('international border gate; counterpart O Yadav (Ratanakiri, Cambodia)');
  });

  it('reports each bad row by line and reason, applies the valid ones, and leaves nothing of a bad row', async () => {
    const before = siteCount();
    const csv = [
      SITES_HEADER,
      'gl-c-new1,commune,Ia Kriêng,gl-d-ducco,1,,,', // 2: created
      'gl-s-new2,station,Đồn mới,gl-c-nowhere,1,,,', // 3: unknown parent
      'gl-c-new1,commune,Ia Kriêng again,gl-d-ducco,1,,,', // 4: duplicate id
      'gl-c-new3,village,Làng,gl-d-ducco,1,,,', // 5: invalid kind
      'gl-c-new4,commune,Short row', // 6: missing columns
      'gl-s-new5,station,Đồn con,gl-s-new2,1,,,', // 7: parent rejected
      'gl-s-new6,station,Đồn trước cha,gl-c-new7,1,,,', // 8: parent listed later: fine
      'gl-c-new7,commune,Xã sau,gl-d-chuprong,1,,,', // 9
    ].join('\r\n');
    const res = await sites(csv);
    expect(res.status).toBe(200);
    const byLine = Object.fromEntries(res.data.rows.map((r: { line: number }) => [r.line, r]));
    expect(byLine[2]).toMatchObject({ id: 'gl-c-new1', action: 'created' });
    expect(byLine[3].reason).toContain("unknown parent 'gl-c-nowhere'");
    expect(byLine[4].reason).toContain("duplicate id 'gl-c-new1' (first on line 2)");
    expect(byLine[5].reason).toContain('kind');
    expect(byLine[6].reason).toContain('missing parent_id, border, admin_code, valid_to, note');
    expect(byLine[7].reason).toContain("parent 'gl-s-new2' was rejected (line 3)");
    expect(byLine[8]).toMatchObject({ action: 'created' });
    expect(byLine[9]).toMatchObject({ action: 'created' });
    expect(siteCount()).toBe(before + 3);
    for (const id of ['gl-s-new2', 'gl-c-new3', 'gl-c-new4', 'gl-s-new5'])
      expect(count('SELECT count(*) AS n FROM sites WHERE id = ?', id)).toBe(0);
    expect((db.prepare(`SELECT name FROM sites WHERE id = 'gl-c-new1'`).get() as { name: string }).name).toBe('Ia Kriêng');
  });

  it('atomic=1 writes nothing when any row is rejected', async () => {
    const before = siteCount();
    const res = await sites(
      [SITES_HEADER, 'gl-c-at1,commune,Xã A,gl-d-ducco,1,,,', 'gl-c-at2,commune,Xã B,gl-d-nope,1,,,'].join('\n'),
      '?atomic=1',
    );
    expect(res.status).toBe(422);
    expect(res.data.applied).toBe(false);
    expect(res.data.rows[0].reason).toContain('not applied: atomic import');
    expect(res.data.rows[1].reason).toContain("unknown parent 'gl-d-nope'");
    expect(siteCount()).toBe(before);
  });

  it('refuses a Latin-1 file and a header without required columns as a whole', async () => {
    const before = siteCount();
    const latin1 = Buffer.from(`${SITES_HEADER}\ngl-c-l1,commune,\xD0\xE0 N\xE9ng,gl-d-ducco,1,,,\n`, 'latin1');
    const res = await sites(latin1);
    expect(res.status).toBe(400);
    expect(res.data.error.code).toBe('csv_not_utf8');
    expect(res.data.error.message).toContain('line 2');
    const huge = await sites(`${SITES_HEADER}\n${'x'.repeat(6 * 1024 * 1024)}`);
    expect(huge.status).toBe(413);
    expect(huge.data.error.code).toBe('csv_too_large');
    const noKind = await sites('id,name,parent_id\ngl-c-x,Xã X,\n');
    expect(noKind.status).toBe(400);
    expect(noKind.data.error.message).toContain('lacks column(s) kind, border');
    expect(siteCount()).toBe(before);
  });

  it('imports the inventory as registered devices, rejecting unknown sites, bad kinds and duplicate serials', async () => {
    const csv = [
      'serial,model,kind,site',
      'KS-100,Kiosk 55 inch,kiosk,gl-c-iamo',
      'KS-101,Loa,speaker,gl-c-nowhere',
      'KS-100,Kiosk 55 inch,kiosk,gl-c-iamo',
      'KS-102,Máy,toaster,gl-c-iamo',
      'KS-103,Máy chiếu',
    ].join('\n');
    const res = await call('POST', '/api/v1/devices/import', { role: 'technician', body: csv });
    expect(res.status).toBe(200);
    const reasons = res.data.rows.map(
      (r: { line: number; action: string; reason?: string }) => `${r.line} ${r.action} ${r.reason ?? ''}`,
    );
    expect(reasons[0]).toMatch(/^2 created/);
    expect(reasons[1]).toContain("unknown site 'gl-c-nowhere'");
    expect(reasons[2]).toContain("duplicate serial 'KS-100' (first on line 2)");
    expect(reasons[3]).toContain("invalid kind 'toaster'");
    expect(reasons[4]).toContain('missing kind, site');
    expect(db.prepare(`SELECT status, site_id, secret_hash FROM devices WHERE serial = 'KS-100'`).get()).toEqual({
      status: 'registered',
      site_id: 'gl-c-iamo',
      secret_hash: null,
    });
    expect(count(`SELECT count(*) AS n FROM devices WHERE serial IN ('KS-101', 'KS-102', 'KS-103')`)).toBe(0);
    const again = await call('POST', '/api/v1/devices/import', {
      role: 'technician',
      body: 'serial,model,kind,site\nKS-100,Kiosk 65 inch,kiosk,gl-c-iamo\n',
    });
    expect(again.data.rows[0]).toMatchObject({ action: 'updated' });
    expect(count(`SELECT count(*) AS n FROM devices WHERE serial = 'KS-100'`)).toBe(1);
  });

  it('keeps the sites import for admins and the department: a technician is refused', async () => {
    const res = await call('POST', '/api/v1/sites/import', { role: 'technician', body: `${SITES_HEADER}\n` });
    expect(res.status).toBe(403);
    expect(res.data.error.code).toBe('forbidden');
  });
});
