/**
 * The fleet at scale both coverage benches read (bench/coverage.ts and scenario 5,
 * bench/scenarios/coverage-dashboard.ts): 10 000 sites (100 districts, 1 980 border communes, stations, gates
 * and offices under them) and 50 000 devices, written through the server's own functions — sites through the
 * registry (`upsertSites`), devices through enrollment (`registerDevice`), their state through what the
 * broker records (`connected`, `sync` applied, `touch`, `offline`) and decommissioning — so the rows are the
 * ones the server itself would write. Deterministic: the same fleet on every run.
 */
import type { Plan } from '../../server/coverage/plan.js';
import type { Database } from '../../server/db/open-database.js';
import { createDeviceDataRepo } from '../../server/ingest/device-data-repo.js';
import { decommissionDevice, registerDevice } from '../../server/registry/devices-repo.js';
import { type SiteInput, upsertSites } from '../../server/registry/sites-repo.js';
import { simSecret } from '../../tools/fleet-sim/provision.js';

export const SCALE = { sites: 10_000, devices: 50_000, districts: 100, communes: 1_980 } as const;
const HOUR = 3_600_000;
const DAY = 24 * HOUR;

export interface ScaleFleetOptions {
  /** "Now" of the fleet: devices were last seen within the 48 hours before it. */
  now: number;
  /** Prefix of every site and device id (to sit beside the reference data's own sites). */
  prefix?: string;
  sites?: number;
  devices?: number;
}

/** Seeds the sites and devices; returns their counts. */
export function seedScaleFleet(db: Database, o: ScaleFleetOptions): { sites: number; devices: number } {
  const p = o.prefix ?? '';
  const siteCount = o.sites ?? SCALE.sites;
  const deviceCount = o.devices ?? SCALE.devices;
  const site = (
    id: string,
    kind: SiteInput['kind'],
    name: string,
    parentId: string | null,
    extra: Partial<SiteInput> = {},
  ): SiteInput => ({
    id,
    kind,
    name,
    parentId,
    border: true,
    adminCode: null,
    lat: null,
    lon: null,
    validFrom: null,
    validTo: null,
    note: null,
    ...extra,
  });
  const sites: SiteInput[] = [];
  const leaves: string[] = [];
  // Districts were dissolved in 2025 (the communes stay, DESIGN §3).
  for (let d = 0; d < SCALE.districts; d++)
    sites.push(site(`${p}d${d}`, 'district', `Huyện ${d}`, null, { validTo: '2025-06-30' }));
  for (let c = 0; c < SCALE.communes; c++) {
    sites.push(site(`${p}c${c}`, 'commune', `Xã ${c}`, `${p}d${c % SCALE.districts}`, { adminCode: String(20_000 + c) }));
    leaves.push(`${p}c${c}`);
  }
  const childKinds = ['station', 'gate', 'office', 'office'] as const;
  for (let s = 0; sites.length < siteCount; s++) {
    sites.push(
      site(`${p}s${s}`, childKinds[s % childKinds.length] as SiteInput['kind'], `Điểm ${s}`, `${p}c${s % SCALE.communes}`),
    );
    leaves.push(`${p}s${s}`);
  }
  upsertSites(db, sites, { overwrite: false });

  const data = createDeviceDataRepo(db);
  const start = o.now - 5 * 365 * DAY;
  let state = 42;
  // A small LCG: the same fleet on every run, without a pattern tying a site to one kind of device.
  const random = (n: number) => {
    state = (Math.imul(state, 1_664_525) + 1_013_904_223) >>> 0;
    // The high bits: an LCG's low bits cycle quickly.
    return Math.floor((state / 4_294_967_296) * n);
  };
  db.transaction(() => {
    // Deterministic mix: most devices equipped at various times over five years, some never applied a
    // manifest (kind 7), some only registered (8), some decommissioned (9); last seen over the past two days,
    // a third of them online now.
    for (let i = 0; i < deviceCount; i++) {
      const id = `${p}dev-${i}`;
      const siteId = leaves[random(leaves.length)] as string;
      const kind = random(10);
      const firstSeen = start + random(5 * 365) * DAY;
      const lastSeen = o.now - random(48) * HOUR;
      registerDevice(db, { id, secret: simSecret(id), siteId, model: 'scale-kiosk', status: 'registered', now: start });
      if (kind === 8) continue;
      data.connected(id, firstSeen);
      if (kind !== 7) data.sync(id, { manifestSeq: i % 20, state: 'applied', bytes: 0, missing: 0 }, firstSeen + HOUR);
      data.touch(id, lastSeen);
      if (i % 3 !== 0) data.offline(id);
      if (kind === 9) decommissionDevice(db, id, firstSeen + 200 * DAY);
    }
  })();
  db.pragma('optimize');
  return { sites: sites.length, devices: deviceCount };
}

/** The coverage plan both benches time (its site ids carry the fleet's prefix). */
export function scalePlan(prefix = ''): Plan {
  const target = (id: string, phase: string, deadline: string, label: string, scope: object, required: object) => ({
    id,
    phase,
    deadline,
    label,
    scope,
    required,
  });
  return {
    id: 'bench-plan',
    province: 'Bench',
    document: '1/KH-BENCH',
    issued: '2020-12-24',
    title: 'Benchmark plan',
    targets: [
      target('p1-communes', '2020-2025', '2025-12-31', '50% xã', { kind: 'commune', border: true }, { share: 0.5 }),
      target('p1-districts', '2020-2025', '2025-12-31', '50% huyện', { kind: 'district', border: true }, { share: 0.5 }),
      target('p1-stations', '2020-2025', '2025-12-31', 'đồn', { kind: 'station' }, { count: 1000 }),
      target('p1-gate', '2020-2025', '2025-12-31', 'cửa khẩu', { sites: [`${prefix}s1`] }, { share: 1 }),
      target('p2-communes', '2025-2030', '2030-12-31', '100% xã', { kind: 'commune', border: true }, { share: 1 }),
      target('p2-districts', '2025-2030', '2030-12-31', '100% huyện', { kind: 'district', border: true }, { share: 1 }),
      target('p2-gates', '2025-2030', '2030-12-31', 'cửa khẩu', { kind: 'gate' }, { share: 1 }),
    ],
  } as Plan;
}
