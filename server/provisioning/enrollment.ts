/**
 * Enrollment tokens and `POST /api/v1/enroll` (DESIGN §6). A token is bound to one site and one device kind,
 * used once, expires; only its hash is stored. Enrollment is one transaction: the token is consumed if and
 * only if the device is created.
 */
import type { DeviceFacts, DeviceKind, EnrollResponse } from '../../protocol/index.js';
import { enrollmentKeys } from '../content/index.js';
import type { Database } from '../db/open-database.js';
import { hashDeviceSecret, newDeviceSecret } from '../registry/device-secret.js';
import { getDeviceRow, registerDevice } from '../registry/devices-repo.js';
import { getSite } from '../registry/sites-repo.js';
import { conflict, gone, notFound, unauthorized } from './errors.js';
import { hashToken, newId, newToken } from './secrets.js';

/** Where enrolled devices are sent and the key their manifests are signed with. */
export interface EnrollmentEndpoints {
  apiUrl: string;
  mqttUrl: string;
  /**
   * Ed25519 public key, SPKI PEM. Replaced at enrollment by the keyring's current signing key (and its root added)
   * once the content part has opened the keyring (DESIGN §7); this value stands only where it has not.
   */
  manifestKey: string;
  /** The CA the device pins for MQTT over TLS and HTTPS, and its SHA-256 fingerprint (docs/deployment.md). */
  caPem?: string;
  caFingerprint?: string;
}

export interface CreatedToken {
  id: string;
  token: string;
  siteId: string;
  kind: DeviceKind;
  expiresAt: string;
}

interface TokenRow {
  id: string;
  revoked_at?: number | null;
  site_id: string;
  kind: DeviceKind;
  expires_at: number;
  used_at: number | null;
  device_id: string | null;
}

export function createEnrollmentTokens(
  db: Database,
  input: { siteId: string; kind: DeviceKind; ttlHours: number; count: number; createdBy: string; now: number },
): CreatedToken[] {
  if (!getSite(db, input.siteId)) throw notFound('site_unknown', `site '${input.siteId}' does not exist`);
  const expiresAt = input.now + input.ttlHours * 3_600_000;
  const insert = db.prepare(
    `INSERT INTO enrollment_tokens (id, token_hash, site_id, kind, created_by, created_at, expires_at)
     VALUES (?, ?, ?, ?, ?, ?, ?)`,
  );
  return db.transaction(() =>
    Array.from({ length: input.count }, () => {
      const token = newToken();
      const id = newId('et');
      insert.run(id, hashToken(token), input.siteId, input.kind, input.createdBy, input.now, expiresAt);
      return { id, token, siteId: input.siteId, kind: input.kind, expiresAt: new Date(expiresAt).toISOString() };
    }),
  )();
}

export interface TokenInfo {
  id: string;
  siteId: string;
  kind: DeviceKind;
  createdBy: string;
  createdAt: string;
  expiresAt: string;
  state: 'unused' | 'used' | 'expired' | 'revoked';
  usedAt: string | null;
  deviceId: string | null;
}

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

/** Tokens without their secret (it was shown once), newest first. */
export function listEnrollmentTokens(
  db: Database,
  filter: { siteId?: string | undefined; limit: number },
  now: number,
): TokenInfo[] {
  const rows = db
    .prepare(
      `SELECT * FROM enrollment_tokens WHERE (@siteId IS NULL OR site_id = @siteId) ORDER BY created_at DESC, id LIMIT @limit`,
    )
    .all({ siteId: filter.siteId ?? null, limit: filter.limit }) as Array<
    TokenRow & { created_by: string; created_at: number; revoked_at: number | null }
  >;
  return rows.map((r) => ({
    id: r.id,
    siteId: r.site_id,
    kind: r.kind,
    createdBy: r.created_by,
    createdAt: iso(r.created_at) as string,
    expiresAt: iso(r.expires_at) as string,
    state: r.used_at !== null ? 'used' : r.revoked_at !== null ? 'revoked' : r.expires_at <= now ? 'expired' : 'unused',
    usedAt: iso(r.used_at),
    deviceId: r.device_id,
  }));
}

/** A token lost or given to the wrong person: expire it now. Returns false when unknown; refuses a used one. */
export function revokeEnrollmentToken(db: Database, id: string, now: number): boolean {
  const row = db.prepare('SELECT used_at FROM enrollment_tokens WHERE id = ?').get(id) as { used_at: number | null } | undefined;
  if (!row) return false;
  if (row.used_at !== null)
    throw conflict('enrollment_token_used', `enrollment token ${id} was already used; revoke the device instead`);
  db.prepare(
    'UPDATE enrollment_tokens SET revoked_at = coalesce(revoked_at, ?), expires_at = min(expires_at, ?) WHERE id = ?',
  ).run(now, now, id);
  return true;
}

