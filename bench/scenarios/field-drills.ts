/**
 * Issue 14's clock drills on a whole agent process: the server runs in this process on the true clock, the agent
 * (`agent/main.ts` via tsx) runs under Debian's `faketime` (libfaketime, LD_PRELOAD) with its wall clock a day behind,
 * a day ahead, a year ahead or in 1970 (the monotonic clock left true, as on a kiosk whose RTC is wrong). Each run:
 *
 *   - pairing: the code on the kiosk page stays the same across polls (a kiosk whose clock is off must not draw a new
 *     code on every poll), and a technician claims it through the server's API;
 *   - a command with a TTL far shorter than the clock error (`set_config`, ttl 5 min) runs, not refused as expired;
 *   - a download paced by that `bandwidthLimit` takes about size / limit (no day-long sleep, no unpaced burst), and
 *     its item — valid for six hours around the server's now — is on the kiosk page (judged on the server's time);
 *   - no warning flood: warnings (pino level ≥ 40, Node's `(node:…) Warning`) counted in the agent's log.
 *
 * Each run returns its figures and `failures` (empty = passed); tests/field-clock-faketime.test.ts runs them small,
 * `npm run bench -- --only field` at full size. Needs `faketime` (tools/ensure-system-packages.sh installs it).
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import Database from 'better-sqlite3';
import { sampleFiles } from '../../server/content/testing.js';
import { HttpSession, startTestServer, TEST_ADMIN_PASSWORD, type TestServer } from '../../server/testing/test-server.js';
import { fillToTheLastByte } from '../../tests/helpers/fill-disk.js';
import { createFieldStand, seqGaps } from '../lib/field-stand.js';
import { freePort } from '../lib/proc.js';

const ROOT = resolve(import.meta.dirname, '..', '..');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The four clock errors of the issue, as libfaketime's FAKETIME (`@` = start at that time and run on). */
export const CLOCK_ERRORS = [
  { name: '-1 day', faketime: '-1d' },
  { name: '+1 day', faketime: '+1d' },
  { name: '+1 year', faketime: '+365d' },
  { name: '1970', faketime: '@1970-01-01 00:00:00' },
] as const;

/** Why the clock drills cannot run here, or null. */
export function faketimeUnavailable(): string | null {
  try {
    execFileSync('faketime', ['-f', '+1d', 'true'], { stdio: 'ignore', timeout: 10_000 });
    return null;
  } catch {
    return "Debian's `faketime` is not installed (tools/ensure-system-packages.sh installs it: apt-get install faketime)";
  }
}

async function until<T>(check: () => T | Promise<T>, timeoutMs: number, everyMs = 100): Promise<T | null> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v) return v;
    if (Date.now() > deadline) return null;
    await sleep(everyMs);
  }
}

interface LogLine {
  level?: number;
  msg?: string;
  port?: number;
  code?: string;
  [k: string]: unknown;
}

