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
import { openDatabase } from '../../server/db/open-database.js';
import { seedReferenceData } from '../../server/db/seed.js';
import { listDevices } from '../../server/registry/devices-repo.js';
import { listSites } from '../../server/registry/sites-repo.js';
import { freePort, percentile } from '../lib/proc.js';
import { scalePlan, seedScaleFleet } from '../lib/scale-fleet.js';
import { BENCH_ADMIN_PASSWORD, startServerProcess } from '../lib/server-process.js';

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
    // The same fleet as bench/coverage.ts, beside the reference data's own sites.
    const now = Date.now();
    seedScaleFleet(db, { now, prefix: 'b' });
    savePlan(db, scalePlan('b'), now);
    const counts = { sites: listSites(db).length, devices: listDevices(db, { limit: 1, offset: 0 }).total };
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
        // The dashboard's whole-fleet reads (issue 18: each ≤ 50 ms p99): sorted by a device figure, alerts, the map.
        sitesByProblems: () => get('/api/v1/dashboard/sites?sort=problems&dir=desc'),
        alerts: () => get('/api/v1/alerts?limit=100'),
        alertsOfflinePage: () => get('/api/v1/alerts?type=offline&limit=100&offset=1000'),
        map: () => get('/api/v1/dashboard/map'),
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