/** Whether a token can still be used (the QR of a used or expired token is no longer served). */
export function isTokenUsable(db: Database, id: string, now: number): boolean {
  const row = db.prepare('SELECT used_at, expires_at FROM enrollment_tokens WHERE id = ?').get(id) as
    | Pick<TokenRow, 'used_at' | 'expires_at'>
    | undefined;
  return !!row && row.used_at === null && row.expires_at > now;
}

/** A fresh device id that is not taken (40 random bits: a collision is rare, but must not become a 500). */
export function freshDeviceId(db: Database, kind: DeviceKind): string {
  for (let attempt = 0; attempt < 5; attempt++) {
    const id = newId(kind);
    if (!getDeviceRow(db, id)) return id;
  }
  throw new Error('could not find a free device id');
}

/**
 * Creates the device a site's token or claimed pairing admits. A device the inventory import registered with
 * the same serial at the same site (status `registered`, never enrolled) is adopted instead of duplicated;
 * one registered at another site is refused, because the token is for the wrong place.
 */
export function admitDevice(
  db: Database,
  input: { siteId: string; kind: DeviceKind; facts: DeviceFacts; deviceId?: string; now: number },
  endpoints: EnrollmentEndpoints,
): EnrollResponse {
  const secret = newDeviceSecret();
  const inventory = input.facts.serial
    ? (db
        .prepare(`SELECT id, site_id, kind FROM devices WHERE serial = ? AND status = 'registered' ORDER BY created_at LIMIT 1`)
        .get(input.facts.serial) as { id: string; site_id: string | null; kind: DeviceKind } | undefined)
    : undefined;
  let deviceId: string;
  if (inventory && inventory.site_id !== input.siteId) {
    throw conflict(
      'enrollment_token_other_site',
      `device with serial '${input.facts.serial}' is registered at site '${inventory.site_id}', but this token is for site '${input.siteId}'`,
    );
  }
  if (inventory) {
    if (inventory.kind !== input.kind)
      throw conflict(
        'enrollment_kind_mismatch',
        `device with serial '${input.facts.serial}' is registered as a ${inventory.kind}, but this token is for a ${input.kind}`,
      );
    deviceId = inventory.id;
    const secretHash = hashDeviceSecret(secret);
    db.prepare(`UPDATE devices SET secret_hash = ?, status = 'provisioned', model = coalesce(?, model) WHERE id = ?`).run(
      secretHash,
      input.facts.model || null,
      deviceId,
    );
  } else {
    deviceId = input.deviceId ?? freshDeviceId(db, input.kind);
    registerDevice(db, {
      id: deviceId,
      secret,
      siteId: input.siteId,
      kind: input.kind,
      model: input.facts.model || null,
      serial: input.facts.serial || null,
      status: 'provisioned',
      now: input.now,
    });
  }
  // The keys in force now, not at start-up: a rotation changes the signing key handed to the next kiosk.
  return { deviceId, secret, siteId: input.siteId, ...endpoints, ...(enrollmentKeys(db) ?? {}) };
}

export function enrollWithToken(
  db: Database,
  input: { token: string; facts: DeviceFacts; now: number },
  endpoints: EnrollmentEndpoints,
): { enrollment: EnrollResponse; tokenId: string } {
  // IMMEDIATE: two kiosks racing with the same token cannot both read it as unused.
  return db
    .transaction(() => {
      const row = db
        .prepare(
          'SELECT id, site_id, kind, expires_at, used_at, device_id, revoked_at FROM enrollment_tokens WHERE token_hash = ?',
        )
        .get(hashToken(input.token)) as TokenRow | undefined;
      if (!row) throw unauthorized('enrollment_token_unknown', 'enrollment token is unknown (mistyped or never issued)');
      if (row.used_at !== null)
        throw conflict(
          'enrollment_token_used',
          `enrollment token ${row.id} was already used on ${new Date(row.used_at).toISOString()} (device ${row.device_id}); ask for a new token`,
        );
      if (row.revoked_at)
        throw unauthorized('enrollment_token_revoked', `enrollment token ${row.id} was revoked; ask for a new token`);
      if (row.expires_at <= input.now)
        throw gone(
          'enrollment_token_expired',
          `enrollment token ${row.id} expired on ${new Date(row.expires_at).toISOString()}; ask for a new token`,
        );
      const enrollment = admitDevice(db, { siteId: row.site_id, kind: row.kind, facts: input.facts, now: input.now }, endpoints);
      db.prepare('UPDATE enrollment_tokens SET used_at = ?, device_id = ? WHERE id = ?').run(
        input.now,
        enrollment.deviceId,
        row.id,
      );
      return { enrollment, tokenId: row.id };
    })
    .immediate();
}
