/** Plans and the rows the coverage engine reads. The coverage module's SQL lives here and nowhere else. */
import type { DeviceStatus, SiteKind } from '../../protocol/index.js';
import type { Database } from '../db/open-database.js';
import type { FleetDevice } from './communes.js';
import type { CoverageDevice, CoverageSite } from './engine.js';
import { checkPlanSites, type Plan, type PlanSummary, parsePlan, type SiteRef, summarizePlan } from './plan.js';

interface SiteRow {
  id: string;
  kind: SiteKind;
  name: string;
  parent_id: string | null;
  border: number;
  admin_code: string | null;
  valid_from: string | null;
  valid_to: string | null;
}

export function readCoverageSites(db: Database): CoverageSite[] {
  const rows = db
    .prepare('SELECT id, kind, name, parent_id, border, admin_code, valid_from, valid_to FROM sites')
    .all() as SiteRow[];
  return rows.map((r) => ({
    id: r.id,
    kind: r.kind,
    name: r.name,
    parentId: r.parent_id,
    border: r.border === 1,
    adminCode: r.admin_code,
    validFrom: r.valid_from,
    validTo: r.valid_to,
  }));
}

type CountingRow = [string, DeviceStatus, number, number, number | null, number | null];

/** Only the devices that can count (connected and applied a manifest), read from the covering index. */
export function readCountingDevices(db: Database): CoverageDevice[] {
  const rows = db
    .prepare(
      `SELECT site_id, status, first_seen, equipped_at, decommissioned_at, last_seen FROM devices INDEXED BY devices_coverage
       WHERE first_seen IS NOT NULL AND equipped_at IS NOT NULL AND site_id IS NOT NULL`,
    )
    .raw()
    .all() as CountingRow[];
  // The engine needs no device id to count; the site is what matters.
  return rows.map(([siteId, status, firstSeen, equippedAt, decommissionedAt, lastSeen]) => ({
    id: '',
    siteId,
    status,
    firstSeen,
    equippedAt,
    decommissionedAt,
    lastSeen,
  }));
}

type FleetRow = [
  string,
  string,
  DeviceStatus,
  number | null,
  number | null,
  number | null,
  number | null,
  number | null,
  string | null,
];

/** Every device placed at a site, with its content seq and last sync state: the communes table's input. */
export function readFleetDevices(db: Database): FleetDevice[] {
  const rows = db
    .prepare(
      `SELECT d.id, d.site_id, d.status, d.first_seen, d.equipped_at, d.decommissioned_at, d.last_seen, d.content_seq, s.state
       FROM devices d LEFT JOIN device_sync s ON s.device_id = d.id
       WHERE d.site_id IS NOT NULL`,
    )
    .raw()
    .all() as FleetRow[];
  return rows.map(([id, siteId, status, firstSeen, equippedAt, decommissionedAt, lastSeen, contentSeq, syncState]) => ({
    id,
    siteId,
    status,
    firstSeen,
    equippedAt,
    decommissionedAt,
    lastSeen,
    contentSeq,
    syncState,
  }));
}

/** A stored plan; a definition that no longer passes the schema is reported, not served half-valid. */
export function getPlan(db: Database, id: string): Plan | null {
  const row = db.prepare('SELECT definition FROM plans WHERE id = ?').get(id) as { definition: string } | undefined;
  if (!row) return null;
  return parsePlan(JSON.parse(row.definition));
}

export function listPlans(db: Database): (PlanSummary & { targets: number; loadedAt: number })[] {
  const rows = db.prepare('SELECT definition, loaded_at FROM plans ORDER BY id').all() as {
    definition: string;
    loaded_at: number;
  }[];
  return rows.map((row) => {
    const plan = parsePlan(JSON.parse(row.definition));
    return { ...summarizePlan(plan), targets: plan.targets.length, loadedAt: row.loaded_at };
  });
}

/**
 * Validates a plan (shape, and every site it names against the registry) and stores it, replacing one
 * with the same id. Returns the plan and whether it replaced an earlier version.
 */
export function savePlan(db: Database, input: unknown, now: number): { plan: Plan; replaced: boolean } {
  const plan = parsePlan(input);
  const lookupStmt = db.prepare('SELECT id, parent_id, valid_from, valid_to FROM sites WHERE id = ?');
  const lookup = (id: string): SiteRef | undefined => {
    const row = lookupStmt.get(id) as
      | { id: string; parent_id: string | null; valid_from: string | null; valid_to: string | null }
      | undefined;
    return row && { id: row.id, parentId: row.parent_id, validFrom: row.valid_from, validTo: row.valid_to };
  };
  return db.transaction(() => {
    checkPlanSites(plan, lookup);
    const replaced = db.prepare('SELECT 1 FROM plans WHERE id = ?').get(plan.id) !== undefined;
    db.prepare(
      `INSERT INTO plans (id, definition, loaded_at) VALUES (?, ?, ?)
       ON CONFLICT(id) DO UPDATE SET definition = excluded.definition, loaded_at = excluded.loaded_at`,
    ).run(plan.id, JSON.stringify(plan), now);
    return { plan, replaced };
  })();
}
