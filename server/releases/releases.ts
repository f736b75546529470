/**
 * Over-the-air releases (docs/releases.md): signed releases uploaded file by file into a content-addressed store,
 * rollouts to a target in phases, each phase with a soak time and an abort threshold, and each kiosk's progress as
 * it reports it over MQTT (`release`). A rollout advances by itself (`evaluate`, on every report, every device
 * request and a periodic tick) and stops by itself when a phase's failed or rolled-back share passes its threshold;
 * a person pauses, resumes or aborts it. Every step is audited.
 */
import { randomUUID } from 'node:crypto';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import { z } from 'zod';
import { checkRelease, Id, type ReleaseReport, ReleaseVersion, SiteKind, type Trust } from '../../protocol/index.js';
import type { AuditFn } from '../auth/audit.js';
import type { Target } from '../content/library-schemas.js';
import { createContentStore } from '../content/store.js';
import { targetedDevices } from '../content/targeting.js';
import type { Database } from '../db/open-database.js';
import { DomainError } from '../errors.js';

export const RolloutTarget = z.discriminatedUnion('scope', [
  z.object({ scope: z.literal('all') }),
  z.object({ scope: z.literal('site_kind'), kind: SiteKind }),
  /** A site and everything under it. */
  z.object({ scope: z.literal('site'), siteId: Id }),
  /** Several sites, each with everything under it (the dashboard's searchable list). */
  z.object({ scope: z.literal('sites'), siteIds: z.array(Id).min(1).max(1000) }),
  z.object({ scope: z.literal('devices'), deviceIds: z.array(Id).min(1).max(10_000) }),
]);
export type RolloutTarget = z.infer<typeof RolloutTarget>;

/** A phase opens the release to more kiosks: `count` kiosks or a `share` of the target in all (cumulative). */
export const PhaseSpec = z
  .object({
    name: z.string().min(1).max(60).optional(),
    count: z.number().int().min(1).optional(),
    share: z.number().gt(0).max(1).optional(),
    /** How long the phase's kiosks must run the release, all settled, before the next phase opens. */
    soakS: z
      .number()
      .int()
      .min(0)
      .max(30 * 86_400)
      .default(3600),
    /** The rollout stops when more than this share of the phase's kiosks failed or rolled back. */
    abortShare: z.number().min(0).max(1).default(0),
  })
  .refine((p) => (p.count === undefined) !== (p.share === undefined), 'a phase has a count or a share, not both');
export type PhaseSpec = z.infer<typeof PhaseSpec>;

export const CreateRollout = z.object({
  version: ReleaseVersion,
  target: RolloutTarget,
  /** Default: 1 pilot kiosk, 10 %, 50 %, all. The last phase always covers every remaining kiosk. */
  phases: z.array(PhaseSpec).min(1).max(10).optional(),
});
export type CreateRollout = z.infer<typeof CreateRollout>;

export const DEFAULT_PHASES: PhaseSpec[] = [
  { name: 'pilot', count: 1, soakS: 3600, abortShare: 0 },
  { name: '10 %', share: 0.1, soakS: 3600, abortShare: 0.1 },
  { name: '50 %', share: 0.5, soakS: 3600, abortShare: 0.1 },
  { name: 'all', share: 1, soakS: 0, abortShare: 0.1 },
];

const SETTLED = ['committed', 'rolled_back', 'failed'] as const;
const BAD = new Set(['rolled_back', 'failed']);
const RANK: Record<string, number> = { pending: 0, downloading: 1, installed: 2, switched: 3 };

export interface ReleaseServiceDeps {
  db: Database;
  dataDir: string;
  audit: AuditFn;
  /** The server's trust: root public key and the keys document in force (releases are signed through it). */
  trust: () => Trust;
  /** Tells a connected device to look again (the `manifest` notice; the agent checks its release with it). */
  notify: (deviceId: string) => void;
  maxFileBytes?: number;
  now?: () => number;
}

interface RolloutRow {
  id: string;
  version: string;
  target: string;
  state: 'active' | 'paused' | 'completed' | 'stopped' | 'aborted';
  phase: number;
  reason: string | null;
  created_by: string;
  created_at: number;
  updated_at: number;
}

