/**
 * Over-the-air updates, whole stack (docs/releases.md): a real server (in process), kiosks as real agent processes
 * started through the boot guard by a supervisor that plays systemd (Restart=always), releases signed with the
 * server's own keyring. The slots are minimal releases built here (protocol/release.ts): `bin/kiosk-agent` runs the
 * agent of this tree, a big file stands for the runtime (the same in every version), a small one changes.
 */
import { createHash, randomBytes } from 'node:crypto';
import { openSync } from 'node:fs';
import { cp, mkdir, mkdtemp, readFile, readlink, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureBootGuard } from '../agent/updater-boot.js';
import { type ReleaseManifest, SignedRelease, topics } from '../protocol/index.js';
import { enrollmentKeys, loadOrCreateSigningKeys } from '../server/content/index.js';
import {
  addDevice,
  connectDevice,
  HttpSession,
  startTestServer,
  TEST_ADMIN_PASSWORD,
  type TestServer,
  waitFor,
} from '../server/testing/test-server.js';
import { cachedRelease } from '../tools/release/cached-release.js';
import {
  installReleaseSlot,
  putMissingFiles,
  putReleaseFile,
  signWithServerKeyring,
  superviseBootGuard,
  testReleaseManifest,
} from './helpers/test-release.js';

const REPO = join(import.meta.dirname, '..');
const RUNTIME = randomBytes(1024 * 1024);
const sha = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');

interface Slot {
  signed: SignedRelease;
  files: Map<string, Buffer>;
}

let server: TestServer;
let admin: HttpSession;
let work: string;
const stops: Array<() => Promise<void>> = [];

function makeRelease(version: string, opts: { brokenAgent?: boolean; blobBytes?: number } = {}): Slot {
  const launcher = opts.brokenAgent
    ? '#!/bin/sh\necho "agent of this release exits at start" >&2\nexit 1\n'
    : `#!/bin/sh\ncd ${REPO}\nexec ${process.execPath} --import tsx ${join(REPO, 'agent', 'main.ts')} "$@"\n`;
  const files = new Map<string, Buffer>([
    ['agent/notes.txt', Buffer.from(`agent of ${version}\n`)],
    ['bin/kiosk-agent', Buffer.from(launcher)],
    ['runtime/node', RUNTIME],
    ...(opts.blobBytes ? ([['agent/blob.bin', randomBytes(opts.blobBytes)]] as const) : []),
  ]);
  return { signed: signWithServerKeyring(server, signingKeysSync, testReleaseManifest(version, files)), files };
}
let signingKeysSync: Awaited<ReturnType<typeof loadOrCreateSigningKeys>>;

/** A kiosk: its release root, its config, and a supervisor that restarts the boot guard whenever it exits. */
async function startKiosk(id: string, installed: Slot | ((root: string) => Promise<void>), env: Record<string, string> = {}) {
  const dir = await mkdtemp(join(work, `${id}-`));
  const root = join(dir, 'opt-kiosk');
  if (typeof installed === 'function') await installed(root);
  else await installReleaseSlot(root, installed.signed, installed.files);
  const device = addDevice(server, id);
  const keys = enrollmentKeys(server.db) as { rootKey: string; manifestKey: string };
  const config = join(dir, 'agent.json');
  await writeFile(
    config,
    JSON.stringify({
      deviceId: id,
      secret: device.secret,
      siteId: 'gl-c-iao',
      mqttUrl: server.mqttUrl,
      apiUrl: server.httpUrl,
      ...keys,
      dataDir: join(dir, 'data'),
      kioskPort: 0,
    }),
  );
  const guard = superviseBootGuard(root, config, () => ({
    cwd: REPO,
    env: {
      ...process.env,
      LOG_LEVEL: process.env.OTA_LOG ? 'info' : 'silent',
      ...(typeof installed === 'function' ? {} : { AGENT_UI_DIR: join(dir, 'no-ui') }),
      AGENT_HEALTH_INTERVAL_MS: '500',
      AGENT_RECONNECT_CAP_S: '1',
      AGENT_UPDATE_PROVE_S: '30',
      ...env,
    },
    stdio: ['ignore', process.env.OTA_LOG ? openSync(join(dir, 'agent.log'), 'a') : 'ignore', 'ignore'],
  }));
  stops.push(guard.stop);
  return {
    id,
    root,
    ...guard,
    current: async () => (await readlink(join(root, 'current'))).split('/').pop(),
  };
}