/** An agent child under faketime; its stdout+stderr kept line by line. */
function spawnAgent(faketime: string, configPath: string, env: Record<string, string>) {
  const lines: string[] = [];
  const child: ChildProcess = spawn(
    'faketime',
    // -m: libfaketime's multi-threaded build (node has threads); monotonic clock left true.
    ['-m', '--exclude-monotonic', '-f', faketime, process.execPath, '--import', 'tsx', 'agent/main.ts', '--config', configPath],
    // Its own process group: faketime forks the program and does not pass signals on, so stop() signals the group.
    { cwd: ROOT, env: { ...process.env, LOG_LEVEL: 'info', ...env }, stdio: ['ignore', 'pipe', 'pipe'], detached: true },
  );
  let partial = { out: '', err: '' };
  for (const [name, stream] of [
    ['out', child.stdout],
    ['err', child.stderr],
  ] as const) {
    stream?.on('data', (c: Buffer) => {
      const text = partial[name] + c.toString();
      const parts = text.split('\n');
      partial = { ...partial, [name]: parts.pop() ?? '' };
      for (const l of parts) if (l.length > 0) lines.push(l);
      if (process.env.FIELD_AGENT_LOG)
        for (const l of parts) if (l.length > 0) console.log(`  agent[${faketime}] ${l.slice(0, 400)}`);
    });
  }
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  // A detached group outlives this process unless killed: a test that times out must not leave an agent running.
  const killGroup = () => {
    try {
      if (child.pid) process.kill(-child.pid, 'SIGKILL');
    } catch {
      // gone already
    }
  };
  process.once('exit', killGroup);
  const parsed = (): LogLine[] =>
    lines.flatMap((l) => {
      try {
        return [JSON.parse(l) as LogLine];
      } catch {
        return [];
      }
    });
  return {
    child,
    lines,
    parsed,
    /** Warnings and worse: pino lines of level ≥ 40 and anything else printed that says Warning. */
    warnings: () =>
      lines.filter((l) => {
        try {
          return ((JSON.parse(l) as LogLine).level ?? 0) >= 40;
        } catch {
          return /warning/i.test(l);
        }
      }),
    /** The wall clock the agent saw (pino's `time` of its first line). */
    agentTime: () => Number(parsed()[0]?.time ?? Number.NaN),
    /** SIGTERM to faketime and the agent (the agent's clean stop), SIGKILL after 10 s; resolves when both are gone. */
    async stop() {
      const group = (signal: NodeJS.Signals) => {
        try {
          if (child.pid) process.kill(-child.pid, signal);
        } catch {
          // the group is gone already
        }
      };
      group('SIGTERM');
      const t = setTimeout(() => group('SIGKILL'), 10_000);
      await exited;
      // The agent itself (faketime's child) may outlive faketime by its clean stop: wait until the group is empty.
      await until(() => {
        try {
          process.kill(-(child.pid as number), 0);
          return false;
        } catch {
          return true;
        }
      }, 12_000);
      clearTimeout(t);
      process.off('exit', killGroup);
    },
  };
}

export interface ClockDrillOptions {
  errors?: ReadonlyArray<{ name: string; faketime: string }>;
  /** Size of the paced download (a video published after the command). */
  downloadBytes: number;
  /** The `bandwidthLimit` the command sets, bytes per second. */
  bandwidthBytesPerS: number;
  /** How long the pairing code is watched before it is claimed, and the poll interval. */
  watchPairingMs: number;
  pairingPollMs: number;
  /** Over TLS (https + mqtts, CA pinned with `#ca=`) instead of plaintext loopback. */
  tls?: boolean;
  log: (line: string) => void;
}

export interface ClockRun {
  error: string;
  agentWallOffsetH: number;
  pairingCodes: number;
  pairingPolls: number;
  paired: boolean;
  commandStatus: string | null;
  commandDetail: string | null;
  downloadSeconds: number | null;
  expectedDownloadSeconds: number;
  warnings: number;
  warningSample: string[];
  failures: string[];
}

