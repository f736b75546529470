/**
 * The one composition function of the edge agent: parsed config in, running agent with `close()` out.
 * Clock, health source, shell hooks and exit are injectable so tests and a fleet simulator can drive it.
 */
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import cron, { type ScheduledTask } from 'node-cron';
import pino, { type Logger } from 'pino';
import {
  type DeviceFacts,
  DeviceSettings,
  type EnrollResponse,
  type EventMessage,
  type HealthSample,
  ManifestNotice,
  type SyncMessage,
} from '../protocol/index.js';
import { type AgentDb, getMeta, openAgentDb, setMeta } from './agent-db.js';
import { CommandRunner } from './commands.js';
import type { AgentConfig, AgentSettings } from './config.js';
import { ContentStore, type CurrentManifest } from './content-store.js';
import { ContentSync, type SyncOutcome, type SyncReason } from './content-sync.js';
import { HealthQueue } from './health-queue.js';
import { HealthSender } from './health-sender.js';
import { type HealthSource, systemHealthSource } from './health-source.js';
import { assertSecureLink, pinnedFetch } from './link-security.js';
import { startLocalServer } from './local-server.js';
import { MqttLink } from './mqtt-link.js';
import { pairUntilClaimed, writeEnrollment } from './pairing.js';
import { AGENT_VERSION } from './version.js';
import { ViewStats } from './view-stats.js';

export interface AgentDeps {
  clock?: () => number;
  healthSource?: HealthSource;
  log?: Logger;
  /** Runs a configured shell command (reboot, restart, screenshot); returns its output. */
  runHook?: (command: string) => Promise<string>;
  /** Ends the process after `restart_agent` when no restart command is configured (systemd starts it again). */
  exit?: () => void;
  facts?: DeviceFacts;
  /** Start backoff of reconnects and sync retries (ms); tests shorten them. */
  reconnectBaseMs?: number;
  syncRetryBaseMs?: number;
  /** Source of backoff jitter (tests pin it to make retry delays exact). */
  random?: () => number;
}

export interface RunningAgent {
  readonly kioskPort: number;
  deviceId(): string | null;
  online(): boolean;
  /** Resolves once the agent is enrolled and its link, health and sync are running. */
  enrolled(): Promise<void>;
  /** Takes one health sample now (what the interval timer does). */
  collectHealth(): Promise<HealthSample | null>;
  sync(reason?: SyncReason): Promise<SyncOutcome>;
  current(): CurrentManifest | null;
  queueDepth(): number;
  settings(): AgentSettings;
  close(): Promise<void>;
}

function shellHook(command: string): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile('/bin/sh', ['-c', command], { timeout: 60_000 }, (err, stdout, stderr) =>
      err ? reject(new Error(`${command}: ${stderr.trim() || err.message}`)) : resolve(stdout.trim().slice(0, 4000)),
    );
  });
}

function loadSettings(db: AgentDb, base: AgentSettings): AgentSettings {
  const saved = DeviceSettings.safeParse(JSON.parse(getMeta(db, 'settings') ?? '{}'));
  return { ...base, ...(saved.success ? saved.data : {}) };
}

