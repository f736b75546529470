/**
 * Which kiosks a target reaches (DESIGN §7): the one definition of the rule, read by content distribution (a
 * device's manifest, an item's holders) and by release rollouts (server/releases/). A target is `all`, a site kind
 * (the kind of the device's own site) or a site and everything under it (a district reaches its communes, stations
 * and gates). Decommissioned devices are never reached.
 */
import type { Database } from '../db/open-database.js';
import type { Target } from './library-schemas.js';

export interface SiteNode {
  kind: string;
  parentId: string | null;
}

/** A device's site seen from the targets: its own kind and the site with every unit above it. */
export interface SiteChain {
  chain: Set<string>;
  kind: string | null;
}

export interface DeviceSite {
  deviceId: string;
  siteId: string | null;
}

/** A lookup of one site in the registry (one prepared statement). */
export function siteLookup(db: Database): (siteId: string) => SiteNode | undefined {
  const lookup = db.prepare('SELECT kind, parent_id AS parentId FROM sites WHERE id = ?');
  return (siteId) => lookup.get(siteId) as SiteNode | undefined;
}

/** The site and every unit above it (bounded: a cycle in the registry must not loop). */
export function siteChain(siteId: string | null, node: (siteId: string) => SiteNode | undefined): SiteChain {
  const chain = new Set<string>();
  let kind: string | null = null;
  let current = siteId;
  for (let depth = 0; current !== null && depth < 32 && !chain.has(current); depth++) {
    const found = node(current);
    if (!found) break;
    if (kind === null) kind = found.kind;
    chain.add(current);
    current = found.parentId;
  }
  return { chain, kind };
}

/** Whether any of the targets reaches a device at this site. */
export function matchesTargets(targets: readonly Target[], site: SiteChain): boolean {
  return targets.some((target) => {
    if (target.scope === 'site_kind') return site.kind === target.kind;
    if (target.scope === 'site') return site.chain.has(target.siteId);
    return true;
  });
}

/** The devices (not decommissioned) whose site the targets reach, by id. */
export function targetedDevices(db: Database, targets: readonly Target[]): DeviceSite[] {
  if (targets.length === 0) return [];
  const sites = new Map(
    (db.prepare('SELECT id, kind, parent_id AS parentId FROM sites').all() as Array<SiteNode & { id: string }>).map((s) => [
      s.id,
      s,
    ]),
  );
  const devices = db
    .prepare(`SELECT id AS deviceId, site_id AS siteId FROM devices WHERE status <> 'decommissioned' ORDER BY id`)
    .all() as DeviceSite[];
  return devices.filter((device) =>
    matchesTargets(
      targets,
      siteChain(device.siteId, (id) => sites.get(id)),
    ),
  );
}
