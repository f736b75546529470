/**
 * Scenario 5: the coverage API and the dashboard's first page (the coverage view: the page, who am I, plans,
 * coverage today, trend, communes) with 10 000 sites and 50 000 devices, against the real server in a child
 * process, as a logged-in department user would load them. When the coverage routes are not mounted in this
 * build yet, it runs bench/coverage.ts (the coverage module's own benchmark, in-process) and says so.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { savePlan } from '../../server/coverage/coverage-repo.js';
import { type Database, openDatabase } from '../../server/db/open-database.js';
import { seedReferenceData } from '../../server/db/seed.js';
import { freePort, percentile } from '../lib/proc.js';
import { BENCH_ADMIN_PASSWORD, startServerProcess } from '../lib/server-process.js';

const SITES = 10_000;
const DEVICES = 50_000;
const DAY = 86_400_000;

export function seedScale(db: Database, now: number): void {
  const site = db.prepare(
    'INSERT INTO sites (id, kind, name, parent_id, border, admin_code, valid_to) VALUES (?, ?, ?, ?, 1, ?, ?)',
  );
  const device = db.prepare(
    `INSERT INTO devices (id, site_id, status, first_seen, equipped_at, last_seen, online, content_seq, created_at)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
  );
  const ids: string[] = [];
  const kinds = ['station', 'gate', 'office', 'office'] as const;
  db.transaction(() => {
    for (let d = 0; d < 100; d++) site.run(`bd${d}`, 'district', `Huyện ${d}`, null, null, '2025-06-30');
    for (let c = 0; c < 1980; c++) {
      site.run(`bc${c}`, 'commune', `Xã ${c}`, `bd${c % 100}`, String(30_000 + c), null);
      ids.push(`bc${c}`);
    }
    for (let s = 0; ids.length < SITES - 100; s++) {
      site.run(`bs${s}`, kinds[s % 4], `Điểm ${s}`, `bc${s % 1980}`, null, null);
      ids.push(`bs${s}`);
    }
    const start = now - 5 * 365 * DAY;
    for (let i = 0; i < DEVICES; i++) {
      const firstSeen = start + ((i * 104_729) % (5 * 365)) * DAY;
      const kind = i % 10;
      device.run(
        `scale-${i}`,
        ids[(i * 7919) % ids.length],
        kind === 8 ? 'registered' : 'active',
        kind === 8 ? null : firstSeen,
        kind >= 7 ? null : firstSeen + 3_600_000,
        kind === 8 ? null : now - ((i * 31) % 48) * 3_600_000,
        i % 3 === 0 ? 1 : 0,
        kind === 8 ? null : i % 20,
        start,
      );
    }
  })();
  savePlan(
    db,
    {
      id: 'bench-plan',
      province: 'Bench',
      document: '1/KH-BENCH',
      issued: '2020-12-24',
      title: 'Benchmark plan',
      targets: [
        {
          id: 'p1-communes',
          phase: '2020-2025',
          deadline: '2025-12-31',
          label: '50% xã',
          scope: { kind: 'commune', border: true },
          required: { share: 0.5 },
        },
        {
          id: 'p1-stations',
          phase: '2020-2025',
          deadline: '2025-12-31',
          label: 'đồn',
          scope: { kind: 'station' },
          required: { count: 1000 },
        },
        {
          id: 'p2-communes',
          phase: '2025-2030',
          deadline: '2030-12-31',
          label: '100% xã',
          scope: { kind: 'commune', border: true },
          required: { share: 1 },
        },
        {
          id: 'p2-gates',
          phase: '2025-2030',
          deadline: '2030-12-31',
          label: 'cửa khẩu',
          scope: { kind: 'gate' },
          required: { share: 1 },
        },
      ],
    },
    now,
  );
  db.pragma('optimize');
}

async function timed(n: number, run: () => Promise<number>) {
  await run();
  await run();
  const ms: number[] = [];
  let bytes = 0;
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    bytes = await run();
    ms.push(performance.now() - t);
  }
  return { requests: n, p50Ms: percentile(ms, 50), p99Ms: percentile(ms, 99), maxMs: Math.max(...ms), bytes };
}

export async function runCoverageBench(o: { requests: number; log: (line: string) => void }) {
  const dataDir = mkdtempSync(join(tmpdir(), 'bench-coverage-'));
  try {
    const db = openDatabase(join(dataDir, 'fleet.db'));
    seedReferenceData(db);
    seedScale(db, Date.now());
    const counts = db.prepare('SELECT (SELECT count(*) FROM sites) AS sites, (SELECT count(*) FROM devices) AS devices').get();
    db.close();
    const server = await startServerProcess({ dataDir, httpPort: await freePort(), mqttPort: await freePort() });
    try {
      const login = await fetch(`${server.httpUrl}/api/v1/auth/login`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ username: 'admin', password: BENCH_ADMIN_PASSWORD }),
      });
      const cookie = login.headers.get('set-cookie')?.split(';')[0] ?? '';
      const get = async (path: string) => {
        const res = await fetch(`${server.httpUrl}${path}`, { headers: { cookie } });
        const body = await res.arrayBuffer();
        if (res.status !== 200) throw new Error(`${path}: HTTP ${res.status}`);
        return body.byteLength;
      };
      const wired = (await fetch(`${server.httpUrl}/api/v1/plans`, { headers: { cookie } })).status === 200;
      if (!wired) {
        o.log('  coverage routes not mounted in server/http/routes.ts yet: running bench/coverage.ts instead');
        const run = spawnSync(process.execPath, ['--import', 'tsx', 'bench/coverage.ts', '--requests', String(o.requests)], {
          cwd: resolve(import.meta.dirname, '..', '..'),
          encoding: 'utf8',
        });
        return {
          wired: false,
          via: 'bench/coverage.ts (in-process server with the coverage routes only)',
          output: run.stdout.trim(),
        };
      }
      const today = new Date().toISOString().slice(0, 10);
      const cases: Record<string, () => Promise<number>> = {
        coverage: () => get('/api/v1/plans/bench-plan/coverage'),
        coverageAsOf: () => get('/api/v1/plans/bench-plan/coverage?asOf=2025-06-30'),
        communes: () => get('/api/v1/plans/bench-plan/communes'),
        trend: () => get('/api/v1/plans/bench-plan/trend'),
        sitesFirstPage: () => get('/api/v1/dashboard/sites?limit=50&offset=0'),
        dashboardFirstPage: async () => {
          // The coverage view, what the browser asks for on opening the dashboard (sequentially here).
          let bytes = await get('/');
          for (const path of [
            '/api/v1/auth/me',
            '/api/v1/plans',
            `/api/v1/plans/bench-plan/coverage?asOf=${today}`,
            '/api/v1/plans/bench-plan/trend',
            '/api/v1/plans/bench-plan/communes',
          ])
            bytes += await get(path);
          return bytes;
        },
      };
      const out: Record<string, unknown> = { wired: true, ...(counts as object) };
      for (const [name, run] of Object.entries(cases)) {
        try {
          out[name] = await timed(o.requests, run);
        } catch (error) {
          out[name] = { error: (error as Error).message };
        }
        o.log(`  ${name}: ${JSON.stringify(out[name])}`);
      }
      out.serverRssMiB = server.usage().rssBytes / 1024 / 1024;
      return out;
    } finally {
      await server.stop();
    }
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
}
