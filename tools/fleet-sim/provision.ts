/**
 * Registers simulated devices straight in the server's database, as enrollment would (tools may import
 * server/). Secrets derive from the device id and a fleet key, so a load-generator process can rebuild
 * them from ids alone instead of receiving thousands over IPC.
 */
import { createHmac } from 'node:crypto';
import type { DeviceStatus } from '../../protocol/index.js';
import type { Database } from '../../server/db/open-database.js';
import { getDeviceRow, registerDevice } from '../../server/registry/devices-repo.js';
import { listSites } from '../../server/registry/sites-repo.js';

export const DEFAULT_FLEET_KEY = 'fleet-sim';

export interface SimCredentials {
  id: string;
  secret: string;
  siteId: string | null;
}

export function simSecret(id: string, fleetKey = DEFAULT_FLEET_KEY): string {
  return createHmac('sha256', fleetKey).update(id).digest('base64url');
}

export function simDeviceId(prefix: string, index: number): string {
  return `${prefix}-${String(index).padStart(5, '0')}`;
}

export interface RegisterFleetOptions {
  count: number;
  prefix?: string;
  fleetKey?: string;
  /** Sites to spread the devices over (round robin); default: every site of the registry. */
  siteIds?: string[];
  /** Registry status of new devices (default `provisioned`, as enrollment leaves them). */
  status?: DeviceStatus;
}

/** Registers `count` devices in one transaction; ids already present are left alone (re-runs add nothing). */
export function registerFleet(db: Database, o: RegisterFleetOptions): SimCredentials[] {
  const prefix = o.prefix ?? 'sim';
  const sites = o.siteIds ?? listSites(db).map((s) => s.id);
  const out: SimCredentials[] = [];
  db.transaction(() => {
    for (let i = 0; i < o.count; i++) {
      const id = simDeviceId(prefix, i);
      const siteId = sites.length > 0 ? (sites[i % sites.length] as string) : null;
      const secret = simSecret(id, o.fleetKey);
      if (getDeviceRow(db, id) === null)
        registerDevice(db, {
          id,
          secret,
          siteId,
          model: 'sim-kiosk',
          serial: `SIM${i}`,
          ...(o.status ? { status: o.status } : {}),
        });
      out.push({ id, secret, siteId });
    }
  })();
  return out;
}
