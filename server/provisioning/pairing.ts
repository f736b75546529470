/**
 * Pairing without typing a token: the agent asks for a short code and shows it; a person claims the code and
 * picks the site; the agent's next poll receives its enrollment, once. The device row (and its secret) is
 * created at that poll, so no plain secret is ever stored while waiting.
 */
import type { DeviceFacts, DeviceKind, EnrollResponse, PairingPoll, PairingStarted } from '../../protocol/index.js';
import type { Database } from '../db/open-database.js';
import { getSite } from '../registry/sites-repo.js';
import { admitDevice, type EnrollmentEndpoints, freshDeviceId } from './enrollment.js';
import { conflict, gone, notFound } from './errors.js';
import { hashToken, newId, newPairingCode, newToken, normalizePairingCode } from './secrets.js';

export const PAIRING_TTL_MS = 15 * 60_000;

interface PairingRow {
  id: string;
  kind: DeviceKind;
  facts: string;
  expires_at: number;
  claimed_at: number | null;
  claimed_by: string | null;
  site_id: string | null;
  device_id: string | null;
  delivered_at: number | null;
}

export function startPairing(db: Database, input: { facts: DeviceFacts; kind: DeviceKind; now: number }): PairingStarted {
  const expiresAt = input.now + PAIRING_TTL_MS;
  const live = db.prepare('SELECT 1 FROM pairings WHERE code_hash = ? AND expires_at > ? AND claimed_at IS NULL');
  return db
    .transaction(() => {
      // A code must be unique among the live ones; 31^6 ≈ 887 million codes, so a few tries always suffice.
      let code = newPairingCode();
      for (let i = 0; i < 10 && live.get(hashToken(code), input.now); i++) code = newPairingCode();
      const pollToken = newToken();
      db.prepare(
        `INSERT INTO pairings (id, code_hash, poll_hash, kind, facts, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?)`,
      ).run(newId('pr'), hashToken(code), hashToken(pollToken), input.kind, JSON.stringify(input.facts), input.now, expiresAt);
      return { code, pollToken, expiresAt: new Date(expiresAt).toISOString() };
    })
    .immediate();
}

export interface ClaimedPairing {
  pairingId: string;
  code: string;
  siteId: string;
  kind: DeviceKind;
  deviceId: string;
  facts: DeviceFacts;
}

export function claimPairing(
  db: Database,
  input: { code: string; siteId: string; kind?: DeviceKind | undefined; claimedBy: string; now: number },
): ClaimedPairing {
  const code = normalizePairingCode(input.code);
  return db
    .transaction(() => {
      // The newest pairing with this code: an old expired one may share it.
      const row = db
        .prepare('SELECT * FROM pairings WHERE code_hash = ? ORDER BY created_at DESC LIMIT 1')
        .get(hashToken(code)) as PairingRow | undefined;
      if (!row) throw notFound('pairing_code_unknown', `pairing code '${code}' is unknown (check the code on the kiosk screen)`);
      if (row.claimed_at !== null)
        throw conflict(
          'pairing_code_claimed',
          `pairing code '${code}' was already claimed by ${row.claimed_by} on ${new Date(row.claimed_at).toISOString()} (site ${row.site_id})`,
        );
      if (row.expires_at <= input.now)
        throw gone('pairing_code_expired', `pairing code '${code}' expired; restart pairing on the kiosk to get a new code`);
      if (!getSite(db, input.siteId)) throw notFound('site_unknown', `site '${input.siteId}' does not exist`);
      const kind = input.kind ?? row.kind;
      const deviceId = freshDeviceId(db, kind);
      db.prepare('UPDATE pairings SET claimed_at = ?, claimed_by = ?, site_id = ?, kind = ?, device_id = ? WHERE id = ?').run(
        input.now,
        input.claimedBy,
        input.siteId,
        kind,
        deviceId,
        row.id,
      );
      return { pairingId: row.id, code, siteId: input.siteId, kind, deviceId, facts: JSON.parse(row.facts) as DeviceFacts };
    })
    .immediate();
}

/** Pending until claimed; then the enrollment exactly once; afterwards the poll token is spent. */
export function pollPairing(
  db: Database,
  input: { pollToken: string; now: number },
  endpoints: EnrollmentEndpoints,
): { poll: PairingPoll; delivered?: EnrollResponse } {
  return db
    .transaction(() => {
      const row = db.prepare('SELECT * FROM pairings WHERE poll_hash = ?').get(hashToken(input.pollToken)) as
        | PairingRow
        | undefined;
      if (!row) throw notFound('pairing_unknown', 'pairing is unknown; start pairing again');
      if (row.delivered_at !== null)
        throw gone('pairing_delivered', 'this pairing was already delivered to the device; start pairing again to re-enroll');
      if (row.claimed_at === null) {
        if (row.expires_at <= input.now) throw gone('pairing_code_expired', 'pairing code expired before anyone claimed it');
        return { poll: { state: 'pending', expiresAt: new Date(row.expires_at).toISOString() } as const };
      }
      const enrollment = admitDevice(
        db,
        {
          siteId: row.site_id as string,
          kind: row.kind,
          facts: JSON.parse(row.facts) as DeviceFacts,
          deviceId: row.device_id as string,
          now: input.now,
        },
        endpoints,
      );
      db.prepare('UPDATE pairings SET delivered_at = ?, device_id = ? WHERE id = ?').run(input.now, enrollment.deviceId, row.id);
      return { poll: { state: 'claimed', enrollment } as const, delivered: enrollment };
    })
    .immediate();
}
