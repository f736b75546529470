/**
 * The one composition function of the edge agent: parsed config in, running agent with `close()` out. It only wires:
 * what each part does lives in that part; the order of things lives in the lifecycle (agent/lifecycle.ts).
 *
 * Start order (the kiosk page comes first, from what was last verified, before anything that can fail):
 *   1. the page: the store's record of verified files and the signed manifest on disk (agent/verify.ts), served by
 *      the local server;
 *   2. the agent DB, set aside and rebuilt if corrupt (agent/agent-db.ts), health queue, view counts, settings;
 *   3. background re-verification of the content (agent/verify.ts);
 *   4. the lifecycle: pairing if needed, then enrolled (link, health, sync, commands).
 * Clock, health source, shell hooks and exit are injectable so tests and a fleet simulator can drive it.
 */
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import pino, { type Logger } from 'pino';
import {
  type DeviceFacts,
  type EnrollResponse,
  type EventMessage,
  type HealthSample,
  ManifestNotice,
  manifestFiles,
  pinnedCaBundle,
  type SyncMessage,
} from '../protocol/index.js';
import { getMeta, openAgentDbOrRebuild, setMeta } from './agent-db.js';
import { AgentClock, type CronSchedule, scheduleCron } from './clock.js';
import { createCommandHandlers, loadSettings, shellHook } from './command-handlers.js';
import { CommandRunner } from './commands.js';
import type { AgentConfig, AgentSettings } from './config.js';
import { ContentStore, type CurrentManifest } from './content-store.js';
import { ContentSync, type SyncOutcome, type SyncReason } from './content-sync.js';
import { HealthQueue } from './health-queue.js';
import { HealthReporter, samplesPerSend } from './health-sender.js';
import { type HealthSource, systemHealthSource } from './health-source.js';
import { Lifecycle } from './lifecycle.js';
import { EventOutbox } from './lifecycle-events.js';
import { assertSecureLink, pinnedFetch } from './link-security.js';
import { startLocalServer } from './local-server.js';
import { MqttLink } from './mqtt-link.js';
import { pairingServer, pairUntilClaimed, writeEnrollment } from './pairing.js';
import { runningRelease, startUpdater, type Updater } from './updater.js';
import { ContentVerifier, heldManifestUsable, loadLastVerified } from './verify.js';
import { AGENT_VERSION } from './version.js';
import { ViewStats } from './view-stats.js';
import { BrowserWatchdog, type WatchdogOptions } from './watchdog.js';

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
  /** Browser watchdog timings (agent/watchdog.ts); tests shorten them. */
  watchdog?: Partial<WatchdogOptions>;
}

export interface RunningAgent {
  readonly kioskPort: number;
  deviceId(): string | null;
  online(): boolean;
  /** Resolves once the agent is enrolled and its link, health and sync are running. */
  enrolled(): Promise<void>;
  /** Takes one health sample now and sends it with what is held (the interval timer holds it for its batch). */
  collectHealth(): Promise<HealthSample | null>;
  sync(reason?: SyncReason): Promise<SyncOutcome>;
  current(): CurrentManifest | null;
  queueDepth(): number;
  settings(): AgentSettings;
  /** Runs a background re-verification pass of the stored content now (what its timer does). */
  verifyContent(): Promise<{ checked: number; bad: string[] } | null>;
  close(): Promise<void>;
}

/** The event that tells the server what starting on a bad agent DB cost. */
function dbIncidentEvent(incident: NonNullable<ReturnType<typeof openAgentDbOrRebuild>['incident']>) {
  return incident.kind === 'rebuilt'
    ? {
        type: 'agent_db_rebuilt',
        severity: 'error' as const,
        message:
          `agent.db was not usable (${incident.reason}); set aside as ${incident.quarantinedAs} and rebuilt. Lost with it: ` +
          'unsent health samples and view counts, settings from set_config, and the ids of commands already run.',
      }
    : {
        type: 'agent_db_unavailable',
        severity: 'critical' as const,
        message: `${incident.reason}; running on a database in memory: nothing the agent records survives a restart.`,
      };
}

function safely<T>(what: () => T, fallback: T): T {
  try {
    return what();
  } catch {
    return fallback;
  }
}

