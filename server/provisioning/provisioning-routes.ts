/**
 * Provisioning's HTTP API (DESIGN §6), mounted at `/api/v1`: enrollment tokens and their QR, enrollment,
 * pairing, and the site and inventory CSV imports.
 */
import { getConnInfo } from '@hono/node-server/conninfo';
import { type Context, Hono } from 'hono';
import { z } from 'zod';
import {
  type EnrollmentTokensCreated,
  EnrollmentTokensRequest,
  EnrollRequest,
  Id,
  type PairingClaimed,
  PairingClaimRequest,
  PairingRequest,
  type Role,
} from '../../protocol/index.js';
import { PayloadTooLargeError } from '../errors.js';
import { bodyLimit } from '../http/body-limit.js';
import type { RouteDeps } from '../http/route-deps.js';
import { json, query } from '../http/validate.js';
import { MAX_CSV_BYTES } from './csv.js';
import { importDevices } from './devices-import.js';
import {
  createEnrollmentTokens,
  type EnrollmentEndpoints,
  enrollWithToken,
  isTokenUsable,
  listEnrollmentTokens,
  revokeEnrollmentToken,
} from './enrollment.js';
import { notFound } from './errors.js';
import { claimPairing, pollPairing, startPairing } from './pairing.js';
import { enrollmentLink, QrCache, renderQrPng, renderQrSvg } from './qr-cache.js';
import { RateLimiter, type RateLimitOptions, rateLimit } from './rate-limit.js';
import { importSites } from './sites-import.js';

/** The part of `c.var.user` provisioning needs (set by the core's `requireRole`). */
export type ProvisioningEnv = { Variables: { user: { username: string; role: Role } } };

/** The server's route deps provisioning uses, plus the manifest public key handed to enrolled devices. */
export type ProvisioningDeps = Pick<RouteDeps, 'db' | 'log' | 'auth' | 'audit' | 'urls'> & {
  /** Ed25519 public key (SPKI PEM) of the manifest signing key: `loadOrCreateSigningKeys(DATA_DIR).publicKeyPem`. */
  manifestKey: string;
  limits?: { enroll?: Partial<RateLimitOptions>; pairing?: Partial<RateLimitOptions>; poll?: Partial<RateLimitOptions> };
  now?: () => number;
};

/** Failed enrollments per source: 5 free, then 1 s, 2 s, 4 s … each, blocked at 20 within 15 minutes. */
export const ENROLL_LIMIT: RateLimitOptions = {
  windowMs: 15 * 60_000,
  freeStrikes: 5,
  maxStrikes: 20,
  baseDelayMs: 1000,
  maxDelayMs: 10_000,
};
/** Pairing requests per source (every request counts): a kiosk asks a few times an hour at most. */
export const PAIRING_LIMIT: RateLimitOptions = {
  windowMs: 15 * 60_000,
  freeStrikes: 10,
  maxStrikes: 30,
  baseDelayMs: 500,
  maxDelayMs: 5000,
};

const TokensQuery = z.object({ siteId: Id.optional(), limit: z.coerce.number().int().min(1).max(1000).default(200) });

function sourceOf(c: Context): string {
  try {
    return getConnInfo(c).remote.address ?? 'unknown';
  } catch {
    return 'local'; // app.request() has no socket
  }
}

async function csvBody(c: Context): Promise<{ bytes: Uint8Array; atomic: boolean }> {
  const atomic = ['1', 'true', 'yes'].includes(c.req.query('atomic') ?? '');
  return { bytes: new Uint8Array(await c.req.arrayBuffer()), atomic };
}

