/**
 * A kiosk in the field, for the drills of issue 14: the real server (`server/main.ts`) in the field link's server
 * namespace, one real agent (`agent/main.ts --config FILE`) in the kiosk namespace, joined only by the shaped veth
 * (bench/lib/field-link.ts). The kiosk is enrolled the way the field does it: an enrollment token made by the admin,
 * `POST /api/v1/enroll` over HTTPS from the kiosk's side trusting only the server's CA, and the agent then speaks
 * `mqtts://` and `https://` to the server's namespace address with that CA pinned.
 *
 * The parent (a test or the bench) stays in the root namespace: it reaches the two sides through a helper process in
 * each namespace (bench/lib/field-control.ts) and reads the server's SQLite file directly (read-only).
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { createWriteStream, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import Database from 'better-sqlite3';
import { openDatabase } from '../../server/db/open-database.js';
import { seedReferenceData } from '../../server/db/seed.js';
import type { ControlReply, ControlRequest } from './field-control.js';
import { createFieldLink, type FieldLink } from './field-link.js';

const ROOT = resolve(import.meta.dirname, '..', '..');
const ADMIN_PASSWORD = 'field-admin-password';
/** Fixed ports are safe: they exist only inside this run's namespaces. */
const PORTS = { http: 8080, mqtt: 1883, https: 8443, mqtts: 8883, kiosk: 8090 } as const;
export const FIELD_SITE = 'gl-c-iao';

export interface FieldStandOptions {
  rateKbit?: number;
  /** Environment of every agent start (AGENT_HEALTH_INTERVAL_MS, AGENT_RECONNECT_CAP_S, …). */
  agentEnv?: Record<string, string>;
  /** Settings in the agent's config file (healthIntervalS, …). */
  agentConfig?: Record<string, unknown>;
  log?: (line: string) => void;
  /** The agent's data directory is a tmpfs of this many bytes (the disk-full drill; root mounts it, close unmounts). */
  agentDataTmpfsBytes?: number;
}

export interface FieldStand {
  link: FieldLink;
  deviceId: string;
  /** Where the run keeps its files (server data, agent data and config, logs). */
  dir: string;
  serverDataDir: string;
  agentDataDir: string;
  /** Starts the agent in the kiosk namespace (again, after a kill). */
  startAgent(): ChildProcess;
  /** SIGKILL of the agent; resolves when it is gone. */
  killAgent(): Promise<void>;
  /** SIGTERM (the agent's own clean stop). */
  stopAgent(): Promise<void>;
  agentRunning(): boolean;
  /** Publishes one video item through the admin API and the workflow; returns its file. */
  publish(bytes: Buffer, title: string): Promise<{ sha256: string; size: number }>;
  /** A request to the agent's local server (http://127.0.0.1:8090 inside the kiosk namespace). */
  kiosk(path: string, timeoutMs?: number): Promise<{ status: number; text: string } | { error: string }>;
  /** The device's stored health rows, in key order. */
  healthRows(): Array<{ series: number; seq: number; deviceTs: number; receivedTs: number }>;
  /** The last lines the agent printed (LOG_LEVEL warn by default), for a failure message. */
  agentLogTail(lines?: number): string;
  /** Server-side `seq_restart` events of the device (the server saw its seq start over). */
  seqRestarts(): number;
  /** The device's events of `type` the server stored (from the agent or the server itself). */
  deviceEvents(type: string): number;
  close(): Promise<void>;
}