export async function createAgent(config: AgentConfig, deps: AgentDeps = {}): Promise<RunningAgent> {
  const clock = deps.clock ?? Date.now;
  const log = deps.log ?? pino({ level: config.logLevel, base: { part: 'agent' } });
  const runHook = deps.runHook ?? shellHook;
  const bootId = randomUUID();
  const life = new Lifecycle(log);
  // A config error, checked before anything starts (agent/link-security.ts); a paired enrollment is checked again.
  if (config.enrollment) assertSecureLink(config.enrollment.apiUrl, config.allowPlaintext, 'API URL');
  else if (!config.serverUrl) throw new Error('config has neither an enrollment nor a serverUrl to pair with');
  else pairingServer(config.serverUrl, config.allowPlaintext); // plaintext to another machine, or a bad #ca=: refused

  let enrollment: EnrollResponse | null = config.enrollment;
  let pairing: { code: string; expiresAt: string } | null = null;
  let link: MqttLink | null = null;
  let sync: ContentSync | null = null;
  let stats: ViewStats | null = null;
  // Over-the-air updates (agent/updater.ts), when the agent runs from a release installation.
  let updater: Updater | null = null;
  let healthAcked = false;
  const releaseVersion = config.releaseRoot ? await runningRelease(config.releaseRoot) : null;

  // 1. The page, from what was last verified.
  const store = new ContentStore(config.dataDir, clock);
  const boot = await loadLastVerified(store, enrollment, log);
  // Until the sync has judged the manifest with the whole trust (the DB's keys document too), the boot view stands.
  let syncReady = false;
  const onScreen = (): CurrentManifest | null => (syncReady ? (sync?.currentManifest ?? null) : boot.current);
  // The page's heartbeat (agent/watchdog.ts): the launcher restarts a browser whose page stopped beating.
  const watchdog = new BrowserWatchdog({ clock, log, ...deps.watchdog });
  watchdog.start();
  const local = await startLocalServer(
    {
      deviceId: () => enrollment?.deviceId ?? null,
      siteId: () => enrollment?.siteId ?? null,
      online: () => link?.online ?? false,
      pairing: () => pairing,
      current: onScreen,
      clock,
      serverNow: () => safely(() => time.serverNow(), clock()), // validity on the server's time (`time` is made below, before any request)
      store,
      recordViews: (views) => stats?.record(views),
      watchdog,
    },
    config.uiDir,
    config.kioskPort,
  );
  log.info({ port: local.port, seq: boot.current?.signed.manifest.seq ?? 0 }, 'kiosk server on 127.0.0.1');

  // 2. The agent DB and what lives in it.
  const outbox = new EventOutbox(clock);
  const { db, incident } = openAgentDbOrRebuild(config.dataDir, clock());
  if (incident) {
    const event = dbIncidentEvent(incident);
    log.error({ incident }, event.message);
    outbox.add(event.type, event.severity, event.message);
  }
  // Ids of commands long past their expiry can no longer be redelivered.
  safely(() => db.prepare('DELETE FROM commands WHERE at < ?').run(clock() - 180 * 86_400_000), null);
  // Durations on the monotonic clock, expiry on the server's time; the offset is kept across restarts (agent/clock.ts).
  const time = new AgentClock({
    wall: clock,
    initialOffsetMs: Number(safely(() => getMeta(db, 'clock.offsetMs'), null) ?? 0) || 0,
    onOffset: (ms) => safely(() => setMeta(db, 'clock.offsetMs', String(Math.round(ms))), null),
  });
  let settings = safely(() => loadSettings(db, config.settings), config.settings);
  stats = new ViewStats(db, clock);
  const queue = new HealthQueue(db, config.queueLimit, { seqFile: join(config.dataDir, 'health-seq') });
  const health = new HealthReporter({
    queue,
    source: deps.healthSource ?? systemHealthSource(config.dataDir),
    queueLimit: config.queueLimit,
    clock,
    log,
    contentSeq: () => sync?.currentManifest?.signed.manifest.seq ?? 0,
    // Samples go out in batches, one publish per send interval (config.healthSendIntervalMs; docs/agent.md).
    samplesPerSend: () => samplesPerSend(config.healthSendIntervalMs, config.healthIntervalMs ?? settings.healthIntervalS * 1000),
  });

  // 3. Background re-verification: the screen's files first, then the target's.
  const verifier = new ContentVerifier({
    store,
    wanted: async () => {
      const target = await store.readTarget();
      return [onScreen(), target].filter((m) => m !== null).flatMap((m) => manifestFiles(m.signed.manifest).map((f) => f.sha256));
    },
    intervalMs: config.verifyIntervalMs,
    bytesPerSecond: config.verifyBytesPerSecond,
    log,
    onBad: (bad) => {
      outbox.add(
        'content_corrupted',
        'error',
        `${bad.length} stored file(s) failed their hash check, quarantined: ${bad.join(', ')}`,
      );
      if (link?.online) void flushOutbox();
      void sync?.trigger('retry');
    },
  });
  verifier.start();

  const publishEvent = (type: string, severity: EventMessage['severity'], message: string): Promise<void> =>
    link
      ? link.publish('events', { type, severity, message: message.slice(0, 4000), ts: clock() } satisfies EventMessage)
      : Promise.reject(new Error('not enrolled'));
  const flushOutbox = (): Promise<void> =>
    outbox.flush((e) => (link ? link.publish('events', e) : Promise.reject(new Error('not enrolled'))));
  // A screen that died (and came back) is told to the department, through the outbox like every event.
  watchdog.setPublisher(async (e) => {
    outbox.add(e.type, e.severity, e.message);
    if (link?.online) void flushOutbox();
  });
  const flushStats = (): void => {
    const l = link;
    if (!l?.online) return;
    stats?.flush((days) => l.publish('stats', { days })).catch(() => {});
  };

  let healthTimer: NodeJS.Timeout | null = null;
  let cronTask: CronSchedule | null = null;
  /** The timer's sample is held for its batch; `sendNow` (the RunningAgent hook for tests and simulators) sends it. */
  /** Set by every connect (onUp below): that connect's first sample goes out at once. */
  let sendNextAtOnce = false;
  const collectHealth = async (sendNow = false): Promise<HealthSample | null> => {
    if (life.closing) return null;
    const atOnce = sendNow || sendNextAtOnce;
    sendNextAtOnce = false;
    const sample = await health.collect({ sendNow: atOnce });
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
    cronTask?.stop();
    // The next slot from the server-time estimate, waited for on a monotonic timer: a clock step skips, never floods.
    cronTask = scheduleCron(settings.syncCron, time, () => {
      void sync?.trigger('cron');
      void updater?.check();
    });
  };

  /** Link, sync, commands and the timers of an enrolled kiosk. */
  const startEnrolled = async (e: EnrollResponse): Promise<void> => {
    // Refuses (throws) a plaintext link to another machine unless the config allows it (agent/link-security.ts).
    assertSecureLink(e.apiUrl, config.allowPlaintext, 'API URL');
    const pinnedCas = (): string | undefined => pinnedCaBundle(s.trustState.document, e.caPem);
    const l = new MqttLink({
      url: e.mqttUrl,
      deviceId: e.deviceId,
      secret: e.secret,
      // The CAs of the keys document held (tlsCas), else the enrollment CA; read again at each reconnect (DESIGN §7).
      ca: pinnedCas,
      serverTime: () => time.serverNow(),
      keysVersion: () => s.trustState.document?.document.version,
      allowPlaintext: config.allowPlaintext,
      agentVersion: releaseVersion ?? AGENT_VERSION,
      bootId,
      reconnectBaseMs: deps.reconnectBaseMs ?? 1000,
      reconnectCapMs: config.reconnectCapMs,
      keepaliveS: config.mqttKeepaliveS,
      clock,
      log,
      onUp: () => {
        health.onLinkUp();
        // The first sample after a connect goes out at once, not with a batch: the technician who just enrolled the
        // kiosk, and an updated agent proving itself (agent/updater.ts waits for an acknowledged sample), wait one
        // sampling interval, not a send interval.
        sendNextAtOnce = true;
        void flushOutbox();
        void commands.flushUnreported();
        flushStats();
        // A notice may have been missed while away; with an ETag the check costs one small request.
        void sync?.trigger('reconnect');
        void updater?.flush().then(() => updater?.check());
      },
      onDown: () => {},
      onMessage: (kind, payload) => {
        if (kind === 'commands') {
          commands.handle(payload).catch((err: Error) => log.error({ err: err.message }, 'command handling failed'));
          return;
        }
        let notice: unknown;
        try {
          notice = JSON.parse(payload.toString('utf8'));
        } catch {
          return;
        }
        if (ManifestNotice.safeParse(notice).success) void s.trigger('notice');
        void updater?.check();
      },
    });
    const s = new ContentSync({
      deviceId: e.deviceId,
      apiUrl: e.apiUrl,
      secret: e.secret,
      manifestKey: e.manifestKey,
      rootKey: e.rootKey,
      fetch: pinnedFetch(pinnedCas, () => time.serverNow()),
      // The DB's copy, else the file's (a rebuilt DB has none).
      loadKeys: () => safely(() => getMeta(db, 'keys_document'), null) ?? boot.keysJson,
      saveKeys: (json) => {
        safely(() => setMeta(db, 'keys_document', json), null);
        store.writeKeysCopy(json).catch((err: Error) => log.warn({ err: err.message }, 'keys.json not written'));
        l.republishStatus();
      },
      store,
      settings: () => settings,
      clock,
      time,
      triggerJitterMs: config.syncJitterMs,
      log,
      publishSync: (msg) => {
        // ts tells a real repeat of the same report from a resend of it (DESIGN §5).
        l.publish('sync', { ...msg, ts: clock() } satisfies SyncMessage).catch(() => {});
      },
      publishEvent: (type, severity, message) => void publishEvent(type, severity, message).catch(() => {}),
      onApplied: () => {},
      diskReserveBytes: config.diskReserveBytes,
      retryBaseMs: deps.syncRetryBaseMs,
      random: deps.random,
    });
    // A held target is used again (a 304) only if it still passes checkManifest with the trust held now.
    store.setHeldCheck((signed) => heldManifestUsable(signed, s.trustState, e.deviceId, new Date(time.serverNow())));
    const commands = new CommandRunner(
      db,
      createCommandHandlers({
        db,
        hooks: config.hooks,
        runHook,
        sync: () => s.trigger('command'),
        settings: () => settings,
        applySettings: (next) => {
          settings = next;
          startHealthTimer();
          startCron();
        },
        restart: () => void agent.close().then(() => deps.exit?.()),
      }),
      (id, result) => l.publishCommandResult(id, result),
      clock,
      time,
    );
    sync = s;
    await s.init();
    syncReady = true;
    health.attach({
      get online() {
        return l.online;
      },
      publish: async (kind, payload) => {
        await l.publish(kind, payload);
        if (kind === 'health') healthAcked = true;
      },
      publishEvent,
    });
    link = l;
    l.start();
    if (config.releaseRoot && releaseVersion) {
      const restart = () => void agent.close().then(() => deps.exit?.());
      const u = {
        root: config.releaseRoot,
        deviceId: e.deviceId,
        apiUrl: e.apiUrl,
        secret: e.secret,
        fetch: pinnedFetch(pinnedCas, () => time.serverNow()),
      };
      updater = await startUpdater({
        ...u,
        link: l,
        kioskPort: local.port,
        healthAcked: () => healthAcked,
        trust: () => s.trustState,
        settings: () => settings,
        clock,
        log,
        restart,
        proveWithinMs: config.updateProveMs,
        ...(config.updateNeedsHeartbeat ? { heartbeat: () => watchdog.status().state === 'alive' } : {}),
      });
      void updater.check();
    }
    startHealthTimer();
    startCron();
    void s.trigger('start');
  };

  // 4. The lifecycle.
  const running = life.run({
    starting: async () => {
      if (!enrollment) return 'pairing';
      await startEnrolled(enrollment);
      return 'enrolled';
    },
    pairing: async (signal) => {
      const claimed = await pairUntilClaimed({
        serverUrl: config.serverUrl as string,
        pollMs: config.pairingPollMs,
        log,
        signal,
        onCode: (p) => {
          pairing = p;
          if (p) log.info({ code: p.code }, 'waiting for a technician to claim this pairing code');
        },
        facts: deps.facts,
        time,
        allowPlaintext: config.allowPlaintext,
      });
      if (!claimed || life.closing) return null;
      if (config.configPath) await writeEnrollment(config.configPath, claimed);
      enrollment = claimed;
      log.info({ deviceId: claimed.deviceId }, 'paired');
      await startEnrolled(claimed);
      return 'enrolled';
    },
  });

  const agent: RunningAgent = {
    kioskPort: local.port,
    deviceId: () => enrollment?.deviceId ?? null,
    online: () => link?.online ?? false,
    enrolled: () => life.reached('enrolled'),
    collectHealth: () => collectHealth(true),
    sync: (reason = 'command') => (sync ? sync.trigger(reason) : Promise.reject(new Error('not enrolled'))),
    current: () => sync?.currentManifest ?? null,
    queueDepth: () => queue.depth(),
    settings: () => settings,
    verifyContent: () => verifier.runPass(),
    async close() {
      if (life.closing) return;
      life.enter('closing');
      if (healthTimer) clearInterval(healthTimer);
      watchdog.stop();
      cronTask?.stop();
      await running.catch(() => {});
      await verifier.close();
      await sync?.close();
      await updater?.close();
      // The samples held for the next batch go out now (what is not acknowledged in time stays queued on disk).
      if (link?.online) await health.drain(2000);
      await link?.close();
      await local.close();
      await store.saveRecord();
      queue.close();
      db.close();
      life.enter('closed');
    },
  };

  if (enrollment) {
    // Enrolled by config: createAgent resolves once link, health and sync run (or rejects, stopping what started).
    try {
      await running;
    } catch (err) {
      await agent.close();
      throw err;
    }
  } else {
    running.catch((err: Error) => log.error({ err: err.message }, 'pairing stopped'));
  }
  return agent;
}