const versionOf = (id: string) =>
  (server.db.prepare('SELECT agent_version FROM devices WHERE id = ?').pluck().get(id) as string | null) ?? null;

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'release-ota-'));
  server = await startTestServer();
  signingKeysSync = await loadOrCreateSigningKeys(server.dataDir);
  admin = new HttpSession(server.httpUrl);
  await admin.login('admin', TEST_ADMIN_PASSWORD);
}, 30_000);

afterAll(async () => {
  if (process.env.OTA_LOG)
    console.log(
      JSON.stringify(server.db.prepare('SELECT * FROM rollout_devices').all()),
      JSON.stringify(server.db.prepare('SELECT * FROM release_reports').all()),
      work,
    );
  for (const s of stops) await s().catch(() => {});
  await server?.stop();
  // OTA_LOG=1 keeps the kiosks' folders (agent.log, update/) for a look afterwards.
  if (!process.env.OTA_LOG) await rm(work, { recursive: true, force: true });
});

describe('over-the-air releases', () => {
  it('refuses a tampered or unsigned release with the reason', async () => {
    const good = makeRelease('1.0.5');
    const tampered = structuredClone(good.signed);
    (tampered.release.files[0] as { size: number }).size += 1;
    const r1 = await admin.json<{ error: { code: string; message: string } }>('POST', '/api/v1/releases', tampered);
    expect(r1.status).toBe(422);
    expect(r1.body.error.code).toBe('release_bad_signature');
    const unsigned = { ...good.signed, signature: Buffer.alloc(64).toString('base64') };
    const r2 = await admin.json<{ error: { code: string } }>('POST', '/api/v1/releases', unsigned);
    expect(r2.body.error.code).toBe('release_bad_signature');
    const r3 = await admin.json<{ error: { code: string } }>('POST', '/api/v1/releases', { release: good.signed.release });
    expect(r3.body.error.code).toBe('release_malformed');
  });

  it('rolls N+1 out in phases to every kiosk; N+2 whose agent exits at start is rolled back on the pilot and stops the rollout', async () => {
    const n = makeRelease('1.0.0');
    const n1 = makeRelease('1.0.1');
    const kiosks = [await startKiosk('ota-a', n), await startKiosk('ota-b', n)];
    await waitFor(() => kiosks.every((k) => versionOf(k.id) === '1.0.0'), 'kiosks online on 1.0.0', 60_000, 200);

    const up = await admin.json<{ missing: string[] }>('POST', '/api/v1/releases', n1.signed);
    expect(up.status).toBe(201);
    await putMissingFiles(server, admin, n1.files, up.body.missing);
    const phases = [
      { name: 'pilot', count: 1, soakS: 0, abortShare: 0 },
      { name: 'all', share: 1, soakS: 0, abortShare: 0.5 },
    ];
    const ro = await admin.json<{ id: string; phases: Array<{ devices: number }> }>('POST', '/api/v1/rollouts', {
      version: '1.0.1',
      target: { scope: 'all' },
      phases,
    });
    expect(ro.status, JSON.stringify(ro.body)).toBe(201);
    expect(ro.body.phases.map((p) => p.devices)).toEqual([1, 1]);
    await waitFor(
      async () => {
        const v = await admin.json<{ state: string }>('GET', `/api/v1/rollouts/${ro.body.id}`);
        return v.body.state === 'completed';
      },
      'rollout of 1.0.1 completed',
      120_000,
      500,
    );
    await waitFor(() => kiosks.every((k) => versionOf(k.id) === '1.0.1'), 'kiosks report 1.0.1', 30_000, 200);
    for (const k of kiosks) expect(await k.current()).toBe('1.0.1');
    // Only the changed file moved: the runtime (1 MiB, the same in both) was taken from the current slot.
    const moved = server.db
      .prepare(`SELECT device_id AS id, bytes FROM release_reports WHERE version = '1.0.1' AND state = 'installed'`)
      .all() as Array<{ id: string; bytes: number }>;
    expect(moved.map((m) => m.bytes)).toEqual([Buffer.byteLength('agent of 1.0.1\n'), Buffer.byteLength('agent of 1.0.1\n')]);

    const n2 = makeRelease('1.0.2', { brokenAgent: true });
    const up2 = await admin.json<{ missing: string[] }>('POST', '/api/v1/releases', n2.signed);
    expect(up2.body.missing).not.toContain(sha(RUNTIME));
    await putMissingFiles(server, admin, n2.files, up2.body.missing);
    const ro2 = await admin.json<{ id: string }>('POST', '/api/v1/rollouts', {
      version: '1.0.2',
      target: { scope: 'all' },
      phases,
    });
    expect(ro2.status).toBe(201);
    const stopped = await waitFor(
      async () => {
        const v = await admin.json<{
          state: string;
          reason: string | null;
          failures: Array<{ deviceId: string; state: string; reason: string }>;
        }>('GET', `/api/v1/rollouts/${ro2.body.id}`);
        return v.body.state === 'stopped' ? v.body : null;
      },
      'rollout of 1.0.2 stopped',
      120_000,
      500,
    );
    expect(stopped.failures).toHaveLength(1);
    expect(stopped.failures[0]?.state).toBe('rolled_back');
    expect(stopped.failures[0]?.reason).toMatch(/without proving itself/);
    expect(stopped.reason).toMatch(/phase 1 \(pilot\): 1 of 1/);
    // Every kiosk runs 1.0.1: the pilot came back by itself, the other was never offered 1.0.2.
    await waitFor(() => kiosks.every((k) => versionOf(k.id) === '1.0.1'), 'kiosks on 1.0.1 again', 60_000, 200);
    for (const k of kiosks) expect(await k.current()).toBe('1.0.1');
    const audit = server.db
      .prepare(`SELECT action FROM audit WHERE action LIKE 'rollout.%' OR action LIKE 'release.%'`)
      .pluck()
      .all();
    expect(audit).toEqual(
      expect.arrayContaining([
        'release.uploaded',
        'rollout.created',
        'rollout.phase_opened',
        'rollout.completed',
        'release.rolled_back',
        'rollout.stopped',
      ]),
    );
  }, 300_000);

  it('pauses, resumes and aborts a rollout by a person (audited); a resent report is stored once', async () => {
    const rel = makeRelease('3.0.0');
    const up = await admin.json<{ missing: string[] }>('POST', '/api/v1/releases', rel.signed);
    await putMissingFiles(server, admin, rel.files, up.body.missing);
    const device = addDevice(server, 'ota-quiet');
    const ro = await admin.json<{ id: string; state: string }>('POST', '/api/v1/rollouts', {
      version: '3.0.0',
      target: { scope: 'devices', deviceIds: [device.id] },
      phases: [{ count: 1, soakS: 0, abortShare: 0 }],
    });
    expect(ro.body.state).toBe('active');
    expect((await admin.json<{ state: string }>('POST', `/api/v1/rollouts/${ro.body.id}/pause`)).body.state).toBe('paused');
    expect((await admin.json('POST', `/api/v1/rollouts/${ro.body.id}/pause`)).status).toBe(409);
    expect((await admin.json<{ state: string }>('POST', `/api/v1/rollouts/${ro.body.id}/resume`)).body.state).toBe('active');
    const mqtt = await connectDevice(server.mqttUrl, device.id, device.secret);
    const report = { version: '3.0.0', rolloutId: ro.body.id, state: 'downloading', running: '2.9.0', bytes: 10, ts: Date.now() };
    for (let i = 0; i < 2; i++) await mqtt.publishAsync(topics.release(device.id), JSON.stringify(report), { qos: 1 });
    await mqtt.endAsync();
    const rows = server.db.prepare('SELECT count(*) FROM release_reports WHERE device_id = ?').pluck().get(device.id);
    expect(rows).toBe(1);
    const aborted = await admin.json<{ state: string; reason: string }>('POST', `/api/v1/rollouts/${ro.body.id}/abort`, {
      reason: 'wrong build',
    });
    expect(aborted.body).toMatchObject({ state: 'aborted', reason: 'wrong build' });
    const target = await fetch(`${server.httpUrl}/api/v1/devices/${device.id}/release`, {
      headers: { authorization: `Basic ${Buffer.from(`${device.id}:${device.secret}`).toString('base64')}` },
    });
    expect(await target.json()).toEqual({ rolloutId: null, version: null, release: null });
    const audit = server.db.prepare('SELECT action, actor FROM audit WHERE target = ? ORDER BY id').all(ro.body.id);
    expect(audit.map((a) => (a as { action: string }).action)).toEqual([
      'rollout.created',
      'rollout.paused',
      'rollout.resumed',
      'rollout.aborted',
    ]);
  });

  // A failure names each kill's moment (ms after the rollout was created); OTA_KILL_DELAYS=1200,4800 replays them.
  const REPLAY = process.env.OTA_KILL_DELAYS?.split(',').map(Number);
  const KILLS = REPLAY?.length ?? Number(process.env.OTA_KILLS ?? 5);
  it(
    `leaves a working version after each of ${KILLS} SIGKILLs at random moments of an update`,
    async () => {
      const base = makeRelease('2.0.0');
      // 256 KiB/s and 512 KiB of new bytes per release: about 2 s of download, then install, switch, restart, proof.
      const kiosk = await startKiosk('ota-kill', base, { AGENT_BANDWIDTH_LIMIT: String(256 * 1024) });
      await waitFor(() => versionOf(kiosk.id) === '2.0.0', 'kiosk online on 2.0.0', 60_000, 200);
      const seen: string[] = [];
      const delays: number[] = [];
      for (let k = 1; k <= KILLS; k++) {
        const next = makeRelease(`2.0.${k}`, { blobBytes: 512 * 1024 });
        const up = await admin.json<{ missing: string[] }>('POST', '/api/v1/releases', next.signed);
        await putMissingFiles(server, admin, next.files, up.body.missing);
        const bootBefore = bootOf(kiosk.id);
        const ro = await admin.json<{ id: string }>('POST', '/api/v1/rollouts', {
          version: next.signed.release.version,
          target: { scope: 'devices', deviceIds: [kiosk.id] },
          phases: [{ count: 1, soakS: 0, abortShare: 0 }],
        });
        expect(ro.status).toBe(201);
        // Anywhere from the download to the new version proving itself (a start takes a few seconds here).
        const delay = REPLAY?.[k - 1] ?? Math.floor(Math.random() * 6000);
        await new Promise((r) => setTimeout(r, delay));
        await kiosk.kill();
        delays.push(delay);
        const moment = `kill ${k}, ${delay} ms after the rollout (delays so far: ${delays.join(',')})`;
        // Whatever the moment: an agent comes up again, from a complete slot.
        await waitFor(
          () => bootOf(kiosk.id) !== bootBefore && onlineOf(kiosk.id),
          `an agent up again after ${moment}`,
          60_000,
          200,
        );
        const running = await kiosk.current();
        seen.push(`${k} (${delay} ms): ${running}`);
        await expectCompleteSlot(join(kiosk.root, 'releases', running as string), moment);
        // And the update gets there in the end.
        await waitFor(
          async () => (await admin.json<{ state: string }>('GET', `/api/v1/rollouts/${ro.body.id}`)).body.state === 'completed',
          `rollout completed after ${moment}`,
          90_000,
          300,
        );
        await waitFor(
          () => versionOf(kiosk.id) === next.signed.release.version,
          `kiosk on 2.0.${k} after ${moment}`,
          30_000,
          200,
        );
      }
      console.log(`release-ota: versions running right after each kill: ${seen.join(', ')}`);
    },
    60_000 + KILLS * 90_000,
  );
});