/** Publishes one video item through the server's API and workflow (an editor uploads, an approver publishes). */
export async function publisher(
  baseUrl: string,
  admin: HttpSession,
): Promise<(bytes: Buffer, title: string, fields?: { validFrom?: string; validTo?: string }) => Promise<string>> {
  const session = async (username: string, role: string) => {
    const password = `${username}-password-1`;
    const made = await admin.json('POST', '/api/v1/users', { username, role, password });
    if (made.status !== 201) throw new Error(`user ${username}: HTTP ${made.status} ${JSON.stringify(made.body)}`);
    const login = await fetch(`${baseUrl}/api/v1/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username, password }),
    });
    if (login.status !== 200) throw new Error(`login ${username}: HTTP ${login.status}`);
    const cookie = (login.headers.get('set-cookie') ?? '').split(';')[0] as string;
    return async (method: string, path: string, body?: unknown, contentType = 'application/json') => {
      const res = await fetch(`${baseUrl}${path}`, {
        method,
        headers: { cookie, ...(body === undefined ? {} : { 'content-type': contentType }) },
        body: body === undefined ? undefined : Buffer.isBuffer(body) ? body : JSON.stringify(body),
      });
      const text = await res.text();
      return { status: res.status, text };
    };
  };
  const editor = await session(`editor.${process.pid}.${Date.now()}`, 'editor');
  const approver = await session(`approver.${process.pid}.${Date.now()}`, 'approver');
  return async (bytes, title, fields = {}) => {
    const made = await editor('POST', '/api/v1/content', { kind: 'video', ...fields });
    if (made.status !== 201) throw new Error(`create: HTTP ${made.status} ${made.text}`);
    const { id } = JSON.parse(made.text) as { id: string };
    const tr = await editor('PUT', `/api/v1/content/${id}/translations/vi`, { title });
    if (tr.status >= 300) throw new Error(`translation: HTTP ${tr.status} ${tr.text}`);
    const up = await editor('PUT', `/api/v1/content/${id}/translations/vi/file`, bytes, 'video/mp4');
    if (up.status !== 201) throw new Error(`upload: HTTP ${up.status} ${up.text}`);
    const sha = (JSON.parse(up.text) as { file: { sha256: string } }).file.sha256;
    for (const [step, who] of [
      ['submit', editor],
      ['approve', approver],
      ['publish', approver],
    ] as const) {
      const res = await who('POST', `/api/v1/content/${id}/${step}`);
      if (res.status !== 200) throw new Error(`${step}: HTTP ${res.status} ${res.text}`);
    }
    return sha;
  };
}

async function runOne(
  server: TestServer,
  admin: HttpSession,
  publish: (bytes: Buffer, title: string, fields?: { validFrom?: string; validTo?: string }) => Promise<string>,
  clockError: { name: string; faketime: string },
  o: ClockDrillOptions,
): Promise<ClockRun> {
  const dir = mkdtempSync(join(tmpdir(), 'field-clock-'));
  const configPath = join(dir, 'agent.json');
  const serverUrl = o.tls
    ? `${server.publicUrl}/#ca=${(server.caFingerprint as string).replaceAll(':', '').toLowerCase()}`
    : server.httpUrl;
  writeFileSync(configPath, JSON.stringify({ serverUrl, dataDir: join(dir, 'data'), kioskPort: 0 }), { mode: 0o600 });
  const agent = spawnAgent(clockError.faketime, configPath, {
    AGENT_UI_DIR: join(dir, 'no-ui'),
    AGENT_PAIRING_POLL_MS: String(o.pairingPollMs),
    AGENT_SYNC_JITTER_S: '0',
    AGENT_RECONNECT_CAP_S: '2',
    AGENT_DISK_RESERVE_MB: '0',
  });
  const failures: string[] = [];
  const run: ClockRun = {
    error: clockError.name,
    agentWallOffsetH: Number.NaN,
    pairingCodes: 0,
    pairingPolls: 0,
    paired: false,
    commandStatus: null,
    commandDetail: null,
    downloadSeconds: null,
    expectedDownloadSeconds: o.downloadBytes / o.bandwidthBytesPerS,
    warnings: 0,
    warningSample: [],
    failures,
  };
  const tail = () => agent.lines.slice(-12).join('\n');
  try {
    const port = await until(() => agent.parsed().find((l) => l.msg === 'kiosk server on 127.0.0.1')?.port, 60_000);
    if (!port) throw new Error(`the agent's kiosk server did not come up within 60 s:\n${tail()}`);
    run.agentWallOffsetH = Math.round((agent.agentTime() - Date.now()) / 3_600_000);
    const local = async () => {
      const res = await fetch(`http://127.0.0.1:${port}/local/manifest`);
      return (await res.json()) as { pairing: { code: string } | null; deviceId: string | null; items: unknown[] };
    };
    // The code shown, watched across many of the agent's polls.
    const first = await until(async () => (await local()).pairing?.code, 30_000);
    if (!first) throw new Error(`no pairing code on the kiosk page within 30 s:\n${tail()}`);
    const codes = new Set<string>([first]);
    const t0 = Date.now();
    while (Date.now() - t0 < o.watchPairingMs) {
      const code = (await local()).pairing?.code;
      if (code) codes.add(code);
      await sleep(Math.max(50, o.pairingPollMs / 2));
    }
    // The agent logs each code it is handed (one info line per code): that count also sees a code the page polls missed.
    const handed = agent.parsed().filter((l) => l.msg === 'waiting for a technician to claim this pairing code').length;
    run.pairingCodes = Math.max(codes.size, handed);
    // Polls the agent made meanwhile (its poll interval over the watch), for the record.
    run.pairingPolls = Math.floor(o.watchPairingMs / o.pairingPollMs);
    if (run.pairingCodes !== 1) {
      failures.push(`the pairing code changed ${run.pairingCodes - 1} time(s) in ${o.watchPairingMs} ms`);
    }
    const code = [...codes].at(-1) as string;
    const claimed = await admin.json<{ deviceId: string }>('POST', '/api/v1/pairing/claim', { code, siteId: 'gl-c-iao' });
    if (claimed.status !== 200) throw new Error(`claim of ${code}: HTTP ${claimed.status} ${JSON.stringify(claimed.body)}`);
    const deviceId = claimed.body.deviceId;
    const online = await until(
      () => server.db.prepare('SELECT online FROM devices WHERE id = ?').pluck().get(deviceId) === 1,
      60_000,
    );
    run.paired = online === true;
    if (!online) throw new Error(`${deviceId} claimed but never online within 60 s:\n${tail()}`);

    // A command whose TTL (5 min) is far shorter than the clock error.
    const sent = await admin.json<{ command: { id: string } }>('POST', `/api/v1/devices/${deviceId}/commands?ttl=5m`, {
      type: 'set_config',
      params: { bandwidthLimit: o.bandwidthBytesPerS },
    });
    if (sent.status !== 201) throw new Error(`command: HTTP ${sent.status} ${JSON.stringify(sent.body)}`);
    const finished = await until(async () => {
      const list = await admin.json<{ commands: Array<{ id: string; status: string; detail: string | null }> }>(
        'GET',
        `/api/v1/devices/${deviceId}/commands`,
      );
      const c = list.body.commands.find((x) => x.id === sent.body.command.id);
      return c && ['succeeded', 'failed', 'expired'].includes(c.status) ? c : null;
    }, 30_000);
    run.commandStatus = finished?.status ?? null;
    run.commandDetail = finished?.detail ?? null;
    if (finished?.status !== 'succeeded') {
      failures.push(`set_config with ttl 5 min: ${finished?.status ?? 'no result in 30 s'} (${finished?.detail ?? ''})`);
    }

    // A download paced by that limit: it must take about size / limit, not a day and not an unpaced burst.
    const published = Date.now();
    // Valid from an hour ago for six hours on the server's clock: every wall clock of the drill (a day or a year off,
    // 1970) would judge it not started or ended, so the page lists it only if it judges on the server's time.
    const sha = await publish(sampleFiles.mp4(o.downloadBytes), `Bản tin (${clockError.name})`, {
      validFrom: new Date(published - 3_600_000).toISOString(),
      validTo: new Date(published + 6 * 3_600_000).toISOString(),
    });
    const limit = Math.max(30_000, run.expectedDownloadSeconds * 4000 + 20_000);
    const shown = await until(async () => JSON.stringify((await local()).items).includes(sha), limit, 200);
    if (shown) run.downloadSeconds = (Date.now() - published) / 1000;
    if (!shown) failures.push(`the paced download was not on the page after ${limit / 1000} s:\n${tail()}`);
    else if (run.downloadSeconds !== null && run.downloadSeconds < 0.7 * run.expectedDownloadSeconds) {
      failures.push(
        `the download took ${run.downloadSeconds} s, less than 0.7 × the ${run.expectedDownloadSeconds} s its bandwidthLimit allows (not paced)`,
      );
    }
    // A few more seconds of normal running (health, schedule) before the warnings are counted.
    await sleep(2000);
  } catch (error) {
    failures.push((error as Error).message);
  } finally {
    // Counted while it runs: the clean stop's own "link down" is not the clock's doing.
    const warnings = agent.warnings();
    run.warnings = warnings.length;
    run.warningSample = warnings.slice(0, 5).map((w) => w.slice(0, 300));
    await agent.stop();
    rmSync(dir, { recursive: true, force: true });
  }
  return run;
}

/** Runs the clock drills one after the other against one server; `failures` of all runs gathered. */
export async function runClockDrills(o: ClockDrillOptions & { maxWarnings?: number }) {
  const httpsPort = o.tls ? await freePort() : 0;
  // Errors of the server (a 500 of the content API) are printed: a drill failing on one must say why.
  const server = await startTestServer({
    LOG_LEVEL: 'error',
    ...(o.tls ? { HTTPS_PORT: httpsPort, PUBLIC_URL: `https://localhost:${httpsPort}` } : {}),
  });
  try {
    const admin = new HttpSession(server.httpUrl);
    if ((await admin.login('admin', TEST_ADMIN_PASSWORD)).status !== 200) throw new Error('admin login failed');
    const publish = await publisher(server.httpUrl, admin);
    const runs: ClockRun[] = [];
    for (const e of o.errors ?? CLOCK_ERRORS) {
      const r = await runOne(server, admin, publish, e, o);
      o.log(`  field clock ${e.name}: ${JSON.stringify({ ...r, warningSample: undefined })}`);
      runs.push(r);
    }
    const maxWarnings = o.maxWarnings ?? 3;
    const failures = runs.flatMap((r) => [
      ...r.failures.map((f) => `${r.error}: ${f}`),
      ...(r.warnings > maxWarnings
        ? [`${r.error}: ${r.warnings} warning lines (> ${maxWarnings}): ${r.warningSample.join(' | ')}`]
        : []),
    ]);
    return { runs, failures };
  } finally {
    await server.stop();
  }
}

export interface DiskFullDrillOptions {
  /** Size of the tmpfs the agent's data directory lives on. */
  tmpfsBytes: number;
  healthIntervalMs: number;
  /** Samples that must reach the server after the disk is full. */
  samplesAfterFull: number;
  /** An update published once the disk is full (it cannot be stored: `disk_full`, the page keeps what it shows). */
  updateBytes: number;
  timeoutS: number;
  log: (line: string) => void;
}

/**
 * The disk-full drill over the field link: the agent's data directory on a small tmpfs, filled to the last byte while
 * the agent runs behind the shaped link. Health must still reach the server (from memory, seq without gaps),
 * `disk_full` reported, the page still served with its verified file.
 */
export async function runFieldDiskFull(o: DiskFullDrillOptions) {
  const stand = await createFieldStand({
    log: o.log,
    agentDataTmpfsBytes: o.tmpfsBytes,
    agentEnv: { AGENT_HEALTH_INTERVAL_MS: String(o.healthIntervalMs), AGENT_DISK_RESERVE_MB: '0', AGENT_SYNC_JITTER_S: '0' },
  });
  const failures: string[] = [];
  try {
    const held = await stand.publish(sampleFiles.mp4(32 * 1024), 'Đang chiếu (on the kiosk before the disk filled)');
    stand.startAgent();
    const served = async (sha: string): Promise<boolean> => {
      const m = await stand.kiosk('/local/manifest', 3000);
      if ('error' in m || m.status !== 200 || !m.text.includes(sha)) return false;
      const f = await stand.kiosk(`/local/files/${sha}`, 5000);
      return !('error' in f) && f.status === 200;
    };
    if (!(await until(() => served(held.sha256), 60_000, 250))) {
      throw new Error(`the kiosk never showed its first content:\n${stand.agentLogTail()}`);
    }
    await until(() => stand.healthRows().length >= 2, 30_000, 250);
    // SQLite gives back its WAL (a checkpoint truncates it), then the disk is filled: the next sample needs a page
    // nobody has.
    const side = new Database(join(stand.agentDataDir, 'agent.db'));
    side.pragma('wal_checkpoint(TRUNCATE)');
    side.close();
    const filled = fillToTheLastByte(join(stand.agentDataDir, 'filler'));
    const fullAt = Date.now();
    const rowsAtFull = stand.healthRows().length;
    const update = await stand.publish(sampleFiles.mp4(o.updateBytes), 'Bản tin mới (no room for it)');
    const flowed = await until(() => stand.healthRows().length >= rowsAtFull + o.samplesAfterFull, o.timeoutS * 1000, 250);
    if (!flowed) {
      failures.push(
        `health stopped on the full disk: ${stand.healthRows().length - rowsAtFull} sample(s) in ${o.timeoutS} s:\n${stand.agentLogTail()}`,
      );
    }
    const reported = await until(() => stand.deviceEvents('disk_full') > 0, o.timeoutS * 1000, 250);
    if (!reported) failures.push(`no disk_full event at the server within ${o.timeoutS} s`);
    const stillServed = await served(held.sha256);
    if (!stillServed) failures.push('the page no longer serves its verified file on the full disk');
    const page = await stand.kiosk('/', 3000);
    const pageUp = !('error' in page) && page.status === 200;
    if (!pageUp) failures.push(`the kiosk page itself is not served: ${JSON.stringify(page).slice(0, 200)}`);
    const updateShown = await served(update.sha256);
    if (updateShown) failures.push('an update was shown although there was no room to store it (what was verified?)');
    const rows = stand.healthRows();
    const gaps = seqGaps(rows);
    if (gaps.length > 0) failures.push(`health seq gaps: ${gaps.slice(0, 20).join(', ')}`);
    const result = {
      tmpfsBytes: o.tmpfsBytes,
      fillerBytes: filled,
      samplesAfterFull: rows.length - rowsAtFull,
      secondsAfterFull: (Date.now() - fullAt) / 1000,
      diskFullEvents: stand.deviceEvents('disk_full'),
      pageServed: stillServed && pageUp,
      gaps: gaps.length,
    };
    o.log(`  field disk full: ${JSON.stringify(result)}`);
    return { ...result, failures };
  } finally {
    await stand.close();
  }
}

/**
 * The full-size drills of this file for `npm run bench -- --only field` (bench/run.ts): the disk-full drill on a
 * 64 MiB tmpfs behind the shaped link; the clock drills with a 1 MiB download paced at 64 KiB/s and the pairing code
 * watched for 30 s, first on plaintext loopback, then over TLS as in the field (https + mqtts, CA pinned with `#ca=`).
 * `quick` runs the sizes of `npm test`.
 */
export async function runFieldDrills(o: { quick: boolean; log: (line: string) => void }) {
  const { quick, log } = o;
  const clock = {
    downloadBytes: quick ? 96 * 1024 : 1024 * 1024,
    bandwidthBytesPerS: quick ? 48 * 1024 : 64 * 1024,
    watchPairingMs: quick ? 2000 : 30_000,
    pairingPollMs: quick ? 200 : 1000,
    log,
  };
  return {
    diskFull: await runFieldDiskFull({
      tmpfsBytes: (quick ? 16 : 64) * 2 ** 20,
      healthIntervalMs: quick ? 500 : 1000,
      samplesAfterFull: quick ? 5 : 30,
      updateBytes: (quick ? 0.25 : 10) * 2 ** 20,
      timeoutS: quick ? 30 : 120,
      log,
    }),
    clock: await runClockDrills(clock),
    clockTls: await runClockDrills({ ...clock, tls: true }),
  };
}