function spawnControl(link: FieldLink, ns: string) {
  const [cmd, args] = link.inNs(ns, [process.execPath, '--import', 'tsx', join(ROOT, 'bench/lib/field-control.ts')]);
  const child = spawn(cmd, args, { cwd: ROOT, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  let next = 1;
  const waiting = new Map<number, (r: ControlReply) => void>();
  child.on('message', (m: ControlReply) => {
    waiting.get(m.id)?.(m);
    waiting.delete(m.id);
  });
  child.on('exit', () => {
    for (const w of waiting.values()) w({ id: 0, error: 'field control process exited' });
    waiting.clear();
  });
  return {
    request(r: Omit<ControlRequest, 'id'>): Promise<ControlReply> {
      const id = next++;
      return new Promise((ok) => {
        waiting.set(id, ok);
        child.send({ ...r, id });
      });
    },
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((r) => child.once('exit', r));
      if (child.connected) child.disconnect();
      const t = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(t);
    },
  };
}

async function stopChild(child: ChildProcess | null, signal: NodeJS.Signals, graceMs = 20_000): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  child.kill(signal);
  const force = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(force);
}

export async function createFieldStand(o: FieldStandOptions = {}): Promise<FieldStand> {
  const log = o.log ?? (() => {});
  const dir = mkdtempSync(join(tmpdir(), 'field-stand-'));
  const serverDataDir = join(dir, 'server');
  const agentDataDir = join(dir, 'agent-data');
  const cleanups: Array<() => Promise<void> | void> = [() => rmSync(dir, { recursive: true, force: true })];
  const close = async () => {
    for (const c of cleanups.reverse()) await Promise.resolve(c()).catch(() => {});
    cleanups.length = 0;
  };
  try {
    const link = await createFieldLink({ rateKbit: o.rateKbit ?? 256 });
    cleanups.push(() => link.close());
    mkdirSync(serverDataDir, { recursive: true });
    const seeded = openDatabase(join(serverDataDir, 'fleet.db'));
    seedReferenceData(seeded);
    seeded.close();

    // The server, in its namespace, on the namespace's address.
    const publicUrl = `https://${link.serverAddress}:${PORTS.https}`;
    const [scmd, sargs] = link.inNs(link.serverNs, [process.execPath, '--import', 'tsx', 'server/main.ts']);
    const server = spawn(scmd, sargs, {
      cwd: ROOT,
      env: {
        ...process.env,
        DATA_DIR: serverDataDir,
        HTTP_PORT: String(PORTS.http),
        MQTT_PORT: String(PORTS.mqtt),
        HTTPS_PORT: String(PORTS.https),
        MQTTS_PORT: String(PORTS.mqtts),
        PUBLIC_URL: publicUrl,
        ADMIN_PASSWORD,
        LOG_LEVEL: 'warn',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const serverLog = createWriteStream(join(dir, 'server.log'));
    server.stderr?.pipe(serverLog);
    cleanups.push(() => stopChild(server, 'SIGTERM'));
    await new Promise<void>((ok, fail) => {
      let out = '';
      const timer = setTimeout(() => fail(new Error(`server did not start within 60 s: ${out}`)), 60_000);
      let err = '';
      server.stderr?.on('data', (c: Buffer) => {
        err += c.toString();
      });
      server.once('exit', (code) => fail(new Error(`server exited with ${code} before it was ready: ${out}${err}`)));
      server.stdout?.on('data', (chunk: Buffer) => {
        out += chunk.toString();
        if (/CA fingerprint/.test(out)) {
          clearTimeout(timer);
          server.stdout?.removeAllListeners('data');
          server.stderr?.removeAllListeners('data');
          server.stdout?.pipe(serverLog);
          ok();
        }
      });
    });
    log(`  field: server up in ${link.serverNs} at ${publicUrl}`);

    const serverSide = spawnControl(link, link.serverNs);
    const kioskSide = spawnControl(link, link.kioskNs);
    cleanups.push(
      () => serverSide.stop(),
      () => kioskSide.stop(),
    );
    const local = `http://127.0.0.1:${PORTS.http}`;
    const call = async (r: Omit<ControlRequest, 'id'>, side = serverSide) => {
      const reply = await side.request(r);
      if ('error' in reply) throw new Error(`${r.method ?? 'GET'} ${r.url}: ${reply.error}`);
      return reply;
    };
    const sessionOf = async (username: string, password: string) => {
      const login = await call({
        url: `${local}/api/v1/auth/login`,
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ username, password }),
      });
      if (login.status !== 200) throw new Error(`login ${username}: HTTP ${login.status} ${login.text}`);
      const cookie = login.cookies.map((c) => c.split(';')[0]).join('; ');
      return async (method: string, path: string, body?: unknown, bodyFile?: string, contentType?: string) => {
        const res = await call({
          url: `${local}${path}`,
          method,
          headers: {
            cookie,
            ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
            ...(contentType ? { 'content-type': contentType } : {}),
          },
          ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
          ...(bodyFile ? { bodyFile } : {}),
          timeoutMs: 120_000,
        });
        return res;
      };
    };
    const admin = await sessionOf('admin', ADMIN_PASSWORD);
    const user = async (username: string, role: string) => {
      const res = await admin('POST', '/api/v1/users', { username, role, password: `${username}-password` });
      if (res.status !== 201) throw new Error(`user ${username}: HTTP ${res.status} ${res.text}`);
      return sessionOf(username, `${username}-password`);
    };
    const editor = await user('field.editor', 'editor');
    const approver = await user('field.approver', 'approver');

    // Enrollment as in the field: token from the admin, the request from the kiosk's side over HTTPS, CA pinned.
    const created = await admin('POST', '/api/v1/enrollment-tokens', { siteId: FIELD_SITE });
    if (created.status !== 201) throw new Error(`enrollment token: HTTP ${created.status} ${created.text}`);
    const token = (JSON.parse(created.text) as { tokens: Array<{ token: string }> }).tokens[0]?.token;
    const caFile = join(serverDataDir, 'tls', 'ca.pem');
    const enrolled = await call(
      {
        url: `${publicUrl}/api/v1/enroll`,
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          token,
          facts: { serial: 'SN-FIELD-1', model: 'KIOSK-55', mac: '02:00:00:00:77:02', hostname: 'kiosk-field-1' },
        }),
        caFile,
      },
      kioskSide,
    );
    if (enrolled.status !== 201) throw new Error(`enroll: HTTP ${enrolled.status} ${enrolled.text}`);
    const enrollment = JSON.parse(enrolled.text) as { deviceId: string; mqttUrl: string; apiUrl: string };
    if (!enrollment.mqttUrl.startsWith('mqtts://') || !enrollment.apiUrl.startsWith('https://')) {
      throw new Error(`enrollment handed out a plaintext link: ${enrollment.mqttUrl} ${enrollment.apiUrl}`);
    }
    const configPath = join(dir, 'agent.json');
    writeFileSync(
      configPath,
      JSON.stringify({ ...enrollment, dataDir: agentDataDir, kioskPort: PORTS.kiosk, ...o.agentConfig }),
      { mode: 0o600 },
    );
    log(`  field: ${enrollment.deviceId} enrolled over ${enrollment.apiUrl}, MQTT ${enrollment.mqttUrl}`);

    if (o.agentDataTmpfsBytes) {
      // Mounted before the agent's namespace is entered (`ip netns exec` copies the mounts); unmounted after it is gone.
      mkdirSync(agentDataDir, { recursive: true });
      execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${o.agentDataTmpfsBytes}`, 'tmpfs', agentDataDir]);
      cleanups.push(() => {
        execFileSync('umount', ['-l', agentDataDir]);
      });
    }
    let agent: ChildProcess | null = null;
    const agentLog = createWriteStream(join(dir, 'agent.log'), { flags: 'a' });
    cleanups.push(() => stopChild(agent, 'SIGKILL'));
    const running = () => agent !== null && agent.exitCode === null && agent.signalCode === null;
    let db: Database.Database | null = null;
    const serverDb = () => {
      db ??= new Database(join(serverDataDir, 'fleet.db'), { readonly: true, fileMustExist: true });
      return db;
    };
    cleanups.push(() => {
      db?.close();
    });

    const stand: FieldStand = {
      link,
      deviceId: enrollment.deviceId,
      dir,
      serverDataDir,
      agentDataDir,
      startAgent() {
        if (running()) throw new Error('the agent is already running');
        const [cmd, args] = link.inNs(link.kioskNs, [
          process.execPath,
          '--import',
          'tsx',
          'agent/main.ts',
          '--config',
          configPath,
        ]);
        const child = spawn(cmd, args, {
          cwd: ROOT,
          env: { ...process.env, LOG_LEVEL: 'warn', AGENT_RECONNECT_CAP_S: '2', ...o.agentEnv },
          stdio: ['ignore', 'pipe', 'pipe'],
        });
        child.stdout?.pipe(agentLog, { end: false });
        child.stderr?.pipe(agentLog, { end: false });
        agent = child;
        return child;
      },
      killAgent: () => stopChild(agent, 'SIGKILL'),
      stopAgent: () => stopChild(agent, 'SIGTERM'),
      agentRunning: running,
      async publish(bytes, title) {
        const file = join(dir, `upload-${Date.now()}.bin`);
        writeFileSync(file, bytes);
        try {
          const made = await editor('POST', '/api/v1/content', { kind: 'video' });
          if (made.status !== 201) throw new Error(`create: HTTP ${made.status} ${made.text}`);
          const { id } = JSON.parse(made.text) as { id: string };
          const tr = await editor('PUT', `/api/v1/content/${id}/translations/vi`, { title });
          if (tr.status >= 300) throw new Error(`translation: HTTP ${tr.status} ${tr.text}`);
          const up = await editor('PUT', `/api/v1/content/${id}/translations/vi/file`, undefined, file, 'video/mp4');
          if (up.status !== 201) throw new Error(`upload: HTTP ${up.status} ${up.text}`);
          const uploaded = (JSON.parse(up.text) as { file: { sha256: string; size: number } }).file;
          for (const [step, who] of [
            ['submit', editor],
            ['approve', approver],
            ['publish', approver],
          ] as const) {
            const res = await who('POST', `/api/v1/content/${id}/${step}`);
            if (res.status !== 200) throw new Error(`${step}: HTTP ${res.status} ${res.text}`);
          }
          return uploaded;
        } finally {
          rmSync(file, { force: true });
        }
      },
      async kiosk(path, timeoutMs = 5000) {
        const reply = await kioskSide.request({ url: `http://127.0.0.1:${PORTS.kiosk}${path}`, timeoutMs });
        return 'error' in reply ? { error: reply.error } : { status: reply.status, text: reply.text };
      },
      healthRows: () =>
        serverDb()
          .prepare(
            `SELECT series, seq, device_ts AS deviceTs, received_ts AS receivedTs FROM health
             WHERE device_id = ? ORDER BY series, seq`,
          )
          .all(enrollment.deviceId) as Array<{ series: number; seq: number; deviceTs: number; receivedTs: number }>,
      agentLogTail(lines = 15) {
        try {
          return readFileSync(join(dir, 'agent.log'), 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
        } catch {
          return '';
        }
      },
      seqRestarts: () =>
        serverDb()
          .prepare(`SELECT count(*) FROM device_events WHERE device_id = ? AND type = 'seq_restart'`)
          .pluck()
          .get(enrollment.deviceId) as number,
      deviceEvents: (type) =>
        serverDb()
          .prepare('SELECT count(*) FROM device_events WHERE device_id = ? AND type = ?')
          .pluck()
          .get(enrollment.deviceId, type) as number,
      close,
    };
    return stand;
  } catch (error) {
    await close();
    throw error;
  }
}

/** Seqs missing between the first and the last stored one of each series (a gap = a sample lost). */
export function seqGaps(rows: Array<{ series: number; seq: number }>): number[] {
  const gaps: number[] = [];
  for (let i = 1; i < rows.length; i++) {
    const a = rows[i - 1] as { series: number; seq: number };
    const b = rows[i] as { series: number; seq: number };
    if (a.series !== b.series) continue;
    for (let s = a.seq + 1; s < b.seq; s++) gaps.push(s);
  }
  return gaps;
}