/** Generic in the env so the server mounts it as its own `Hono<AppEnv>` (whose `user` has these fields). */
export function createProvisioningRoutes<E extends ProvisioningEnv = ProvisioningEnv>(deps: ProvisioningDeps): Hono<E> {
  const { db, auth, audit } = deps;
  // Read at each request: with port 0 the URLs are filled in only once the server listens.
  const endpoints = (): EnrollmentEndpoints => ({
    apiUrl: deps.urls.publicUrl,
    mqttUrl: deps.urls.mqttUrl,
    manifestKey: deps.manifestKey,
    ...(deps.urls.caPem && deps.urls.caFingerprint ? { caPem: deps.urls.caPem, caFingerprint: deps.urls.caFingerprint } : {}),
  });
  const now = deps.now ?? Date.now;
  const log = deps.log.child({ module: 'provisioning' });
  const qr = new QrCache(now);
  const enrollLimiter = new RateLimiter('enroll', { ...ENROLL_LIMIT, ...deps.limits?.enroll }, log, now);
  const pairingLimiter = new RateLimiter('pairing', { ...PAIRING_LIMIT, ...deps.limits?.pairing }, log, now);
  // Polling is legitimate every few seconds; only unknown poll tokens are strikes.
  const pollLimiter = new RateLimiter('pairing-poll', { ...ENROLL_LIMIT, ...deps.limits?.poll }, log, now);
  const credentialFailure = (status: number) => status === 401 || status === 404 || status === 409 || status === 410;

  const app = new Hono<ProvisioningEnv>();

  const installers = auth.requireRole('admin', 'department', 'technician');
  const registrars = auth.requireRole('admin', 'department');

  app.post('/enrollment-tokens', installers, json(EnrollmentTokensRequest), (c) => {
    const body = c.req.valid('json');
    const user = c.get('user');
    const created = createEnrollmentTokens(db, { ...body, createdBy: user.username, now: now() });
    const publicUrl = endpoints().apiUrl;
    const tokens = created.map((t) => {
      qr.remember(t.id, enrollmentLink(publicUrl, t.token, deps.urls.caFingerprint), Date.parse(t.expiresAt));
      return {
        ...t,
        enrollUrl: enrollmentLink(publicUrl, t.token, deps.urls.caFingerprint),
        qrSvgUrl: `${publicUrl}/api/v1/enrollment-tokens/${t.id}/qr.svg`,
        qrPngUrl: `${publicUrl}/api/v1/enrollment-tokens/${t.id}/qr.png`,
      };
    });
    audit({
      actor: user.username,
      action: 'enrollment_tokens.create',
      target: body.siteId,
      detail: { kind: body.kind, count: body.count, ttlHours: body.ttlHours, ids: created.map((t) => t.id) },
    });
    return c.json({ tokens } satisfies EnrollmentTokensCreated, 201);
  });

  app.get('/enrollment-tokens', installers, query(TokensQuery), (c) =>
    c.json({ tokens: listEnrollmentTokens(db, c.req.valid('query'), now()) }),
  );

  app.delete('/enrollment-tokens/:id', installers, (c) => {
    const id = c.req.param('id');
    if (!revokeEnrollmentToken(db, id, now()))
      throw notFound('enrollment_token_unknown', `enrollment token '${id}' does not exist`);
    qr.forget(id);
    audit({ actor: c.get('user').username, action: 'enrollment_tokens.revoke', target: id });
    return c.body(null, 204);
  });

  async function qrPayload(id: string): Promise<string> {
    const payload = qr.payload(id);
    if (payload && isTokenUsable(db, id, now())) return payload;
    qr.forget(id);
    throw notFound(
      'qr_unavailable',
      `no QR for enrollment token '${id}': the token is used, expired or unknown, or the server restarted since it was created (create a new token)`,
    );
  }

  app.get('/enrollment-tokens/:id/qr.svg', installers, async (c) => {
    const svg = await renderQrSvg(await qrPayload(c.req.param('id')));
    return c.body(svg, 200, { 'content-type': 'image/svg+xml; charset=utf-8', 'cache-control': 'no-store' });
  });

  app.get('/enrollment-tokens/:id/qr.png', installers, async (c) => {
    const png = await renderQrPng(await qrPayload(c.req.param('id')));
    return c.body(new Uint8Array(png), 200, { 'content-type': 'image/png', 'cache-control': 'no-store' });
  });

  app.post('/enroll', rateLimit(enrollLimiter, sourceOf, credentialFailure), json(EnrollRequest), (c) => {
    const body = c.req.valid('json');
    const { enrollment, tokenId } = enrollWithToken(db, { token: body.token, facts: body.facts, now: now() }, endpoints());
    qr.forget(tokenId);
    audit({
      actor: `enrollment-token:${tokenId}`,
      action: 'device.enroll',
      target: enrollment.deviceId,
      detail: { siteId: enrollment.siteId, facts: body.facts, source: sourceOf(c) },
    });
    log.info({ deviceId: enrollment.deviceId, siteId: enrollment.siteId, tokenId }, 'device enrolled');
    return c.json(enrollment, 201);
  });

  app.post(
    '/pairing',
    rateLimit(pairingLimiter, sourceOf, () => true),
    json(PairingRequest),
    (c) => {
      const body = c.req.valid('json');
      return c.json(startPairing(db, { facts: body.facts, kind: body.kind, now: now() }), 201);
    },
  );

  app.post('/pairing/claim', installers, json(PairingClaimRequest), (c) => {
    const body = c.req.valid('json');
    const user = c.get('user');
    const claimed = claimPairing(db, { ...body, claimedBy: user.username, now: now() });
    audit({
      actor: user.username,
      action: 'pairing.claim',
      target: claimed.deviceId,
      detail: { code: claimed.code, siteId: claimed.siteId, kind: claimed.kind, facts: claimed.facts },
    });
    return c.json({
      code: claimed.code,
      deviceId: claimed.deviceId,
      siteId: claimed.siteId,
      kind: claimed.kind,
      facts: claimed.facts,
    } satisfies PairingClaimed);
  });

  app.get(
    '/pairing/:pollToken',
    rateLimit(pollLimiter, sourceOf, (status) => status === 404),
    (c) => {
      const { poll, delivered } = pollPairing(db, { pollToken: c.req.param('pollToken'), now: now() }, endpoints());
      if (delivered) {
        audit({ actor: 'pairing', action: 'device.enroll', target: delivered.deviceId, detail: { siteId: delivered.siteId } });
        log.info({ deviceId: delivered.deviceId, siteId: delivered.siteId }, 'device enrolled by pairing');
      }
      return c.json(poll);
    },
  );

  // Refused while streaming, before a huge upload is buffered in memory.
  const csvLimit = bodyLimit(
    MAX_CSV_BYTES,
    (max) => new PayloadTooLargeError(`the file is larger than ${max} bytes; split it`, 'csv_too_large'),
  );

  app.post('/sites/import', registrars, csvLimit, async (c) => {
    const { bytes, atomic } = await csvBody(c);
    const report = importSites(db, bytes, { atomic });
    const user = c.get('user');
    audit({
      actor: user.username,
      action: 'sites.import',
      target: null,
      detail: { atomic, applied: report.applied, created: report.created, updated: report.updated, rejected: report.rejected },
    });
    return c.json(report, report.applied || report.rejected === 0 ? 200 : 422);
  });

  app.post('/devices/import', installers, csvLimit, async (c) => {
    const { bytes, atomic } = await csvBody(c);
    const report = importDevices(db, bytes, { atomic, now: now() });
    const user = c.get('user');
    audit({
      actor: user.username,
      action: 'devices.import',
      target: null,
      detail: { atomic, applied: report.applied, created: report.created, updated: report.updated, rejected: report.rejected },
    });
    return c.json(report, report.applied || report.rejected === 0 ? 200 : 422);
  });

  // Safe: every route reads only `user.username` and `user.role`, which E's user has (E extends ProvisioningEnv).
  return app as unknown as Hono<E>;
}
