/**
 * The demo's fleet on the seeded Gia Lai sites (server/seed/gia-lai-border-sites.csv): 3 of 7 border communes
 * equipped (Ia Dom, Ia O, Ia Púch: phase 1's "50% of border communes" needs 4, so it shows as not met), 6 of 8
 * border-guard stations, the Lệ Thanh gate, and a former district office. Equipment dates are spread over
 * 2024–2026 so the trend chart has a history; a few kiosks are offline, two have full disks, one has a wrong
 * clock, one is installed but has not applied content yet, one is registered but not installed.
 */
import type { Database } from '../../server/db/open-database.js';
import { createDeviceDataRepo } from '../../server/ingest/device-data-repo.js';
import { getDeviceRow, registerDevice } from '../../server/registry/devices-repo.js';
import type { FleetDevice } from '../fleet-sim/fleet.js';
import { simSecret } from '../fleet-sim/provision.js';

export const DEMO_FLEET_KEY = 'border-kiosk-demo';

interface DemoDevice {
  id: string;
  siteId: string;
  kind: 'kiosk' | 'display' | 'pc';
  model: string;
  /** First applied content (local date); null = not counted yet. */
  equipped: string | null;
  /** registered: enrolled but never installed (never connects). */
  state: 'reporting' | 'offline' | 'registered';
  /** Hours since it was last heard of, for an offline one. */
  silentHours?: number;
  diskFull?: boolean;
  clockSkewMs?: number;
}

export const DEMO_DEVICES: DemoDevice[] = [
  // Communes: 3 of 7 equipped.
  {
    id: 'kiosk-iadom-ubnd',
    siteId: 'gl-c-iadom',
    kind: 'kiosk',
    model: 'Kiosk 32" Android-x86',
    equipped: '2024-05-14',
    state: 'reporting',
  },
  {
    id: 'kiosk-iadom-market',
    siteId: 'gl-c-iadom',
    kind: 'kiosk',
    model: 'Kiosk 43"',
    equipped: '2025-09-02',
    state: 'reporting',
  },
  { id: 'kiosk-iao-ubnd', siteId: 'gl-c-iao', kind: 'kiosk', model: 'Kiosk 32"', equipped: '2025-03-20', state: 'reporting' },
  {
    id: 'kiosk-iapuch-ubnd',
    siteId: 'gl-c-iapuch',
    kind: 'kiosk',
    model: 'Kiosk 32"',
    equipped: '2025-11-18',
    state: 'offline',
    silentHours: 30,
  },
  // Installed and online in Ia Pnôn but no content applied yet: does not count (DESIGN §4).
  { id: 'kiosk-iapnon-ubnd', siteId: 'gl-c-iapnon', kind: 'kiosk', model: 'Kiosk 32"', equipped: null, state: 'reporting' },
  // Enrolled for Ia Nan, waiting for the technician's visit.
  { id: 'kiosk-ianan-ubnd', siteId: 'gl-c-ianan', kind: 'kiosk', model: 'Kiosk 32"', equipped: null, state: 'registered' },
  // Border-guard stations: 6 of 8.
  {
    id: 'pc-station-lethanh',
    siteId: 'gl-s-lethanh',
    kind: 'pc',
    model: 'Mini PC + TV',
    equipped: '2024-01-22',
    state: 'reporting',
  },
  { id: 'kiosk-station-iao', siteId: 'gl-s-iao', kind: 'kiosk', model: 'Kiosk 32"', equipped: '2024-03-11', state: 'reporting' },
  {
    id: 'kiosk-station-iachia',
    siteId: 'gl-s-iachia',
    kind: 'kiosk',
    model: 'Kiosk 32"',
    equipped: '2024-08-05',
    state: 'reporting',
    clockSkewMs: 2 * 3_600_000,
  },
  {
    id: 'kiosk-station-ianan',
    siteId: 'gl-s-ianan',
    kind: 'kiosk',
    model: 'Kiosk 32"',
    equipped: '2025-01-15',
    state: 'reporting',
    diskFull: true,
  },
  {
    id: 'kiosk-station-iamo',
    siteId: 'gl-s-iamo',
    kind: 'kiosk',
    model: 'Kiosk 43"',
    equipped: '2025-06-10',
    state: 'reporting',
  },
  {
    id: 'kiosk-station-ialop',
    siteId: 'gl-s-ialop',
    kind: 'kiosk',
    model: 'Kiosk 32"',
    equipped: '2026-02-03',
    state: 'offline',
    silentHours: 72,
  },
  // The Lệ Thanh international gate.
  {
    id: 'kiosk-gate-lethanh',
    siteId: 'gl-g-lethanh',
    kind: 'kiosk',
    model: 'Kiosk 55" outdoor',
    equipped: '2024-01-09',
    state: 'reporting',
  },
  {
    id: 'display-gate-lethanh',
    siteId: 'gl-g-lethanh',
    kind: 'display',
    model: 'LED wall',
    equipped: '2024-02-27',
    state: 'reporting',
    diskFull: true,
  },
  // A former district office (the district level was abolished on 2025-07-01).
  { id: 'pc-district-ducco', siteId: 'gl-d-ducco', kind: 'pc', model: 'Office PC', equipped: '2024-10-01', state: 'reporting' },
];

/** Noon in Gia Lai (UTC+7) of a YYYY-MM-DD date, as ms. */
const localNoon = (day: string) => Date.parse(`${day}T12:00:00+07:00`);

/**
 * Registers the demo devices that are not there yet and writes their history (when each was installed and
 * first applied content); devices already present are left as they are, so a second run adds nothing.
 */
export function ensureDemoFleet(db: Database, now = Date.now()): { added: number; devices: FleetDevice[] } {
  // Their history through what the server itself records: the connect, the applied content, the last sign of life.
  const data = createDeviceDataRepo(db);
  let added = 0;
  db.transaction(() => {
    for (const d of DEMO_DEVICES) {
      if (getDeviceRow(db, d.id) !== null) continue;
      added++;
      registerDevice(db, {
        id: d.id,
        secret: simSecret(d.id, DEMO_FLEET_KEY),
        siteId: d.siteId,
        kind: d.kind,
        model: d.model,
        serial: `GL-${d.id.toUpperCase()}`,
        status: d.state === 'registered' ? 'registered' : 'provisioned',
        now: d.equipped ? localNoon(d.equipped) - 86_400_000 : now,
      });
      if (d.state === 'registered') continue;
      const installed = d.equipped ? localNoon(d.equipped) - 3_600_000 : now - 2 * 86_400_000;
      const lastSeen = now - (d.silentHours ?? 0) * 3_600_000;
      data.connected(d.id, installed);
      if (d.equipped) data.sync(d.id, { manifestSeq: 1, state: 'applied', bytes: 0, missing: 0 }, localNoon(d.equipped));
      data.status(d.id, { online: false, ts: lastSeen, agentVersion: '0.1.0', bootId: `demo-${d.id}` }, lastSeen);
    }
  })();
  const devices = DEMO_DEVICES.filter((d) => d.state === 'reporting').map((d) => ({
    id: d.id,
    secret: simSecret(d.id, DEMO_FLEET_KEY),
    ...(d.diskFull ? { diskFull: true } : {}),
    ...(d.clockSkewMs ? { clockSkewMs: d.clockSkewMs } : {}),
  }));
  return { added, devices };
}