const notFound = (what: string) => new DomainError(404, 'not_found', `${what} not found`);
const conflict = (message: string) => new DomainError(409, 'conflict', message);

export function createReleaseService(deps: ReleaseServiceDeps) {
  const { db, audit } = deps;
  const now = deps.now ?? Date.now;
  // Same code as the content store, its own folder: the content clean-up never sees release files.
  const store = createContentStore({ dataDir: join(deps.dataDir, 'releases'), maxBytes: deps.maxFileBytes ?? 2 * 1024 ** 3 });

  async function missingOf(version: string): Promise<string[]> {
    const shas = db
      .prepare('SELECT DISTINCT sha256 FROM release_files WHERE version = ? ORDER BY sha256')
      .pluck()
      .all(version) as string[];
    const out: string[] = [];
    for (const sha of shas) if ((await store.sizeOf(sha)) === null) out.push(sha);
    return out;
  }

  /** Takes a signed release manifest; refuses it unless signed through the server's trust chain. */
  async function upload(actor: string, input: unknown): Promise<{ version: string; missing: string[]; created: boolean }> {
    const raw = input as { release?: { arch?: string; platform?: string } } | null;
    // The server runs no kiosk: it checks the signature and shape, the kiosk checks arch and runtime.
    const target = { platform: String(raw?.release?.platform ?? 'linux'), arch: String(raw?.release?.arch ?? ''), modules: null };
    const check = checkRelease(input, { trust: deps.trust(), target, now: new Date(now()) });
    if (!check.ok) {
      audit({ actor, action: 'release.refused', target: null, detail: { reason: check.reason, message: check.message } });
      throw new DomainError(422, `release_${check.reason}`, check.message);
    }
    const { release } = check.signed;
    const existing = db.prepare('SELECT signed FROM releases WHERE version = ?').pluck().get(release.version) as
      | string
      | undefined;
    if (existing !== undefined) {
      if ((JSON.parse(existing) as { signature: string }).signature !== check.signed.signature) {
        throw conflict(`release ${release.version} was already uploaded with other contents; give the new build a new version`);
      }
      return { version: release.version, missing: await missingOf(release.version), created: false };
    }
    db.transaction(() => {
      db.prepare(
        `INSERT INTO releases (version, arch, runtime, signed, file_count, bytes, uploaded_by, uploaded_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
      ).run(
        release.version,
        release.arch,
        `${release.runtime.name} ${release.runtime.version}`,
        JSON.stringify(input),
        release.files.length,
        release.files.reduce((n, f) => n + f.size, 0),
        actor,
        now(),
      );
      const insert = db.prepare('INSERT INTO release_files (version, path, sha256, size) VALUES (?, ?, ?, ?)');
      for (const f of release.files) insert.run(release.version, f.path, f.sha256, f.size);
      audit({ actor, action: 'release.uploaded', target: release.version, detail: { files: release.files.length } });
    })();
    return { version: release.version, missing: await missingOf(release.version), created: true };
  }

  /** Stores one file of an uploaded release; its bytes must hash to the sha256 the release lists. */
  async function putFile(
    sha256: string,
    body: Readable | WebReadableStream<Uint8Array> | ReadableStream<Uint8Array>,
  ): Promise<{ sha256: string; size: number }> {
    const listed = db.prepare('SELECT size FROM release_files WHERE sha256 = ? LIMIT 1').pluck().get(sha256) as
      | number
      | undefined;
    if (listed === undefined) throw notFound(`a release file ${sha256}`);
    const stored = await store.put(body);
    if (stored.sha256 !== sha256) {
      const used = db.prepare('SELECT 1 FROM release_files WHERE sha256 = ?').get(stored.sha256);
      if (!used) await rm(store.pathOf(stored.sha256), { force: true });
      throw new DomainError(422, 'hash_mismatch', `the bytes sent hash to ${stored.sha256}, not ${sha256}`);
    }
    return { sha256, size: stored.size };
  }

  function getRelease(version: string) {
    const row = db.prepare('SELECT * FROM releases WHERE version = ?').get(version) as
      | {
          version: string;
          arch: string;
          runtime: string;
          file_count: number;
          bytes: number;
          uploaded_by: string;
          uploaded_at: number;
        }
      | undefined;
    if (!row) throw notFound(`release ${version}`);
    return row;
  }

  async function releaseView(version: string) {
    const row = getRelease(version);
    const missing = await missingOf(version);
    return {
      version: row.version,
      arch: row.arch,
      runtime: row.runtime,
      files: row.file_count,
      bytes: row.bytes,
      complete: missing.length === 0,
      missing,
      uploadedBy: row.uploaded_by,
      uploadedAt: new Date(row.uploaded_at).toISOString(),
    };
  }

  async function listReleases() {
    const versions = db.prepare('SELECT version FROM releases ORDER BY uploaded_at DESC').pluck().all() as string[];
    return Promise.all(versions.map(releaseView));
  }

  /** Devices a target covers, not decommissioned, in a stable order. */
  function devicesOf(target: RolloutTarget): string[] {
    if (target.scope === 'devices') {
      const known = db.prepare(`SELECT 1 FROM devices WHERE id = ? AND status <> 'decommissioned'`);
      const unknown = target.deviceIds.filter((id) => !known.get(id));
      if (unknown.length > 0)
        throw new DomainError(400, 'bad_request', `unknown or decommissioned devices: ${unknown.slice(0, 10).join(', ')}`);
      return [...new Set(target.deviceIds)];
    }
    // Every other scope is a content target (or a list of them): the one targeting rule, server/content/targeting.ts.
    const targets: Target[] =
      target.scope === 'sites' ? target.siteIds.map((siteId) => ({ scope: 'site' as const, siteId })) : [target];
    return targetedDevices(db, targets).map((d) => d.deviceId);
  }

  function createRollout(actor: string, input: CreateRollout) {
    getRelease(input.version);
    const id = `ro-${randomUUID().slice(0, 8)}`;
    const t = now();
    const phases = input.phases ?? DEFAULT_PHASES;
    const created = db
      .transaction(() => {
        const devices = devicesOf(input.target);
        if (devices.length === 0) throw new DomainError(400, 'bad_request', 'the target covers no kiosk');
        // Kiosks already on this version are not offered it again.
        const onIt = new Set(db.prepare('SELECT id FROM devices WHERE agent_version = ?').pluck().all(input.version) as string[]);
        const todo = devices.filter((d) => !onIt.has(d));
        if (todo.length === 0) throw conflict(`every kiosk of the target already runs ${input.version}`);
        // Pilot kiosks chosen at random, not the first ids of the registry.
        const order = todo
          .map((d) => ({ d, k: Math.random() }))
          .sort((a, b) => a.k - b.k)
          .map((x) => x.d);
        db.prepare(
          `INSERT INTO rollouts (id, version, target, state, phase, created_by, created_at, updated_at) VALUES (?, ?, ?, 'active', 0, ?, ?, ?)`,
        ).run(id, input.version, JSON.stringify(input.target), actor, t, t);
        const insertPhase = db.prepare(
          'INSERT INTO rollout_phases (rollout_id, idx, name, soak_ms, abort_share, opened_at) VALUES (?, ?, ?, ?, ?, ?)',
        );
        const insertDevice = db.prepare('INSERT INTO rollout_devices (rollout_id, device_id, phase) VALUES (?, ?, ?)');
        let assigned = 0;
        phases.forEach((p, idx) => {
          const last = idx === phases.length - 1;
          const upTo = last ? order.length : Math.min(order.length, p.count ?? Math.ceil((p.share ?? 1) * order.length));
          insertPhase.run(id, idx, p.name ?? `phase ${idx + 1}`, p.soakS * 1000, p.abortShare, idx === 0 ? t : null);
          for (; assigned < upTo; assigned++) insertDevice.run(id, order[assigned], idx);
        });
        audit({
          actor,
          action: 'rollout.created',
          target: id,
          detail: { version: input.version, target: input.target, phases, devices: order.length },
        });
        return id;
      })
      .immediate();
    // The first phase is open from now: its kiosks look at once (the others when their phase opens).
    for (const d of phaseDevices(created, 0)) deps.notify(d);
    return created;
  }

  function rolloutRow(id: string): RolloutRow {
    const row = db.prepare('SELECT * FROM rollouts WHERE id = ?').get(id) as RolloutRow | undefined;
    if (!row) throw notFound(`rollout ${id}`);
    return row;
  }

  function phaseDevices(rolloutId: string, phase: number): string[] {
    return db
      .prepare('SELECT device_id FROM rollout_devices WHERE rollout_id = ? AND phase = ?')
      .pluck()
      .all(rolloutId, phase) as string[];
  }

  /** Moves one rollout on: stop at its threshold, open the next phase after the soak, complete it. Returns devices to tell. */
  function step(row: RolloutRow, t: number): string[] {
    if (row.state !== 'active' && row.state !== 'paused') return [];
    const phase = db.prepare('SELECT * FROM rollout_phases WHERE rollout_id = ? AND idx = ?').get(row.id, row.phase) as {
      name: string;
      soak_ms: number;
      abort_share: number;
      opened_at: number;
    };
    const counts = db
      .prepare(
        `SELECT count(*) AS n, sum(state IN ('rolled_back', 'failed')) AS bad, sum(state IN ('committed', 'rolled_back', 'failed')) AS settled,
           max(settled_at) AS lastSettled FROM rollout_devices WHERE rollout_id = ? AND phase = ?`,
      )
      .get(row.id, row.phase) as { n: number; bad: number | null; settled: number | null; lastSettled: number | null };
    const bad = counts.bad ?? 0;
    if (counts.n > 0 && bad / counts.n > phase.abort_share) {
      const first = db
        .prepare(
          `SELECT device_id, state, reason FROM rollout_devices WHERE rollout_id = ? AND phase = ? AND state IN ('rolled_back', 'failed')
           ORDER BY settled_at LIMIT 1`,
        )
        .get(row.id, row.phase) as { device_id: string; state: string; reason: string | null };
      const reason =
        `phase ${row.phase + 1} (${phase.name}): ${bad} of ${counts.n} kiosks failed or rolled back, over the threshold of ` +
        `${Math.round(phase.abort_share * 100)} %; ${first.device_id}: ${first.state}${first.reason ? `: ${first.reason}` : ''}`;
      db.prepare(`UPDATE rollouts SET state = 'stopped', reason = ?, updated_at = ? WHERE id = ?`).run(
        reason.slice(0, 2000),
        t,
        row.id,
      );
      audit({ actor: 'system', action: 'rollout.stopped', target: row.id, detail: { reason } });
      return [];
    }
    if (row.state === 'paused') return [];
    const settled = counts.settled ?? 0;
    if (settled < counts.n || t < Math.max(phase.opened_at, counts.lastSettled ?? 0) + phase.soak_ms) return [];
    const next = db.prepare('SELECT idx FROM rollout_phases WHERE rollout_id = ? AND idx = ?').get(row.id, row.phase + 1);
    if (!next) {
      db.prepare(`UPDATE rollouts SET state = 'completed', updated_at = ? WHERE id = ?`).run(t, row.id);
      audit({ actor: 'system', action: 'rollout.completed', target: row.id, detail: { version: row.version } });
      return [];
    }
    db.prepare('UPDATE rollouts SET phase = ?, updated_at = ? WHERE id = ?').run(row.phase + 1, t, row.id);
    db.prepare('UPDATE rollout_phases SET opened_at = ? WHERE rollout_id = ? AND idx = ?').run(t, row.id, row.phase + 1);
    audit({ actor: 'system', action: 'rollout.phase_opened', target: row.id, detail: { phase: row.phase + 2 } });
    const opened = phaseDevices(row.id, row.phase + 1);
    // An empty phase (few kiosks) opens the next at once.
    return [...opened, ...step({ ...row, phase: row.phase + 1 }, t)];
  }

  /** Moves every open rollout on; tells the kiosks of a phase that just opened. */
  function evaluate(): void {
    const t = now();
    const tell = db
      .transaction(() => {
        const rows = db.prepare(`SELECT * FROM rollouts WHERE state IN ('active', 'paused')`).all() as RolloutRow[];
        return rows.flatMap((row) => step(row, t));
      })
      .immediate();
    for (const d of tell) deps.notify(d);
  }

  function act(actor: string, id: string, action: 'pause' | 'resume' | 'abort', reason?: string) {
    const t = now();
    const tell = db
      .transaction(() => {
        const row = rolloutRow(id);
        const allowed = { pause: ['active'], resume: ['paused'], abort: ['active', 'paused'] }[action];
        if (!allowed.includes(row.state)) throw conflict(`rollout ${id} is ${row.state}; it cannot be ${action}d`);
        const state = { pause: 'paused', resume: 'active', abort: 'aborted' }[action];
        db.prepare('UPDATE rollouts SET state = ?, reason = coalesce(?, reason), updated_at = ? WHERE id = ?').run(
          state,
          action === 'abort' ? (reason ?? `aborted by ${actor}`) : null,
          t,
          id,
        );
        audit({
          actor,
          action: `rollout.${state === 'active' ? 'resumed' : state}`,
          target: id,
          detail: reason ? { reason } : undefined,
        });
        // Kiosks still downloading hear of it now and drop the update; those that committed stay on it.
        if (action === 'abort') {
          return db
            .prepare(
              `SELECT device_id FROM rollout_devices WHERE rollout_id = ? AND phase <= ? AND state NOT IN ('committed', 'rolled_back', 'failed')`,
            )
            .pluck()
            .all(id, row.phase) as string[];
        }
        return action === 'resume' ? step({ ...row, state: 'active' }, t) : [];
      })
      .immediate();
    for (const d of tell) deps.notify(d);
    return rolloutView(id);
  }

  function rolloutView(id: string) {
    const row = rolloutRow(id);
    const phases = db.prepare('SELECT * FROM rollout_phases WHERE rollout_id = ? ORDER BY idx').all(id) as Array<{
      idx: number;
      name: string;
      soak_ms: number;
      abort_share: number;
      opened_at: number | null;
    }>;
    const counts = db
      .prepare('SELECT phase, state, count(*) AS n FROM rollout_devices WHERE rollout_id = ? GROUP BY phase, state')
      .all(id) as Array<{ phase: number; state: string; n: number }>;
    const failures = db
      .prepare(
        `SELECT device_id AS deviceId, phase, state, reason, updated_at AS at FROM rollout_devices
         WHERE rollout_id = ? AND state IN ('rolled_back', 'failed') ORDER BY updated_at`,
      )
      .all(id) as Array<{ deviceId: string; phase: number; state: string; reason: string | null; at: number }>;
    return {
      id: row.id,
      version: row.version,
      target: JSON.parse(row.target) as RolloutTarget,
      state: row.state,
      phase: row.phase + 1,
      reason: row.reason,
      createdBy: row.created_by,
      createdAt: new Date(row.created_at).toISOString(),
      updatedAt: new Date(row.updated_at).toISOString(),
      phases: phases.map((p) => {
        const mine = counts.filter((c) => c.phase === p.idx);
        const by = Object.fromEntries(mine.map((c) => [c.state, c.n]));
        return {
          phase: p.idx + 1,
          name: p.name,
          soakS: p.soak_ms / 1000,
          abortShare: p.abort_share,
          openedAt: p.opened_at === null ? null : new Date(p.opened_at).toISOString(),
          devices: mine.reduce((n, c) => n + c.n, 0),
          counts: {
            pending: by.pending ?? 0,
            updating: (by.downloading ?? 0) + (by.installed ?? 0) + (by.switched ?? 0),
            committed: by.committed ?? 0,
            rolledBack: by.rolled_back ?? 0,
            failed: by.failed ?? 0,
          },
        };
      }),
      failures: failures.map((f) => ({ ...f, phase: f.phase + 1, at: new Date(f.at).toISOString() })),
    };
  }

  function listRollouts() {
    evaluate();
    const ids = db.prepare('SELECT id FROM rollouts ORDER BY created_at DESC, id LIMIT 100').pluck().all() as string[];
    return ids.map(rolloutView);
  }

  /** The release a device should run now: the newest open rollout whose opened phases include it, unless it gave up on it. */
  function targetFor(deviceId: string): { rolloutId: string | null; version: string | null; release: unknown } {
    evaluate();
    const row = db
      .prepare(
        `SELECT r.id, r.version, rel.signed FROM rollout_devices d JOIN rollouts r ON r.id = d.rollout_id
           JOIN releases rel ON rel.version = r.version
         WHERE d.device_id = ? AND r.state IN ('active', 'paused') AND d.phase <= r.phase AND d.state NOT IN ('rolled_back', 'failed')
         ORDER BY r.created_at DESC LIMIT 1`,
      )
      .get(deviceId) as { id: string; version: string; signed: string } | undefined;
    if (!row) return { rolloutId: null, version: null, release: null };
    return { rolloutId: row.id, version: row.version, release: JSON.parse(row.signed) };
  }

  /** Whether the device may download this file: it belongs to the release the device is to run. */
  function mayFetch(deviceId: string, sha256: string): boolean {
    const target = targetFor(deviceId);
    if (!target.version) return false;
    return db.prepare('SELECT 1 FROM release_files WHERE version = ? AND sha256 = ?').get(target.version, sha256) !== undefined;
  }

  /**
   * One `release` report, inside the ingest's group commit. A resend (same device, version, state, ts) changes
   * nothing; an older report never overwrites a newer state; a settled state (committed, rolled back, failed) stays.
   */
  function report(deviceId: string, message: ReleaseReport, received: number): void {
    const inserted = db
      .prepare(
        `INSERT OR IGNORE INTO release_reports (device_id, rollout_id, version, state, running, reason, bytes, ts, received_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      )
      .run(
        deviceId,
        message.rolloutId,
        message.version,
        message.state,
        message.running,
        message.reason ?? null,
        message.bytes ?? null,
        message.ts,
        received,
      );
    if (inserted.changes === 0 || message.rolloutId === null) return;
    const current = db
      .prepare(`SELECT d.state, d.report_ts FROM rollout_devices d JOIN rollouts r ON r.id = d.rollout_id
                WHERE d.rollout_id = ? AND d.device_id = ? AND r.version = ?`)
      .get(message.rolloutId, deviceId, message.version) as { state: string; report_ts: number | null } | undefined;
    if (!current || (SETTLED as readonly string[]).includes(current.state)) return;
    const settles = (SETTLED as readonly string[]).includes(message.state);
    if (!settles && (RANK[message.state] ?? 0) < (RANK[current.state] ?? 0) && (current.report_ts ?? 0) > message.ts) return;
    db.prepare(
      `UPDATE rollout_devices SET state = ?, reason = ?, report_ts = ?, updated_at = ?, settled_at = ? WHERE rollout_id = ? AND device_id = ?`,
    ).run(message.state, message.reason ?? null, message.ts, received, settles ? received : null, message.rolloutId, deviceId);
    if (BAD.has(message.state)) {
      audit({
        actor: `device:${deviceId}`,
        action: `release.${message.state}`,
        target: message.rolloutId,
        detail: { version: message.version, reason: message.reason },
      });
    }
    const row = db.prepare('SELECT * FROM rollouts WHERE id = ?').get(message.rolloutId) as RolloutRow | undefined;
    // The threshold is checked in the same transaction; opening the next phase waits for the tick (soak time).
    if (row && BAD.has(message.state)) step(row, received);
  }

  /** Every kiosk with the release it reports running (the dashboard's version column). */
  function versions() {
    return db
      .prepare(
        `SELECT id, site_id AS siteId, online, agent_version AS version, last_seen AS lastSeen FROM devices
         WHERE status <> 'decommissioned' ORDER BY id LIMIT 10000`,
      )
      .all() as Array<{ id: string; siteId: string | null; online: number; version: string | null; lastSeen: number | null }>;
  }

  return {
    store,
    upload,
    putFile,
    releaseView,
    listReleases,
    createRollout,
    rolloutView,
    listRollouts,
    act,
    evaluate,
    targetFor,
    mayFetch,
    report,
    versions,
  };
}
export type ReleaseService = ReturnType<typeof createReleaseService>;