export async function createAgent(config: AgentConfig, deps: AgentDeps = {}): Promise<RunningAgent> {
  const clock = deps.clock ?? Date.now;
  const log = deps.log ?? pino({ level: config.logLevel, base: { part: 'agent' } });
  const runHook = deps.runHook ?? shellHook;
  const bootId = randomUUID();
  await mkdir(config.dataDir, { recursive: true });
  const db = openAgentDb(config.dataDir);
  // Ids of commands long past their expiry can no longer be redelivered.
  db.prepare('DELETE FROM commands WHERE at < ?').run(clock() - 180 * 86_400_000);
  let settings = loadSettings(db, config.settings);
  const store = new ContentStore(config.dataDir);
  const { corrupted } = await store.init();
  if (corrupted.length > 0) log.error({ corrupted }, 'stored files failed their hash check and were removed');
  const queue = new HealthQueue(db, config.queueLimit);
  const stats = new ViewStats(db, clock);
  const healthSource = deps.healthSource ?? systemHealthSource(config.dataDir);

  let enrollment: EnrollResponse | null = config.enrollment;
  let pairing: { code: string; expiresAt: string } | null = null;
  let link: MqttLink | null = null;
  let sync: ContentSync | null = null;
  let sender: HealthSender | null = null;
  let healthTimer: NodeJS.Timeout | null = null;
  let cronTask: ScheduledTask | null = null;
  let closed = false;
  const pairingAbort = new AbortController();
  let markEnrolled: () => void = () => {};
  const enrolledPromise = new Promise<void>((resolve) => {
    markEnrolled = resolve;
  });

  const publishEvent = (type: string, severity: EventMessage['severity'], message: string): void => {
    link
      ?.publish('events', { type, severity, message: message.slice(0, 4000), ts: clock() } satisfies EventMessage)
      .catch(() => {});
  };

  const local = await startLocalServer(
    {
      deviceId: () => enrollment?.deviceId ?? null,
      siteId: () => enrollment?.siteId ?? null,
      online: () => link?.online ?? false,
      pairing: () => pairing,
      current: () => sync?.currentManifest ?? null,
      clock,
      store,
      recordViews: (views) => stats.record(views),
    },
    config.uiDir,
    config.kioskPort,
  );
  log.info({ port: local.port }, 'kiosk server on 127.0.0.1');

  /** Reports drops not yet reported (the count also rides on every sample as `queueDropped`). */
  const reportDrops = (): void => {
    const dropped = queue.dropped();
    const reported = Number(getMeta(db, 'health.droppedReported') ?? '0');
    if (!link?.online || dropped <= reported) return;
    link
      .publish('events', {
        type: 'health_queue_dropped',
        severity: 'warning',
        message: `health queue full (${config.queueLimit}): ${dropped - reported} oldest samples dropped (${dropped} in total)`,
        ts: clock(),
      } satisfies EventMessage)
      .then(() => setMeta(db, 'health.droppedReported', String(dropped)))
      .catch(() => {});
  };

  const flushStats = (): void => {
    if (!link?.online) return;
    const l = link;
    stats.flush((days) => l.publish('stats', { days })).catch(() => {});
  };

  const collectHealth = async (): Promise<HealthSample | null> => {
    if (closed) return null;
    const reading = await healthSource.read();
    const { sample, droppedNow } = queue.enqueue(reading, clock(), sync?.currentManifest?.signed.manifest.seq ?? 0);
    if (droppedNow > 0) log.warn({ droppedNow, total: sample.queueDropped }, 'health queue full; oldest dropped');
    sender?.sendLive(sample);
    reportDrops();
    flushStats();
    return sample;
  };

  const startHealthTimer = (): void => {
    if (healthTimer) clearInterval(healthTimer);
    const ms = config.healthIntervalMs ?? settings.healthIntervalS * 1000;
    healthTimer = setInterval(() => {
      collectHealth().catch((err: Error) => log.error({ err: err.message }, 'health sample failed'));
    }, ms);
  };

  const startCron = (): void => {
    void cronTask?.destroy();
    cronTask = cron.schedule(settings.syncCron, () => {
      void sync?.trigger('cron');
    });
  };

  const startEnrolled = async (e: EnrollResponse): Promise<void> => {
    // Refuses (throws) a plaintext link to another machine unless the config allows it (agent/link-security.ts).
    assertSecureLink(e.apiUrl, config.allowPlaintext, 'API URL');
    const l = new MqttLink({
      url: e.mqttUrl,
      deviceId: e.deviceId,
      secret: e.secret,
      ca: e.caPem,
      allowPlaintext: config.allowPlaintext,
      agentVersion: AGENT_VERSION,
      bootId,
      reconnectBaseMs: deps.reconnectBaseMs ?? 1000,
      reconnectCapMs: config.reconnectCapMs,
      clock,
      log,
      onUp: () => {
        sender?.pump();
        void commands.flushUnreported();
        reportDrops();
        flushStats();
        // A notice may have been missed while away; with an ETag the check costs one small request.
        void sync?.trigger('notice');
      },
      onDown: () => {},
      onMessage: (kind, payload) => {
        if (kind === 'commands') void commands.handle(payload);
        else {
          let notice: unknown;
          try {
            notice = JSON.parse(payload.toString('utf8'));
          } catch {
            return;
          }
          if (ManifestNotice.safeParse(notice).success) void s.trigger('notice');
        }
      },
    });
    const s = new ContentSync({
      deviceId: e.deviceId,
      apiUrl: e.apiUrl,
      secret: e.secret,
      manifestKey: e.manifestKey,
      rootKey: e.rootKey,
      fetch: pinnedFetch(e.caPem),
      loadKeys: () => getMeta(db, 'keys_document'),
      saveKeys: (json) => setMeta(db, 'keys_document', json),
      store,
      settings: () => settings,
      clock,
      log,
      publishSync: (msg) => {
        // ts tells a real repeat of the same report from a resend of it (DESIGN §5).
        l.publish('sync', { ...msg, ts: clock() } satisfies SyncMessage).catch(() => {});
      },
      publishEvent,
      onApplied: () => {},
      diskReserveBytes: config.diskReserveBytes,
      retryBaseMs: deps.syncRetryBaseMs,
      random: deps.random,
    });
    const commands = new CommandRunner(
      db,
      {
        sync_now: async () => {
          const outcome = await s.trigger('command');
          if (outcome.state === 'failed' || outcome.state === 'rejected') {
            throw new Error(`sync ${outcome.state}: ${'error' in outcome ? outcome.error : outcome.reason}`);
          }
          return `sync ${outcome.state}`;
        },
        reboot: async () => {
          if (!config.hooks.reboot) throw new Error('reboot is not configured on this device');
          return runHook(config.hooks.reboot);
        },
        restart_agent: async () => {
          if (config.hooks.restartAgent) return runHook(config.hooks.restartAgent);
          // No command: end the process and let the service manager start it again.
          setTimeout(() => {
            void agent.close().then(() => deps.exit?.());
          }, 200);
          return 'restarting';
        },
        set_config: async (params) => {
          if (params.syncCron !== undefined && !cron.validate(params.syncCron))
            throw new Error(`invalid syncCron ${params.syncCron}`);
          const saved = DeviceSettings.parse({ ...JSON.parse(getMeta(db, 'settings') ?? '{}'), ...params });
          setMeta(db, 'settings', JSON.stringify(saved));
          settings = { ...settings, ...params };
          startHealthTimer();
          startCron();
          return `settings now ${JSON.stringify(settings)}`;
        },
        screenshot: async () => {
          if (!config.hooks.screenshot) throw new Error('screenshot is not supported on this device');
          return runHook(config.hooks.screenshot);
        },
      },
      (id, result) => l.publishCommandResult(id, result),
      clock,
    );
    sync = s;
    await s.init();
    sender = new HealthSender(queue, l);
    link = l;
    if (corrupted.length > 0) publishEvent('content_corrupted', 'error', `removed ${corrupted.length} corrupted file(s)`);
    l.start();
    startHealthTimer();
    startCron();
    void s.trigger('start');
    markEnrolled();
  };

  if (enrollment) {
    await startEnrolled(enrollment);
  } else {
    if (!config.serverUrl) throw new Error('config has neither an enrollment nor a serverUrl to pair with');
    const serverUrl = config.serverUrl;
    void (async () => {
      const claimed = await pairUntilClaimed({
        serverUrl,
        pollMs: config.pairingPollMs,
        log,
        signal: pairingAbort.signal,
        onCode: (p) => {
          pairing = p;
          if (p) log.info({ code: p.code }, 'waiting for a technician to claim this pairing code');
        },
        facts: deps.facts,
      });
      if (!claimed || closed) return;
      if (config.configPath) await writeEnrollment(config.configPath, claimed);
      enrollment = claimed;
      log.info({ deviceId: claimed.deviceId }, 'paired');
      await startEnrolled(claimed);
    })().catch((err: Error) => log.error({ err: err.message }, 'pairing stopped'));
  }

  const agent: RunningAgent = {
    kioskPort: local.port,
    deviceId: () => enrollment?.deviceId ?? null,
    online: () => link?.online ?? false,
    enrolled: () => enrolledPromise,
    collectHealth,
    sync: (reason = 'command') => (sync ? sync.trigger(reason) : Promise.reject(new Error('not enrolled'))),
    current: () => sync?.currentManifest ?? null,
    queueDepth: () => queue.depth(),
    settings: () => settings,
    async close() {
      if (closed) return;
      closed = true;
      pairingAbort.abort();
      if (healthTimer) clearInterval(healthTimer);
      await cronTask?.destroy();
      await sync?.close();
      await link?.close();
      await local.close();
      db.close();
    },
  };
  return agent;
}
