/**
 * `POST /api/v1/devices/import`: the inventory (serial, model, kind, site) before anything is installed.
 * Each row becomes a device in status `registered` (no secret: it cannot connect until it enrolls, and
 * enrollment adopts it by serial). A serial already known is updated while the device is still only
 * registered; an enrolled device is not moved by a spreadsheet.
 */
import { DeviceKind } from '../../protocol/index.js';
import type { Database } from '../db/open-database.js';
import { getSite } from '../registry/sites-repo.js';
import { readCsv, requireColumns } from './csv.js';
import { freshDeviceId } from './enrollment.js';
import { finishReport, type ImportReport, type ImportRow, type PlannedRow, shapeProblem, toRecord } from './import-report.js';

export const DEVICE_REQUIRED_COLUMNS = ['serial', 'model', 'kind', 'site'] as const;

interface InventoryRow {
  /** Existing device id when updating. */
  existingId: string | null;
  serial: string;
  model: string | null;
  kind: DeviceKind;
  siteId: string;
}

interface ExistingDevice {
  id: string;
  site_id: string | null;
  kind: DeviceKind;
  status: string;
}

export function importDevices(db: Database, bytes: Uint8Array, options: { atomic: boolean; now: number }): ImportReport {
  const csv = readCsv(bytes);
  requireColumns(csv.header, DEVICE_REQUIRED_COLUMNS);
  const bySerial = db.prepare(
    `SELECT id, site_id, kind, status FROM devices WHERE serial = ? AND status != 'decommissioned' ORDER BY created_at LIMIT 1`,
  );
  const rejected: ImportRow[] = [];
  const planned: PlannedRow<InventoryRow>[] = [];
  const firstLine = new Map<string, number>();

  for (const { line, fields } of csv.records) {
    const record = toRecord(csv.header, fields, false);
    const serial = record.serial ?? '';
    const reject = (reason: string) => rejected.push({ line, id: serial || null, action: 'rejected', reason });
    const shape = shapeProblem(csv.header, fields, false);
    if (shape) {
      reject(shape);
      continue;
    }
    if (!serial) {
      reject('serial is empty');
      continue;
    }
    if (serial.length > 200) {
      reject('serial is longer than 200 characters');
      continue;
    }
    const seen = firstLine.get(serial);
    if (seen !== undefined) {
      reject(`duplicate serial '${serial}' (first on line ${seen})`);
      continue;
    }
    firstLine.set(serial, line);
    const kind = DeviceKind.safeParse(record.kind);
    if (!kind.success) {
      reject(`invalid kind '${record.kind ?? ''}': must be one of ${DeviceKind.options.join(', ')}`);
      continue;
    }
    const siteId = record.site ?? '';
    if (!siteId || !getSite(db, siteId)) {
      reject(siteId ? `unknown site '${siteId}'` : 'site is empty');
      continue;
    }
    const existing = bySerial.get(serial) as ExistingDevice | undefined;
    if (existing && existing.status !== 'registered' && (existing.site_id !== siteId || existing.kind !== kind.data)) {
      reject(
        `serial '${serial}' is already enrolled as device ${existing.id} (${existing.status}, ${existing.kind} at site ` +
          `'${existing.site_id}'); decommission it before moving it`,
      );
      continue;
    }
    planned.push({
      line,
      id: existing?.id ?? serial,
      action: existing ? 'updated' : 'created',
      value: { existingId: existing?.id ?? null, serial, model: record.model || null, kind: kind.data, siteId },
    });
  }

  return finishReport(planned, rejected, options.atomic, (rows) => {
    const update = db.prepare('UPDATE devices SET model = coalesce(?, model), kind = ?, site_id = ? WHERE id = ?');
    const insert = db.prepare(
      `INSERT INTO devices (id, site_id, kind, model, serial, status, created_at) VALUES (?, ?, ?, ?, ?, 'registered', ?)`,
    );
    db.transaction(() => {
      for (const row of rows) {
        const v = row.value;
        if (v.existingId) update.run(v.model, v.kind, v.siteId, v.existingId);
        else {
          const id = freshDeviceId(db, v.kind);
          insert.run(id, v.siteId, v.kind, v.model, v.serial, options.now);
          row.id = id;
        }
      }
    })();
  });
}