const bootOf = (id: string) => server.db.prepare('SELECT boot_id FROM devices WHERE id = ?').pluck().get(id) as string | null;
const onlineOf = (id: string) => server.db.prepare('SELECT online FROM devices WHERE id = ?').pluck().get(id) === 1;

async function expectCompleteSlot(dir: string, moment: string): Promise<void> {
  const signed = JSON.parse(await readFile(join(dir, 'release.json'), 'utf8')) as SignedRelease;
  for (const f of signed.release.files) {
    expect(sha(await readFile(join(dir, f.path))), `${f.path} after ${moment}`).toBe(f.sha256);
  }
}

describe('over the air with a release really built (tools/release, cached per source tree)', () => {
  it('moves only the changed agent file, not the bundled runtime, and the installed agent commits the new version', async () => {
    const built = await cachedRelease();
    const bundled = SignedRelease.parse(JSON.parse(await readFile(join(built.dir, 'release.json'), 'utf8')));
    const sign = (release: ReleaseManifest): SignedRelease => signWithServerKeyring(server, signingKeysSync, release);
    const agentPath = 'agent/agent.mjs';
    const changedAgent = Buffer.concat([await readFile(join(built.dir, agentPath)), Buffer.from('\n// 4.0.1\n')]);
    const n = sign({ ...bundled.release, version: '4.0.0' });
    const n1 = sign({
      ...bundled.release,
      version: '4.0.1',
      files: bundled.release.files.map((f) =>
        f.path === agentPath ? { ...f, sha256: sha(changedAgent), size: changedAgent.length } : f,
      ),
    });
    expect(n1.release.files.filter((f) => f.path === agentPath)).toHaveLength(1);
    const install = async (root: string) => {
      await mkdir(join(root, 'releases'), { recursive: true });
      await cp(built.dir, join(root, 'releases', '4.0.0'), { recursive: true });
      await writeFile(join(root, 'releases', '4.0.0', 'release.json'), JSON.stringify(n));
      await symlink(join('releases', '4.0.0'), join(root, 'current'));
      await ensureBootGuard(root);
    };
    const kiosk = await startKiosk('ota-real', install);
    await waitFor(() => versionOf(kiosk.id) === '4.0.0', 'installed release online as 4.0.0', 60_000, 200);
    const up = await admin.json<{ missing: string[] }>('POST', '/api/v1/releases', n1);
    expect(up.status, JSON.stringify(up.body)).toBe(201);
    const pathOf = new Map(n1.release.files.map((f) => [f.sha256, f.path]));
    for (const s of up.body.missing) {
      const path = pathOf.get(s) as string;
      const body = path === agentPath ? changedAgent : await readFile(join(built.dir, path));
      await putReleaseFile(server, admin, s, body);
    }
    const ro = await admin.json<{ id: string }>('POST', '/api/v1/rollouts', {
      version: '4.0.1',
      target: { scope: 'devices', deviceIds: [kiosk.id] },
      phases: [{ count: 1, soakS: 0, abortShare: 0 }],
    });
    expect(ro.status, JSON.stringify(ro.body)).toBe(201);
    await waitFor(
      async () => (await admin.json<{ state: string }>('GET', `/api/v1/rollouts/${ro.body.id}`)).body.state === 'completed',
      'real rollout completed',
      120_000,
      300,
    );
    expect(versionOf(kiosk.id)).toBe('4.0.1');
    const moved = server.db
      .prepare(`SELECT bytes FROM release_reports WHERE version = '4.0.1' AND state = 'installed'`)
      .pluck()
      .get() as number;
    const total = n1.release.files.reduce((a, f) => a + f.size, 0);
    expect(moved).toBe(changedAgent.length);
    const rss = await readFile(`/proc/${kiosk.pid()}/status`, 'utf8')
      .then((t) => /VmRSS:\s+(\d+)/.exec(t)?.[1])
      .catch(() => null);
    console.log(
      `release-ota (real release): ${n1.release.files.length} files, ${(total / 2 ** 20).toFixed(1)} MiB in all; ` +
        `agent-only update moved ${moved} bytes (${(moved / 2 ** 20).toFixed(2)} MiB); ` +
        `agent RSS after commit ${rss ? `${Math.round(Number(rss) / 1024)} MiB` : 'unknown'}`,
    );
  }, 240_000);
});
