/**
 * The composition root of the central server (DESIGN §2): builds database, broker, ingest, HTTP API and
 * periodic jobs from one config object and returns handles to reach and close them. Nothing else starts work.
 */

import { randomUUID } from 'node:crypto';
import { mkdirSync, statfsSync, statSync } from 'node:fs';
import { createServer as createHttpServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import type { Duplex } from 'node:stream';
import { getRequestListener } from '@hono/node-server';
import { type Logger, pino } from 'pino';
import { createWebSocketStream, WebSocketServer } from 'ws';
import { createAudit } from './auth/audit.js';
import { createAuthMiddleware } from './auth/auth-middleware.js';
import { ensureFirstAdmin } from './auth/bootstrap-admin.js';
import { LoginLimiter } from './auth/login-limiter.js';
import type { BackupResult } from './backup/backup.js';
import { createBackupSchedule } from './backup/schedule.js';
import { createDeviceBroker, MAX_MQTT_PACKET_BYTES } from './broker/device-broker.js';
import { createMessageHandler } from './broker/message-handler.js';
import { insertCommand } from './commands/commands-repo.js';
import type { ServerConfig } from './config.js';
import { createContentServices, loadOrCreateSigningKeys } from './content/index.js';
import { type Database, openDatabase } from './db/open-database.js';
import { seedReferenceData } from './db/seed.js';
import { buildHttpApp } from './http/app.js';
import { createServerMetrics } from './http/metrics.js';
import { originFormOnly } from './http/request-target.js';
import type { FleetControl, RouteDeps, ServerUrls } from './http/route-deps.js';
import { routeModules } from './http/routes.js';
import { startCheckpointer } from './ingest/checkpointer.js';
import { createDeviceDataRepo } from './ingest/device-data-repo.js';
import { GroupCommitWriter } from './ingest/group-commit.js';
import { createMaintenance, maintenanceOptionsOf } from './ingest/maintenance.js';
import { markAllOffline } from './registry/devices-repo.js';
import { type ReleaseService, releaseServiceFor } from './releases/index.js';
import * as tls from './tls/index.js';

export interface RunningServer {
  /** Where the HTTP API listens (a loopback name when bound to every interface). */
  httpUrl: string;
  mqttUrl: string;
  wsUrl: string;
  /** The TLS listeners (docs/deployment.md); the plaintext URLs above are these when `PLAINTEXT=off`. */
  httpsUrl: string;
  mqttsUrl: string;
  wssUrl: string;
  /** The CA devices pin (PEM) and its SHA-256 fingerprint; null when the operator's certificate came without TLS_CA_FILE. */
  caPem: string | null;
  caFingerprint: string | null;
  /** SIGHUP: re-reads the operator's certificate files (or re-checks the generated one); connected clients stay. */
  reloadTls(): Promise<tls.TlsMaterial>;
  /** Re-issues the generated server certificate from the same CA now. */
  renewTls(): Promise<tls.TlsMaterial>;
  publicUrl: string;
  db: Database;
  fleet: FleetControl;
  /** Shorthand for `fleet.notifyManifest`: tells a connected device a newer manifest exists. */
  notifyManifest(deviceId: string, seq: number): void;
  /** The first admin's generated one-time password when this start created it, else null. */
  initialAdminPassword: string | null;
  /**
   * Takes a backup into BACKUP_DIR holding everything committed before the call (while one is under way: the next
   * one, started when it ends); rejects when BACKUP_DIR is not set.
   */
  backup(): Promise<BackupResult>;
  /** Flushes the ingest queue, then closes broker, HTTP and database. */
  close(): Promise<void>;
}

export interface CreateServerOptions {
  logger?: Logger;
  /**
   * The server can no longer keep its promise (the WAL's fsync failed: nothing more is acknowledged, and only a
   * restart reads back what is really on disk). main.ts exits so the service manager restarts it.
   */
  onFatal?: (error: Error) => void;
}

/** The path of an upgrade request's target, without parsing it as a URL (`//`, `//@` are not URLs). */
export function upgradePath(target: string | undefined): string {
  const path = target ?? '/';
  const end = path.search(/[?#]/);
  return end === -1 ? path : path.slice(0, end);
}

function reachableHost(host: string): string {
  if (host === '0.0.0.0' || host === '::') return 'localhost';
  return host.includes(':') ? `[${host}]` : host;
}

export async function createServer(config: ServerConfig, options: CreateServerOptions = {}): Promise<RunningServer> {
  const log = options.logger ?? pino({ level: config.LOG_LEVEL, base: { service: 'fleet-server' } });
  mkdirSync(config.DATA_DIR, { recursive: true });
  const dbFile = join(config.DATA_DIR, 'fleet.db');
  const db = openDatabase(dbFile);
  const closeDb = (): void => {
    db.close();
  };
  const cleanups: Array<() => Promise<void> | void> = [closeDb];
  try {
    const seeded = seedReferenceData(db);
    if (seeded.sites || seeded.plans) log.info(seeded, 'seeded reference data');
    const { generatedPassword } = await ensureFirstAdmin(db, config.ADMIN_PASSWORD);
    // Nobody is connected to a broker that has just started: presence left over from the last run is stale.
    markAllOffline(db);

    const metrics = createServerMetrics();
    const writer = new GroupCommitWriter(
      db,
      { maxBatch: config.INGEST_BATCH_SAMPLES, maxDelayMs: config.INGEST_BATCH_MS, queueLimit: config.INGEST_QUEUE_LIMIT },
      log.child({ module: 'ingest' }),
      {
        committed: ({ weight, durationMs }) => {
          metrics.ingestBatchSamples.observe(weight);
          metrics.ingestCommitSeconds.observe(durationMs / 1000);
          metrics.samplesCommitted.inc({}, weight);
        },
        failed: (error) => options.onFatal?.(error),
      },
    );
    cleanups.unshift(() => writer.close());
    const checkpointer = await startCheckpointer(db, log.child({ module: 'checkpoint' }), {
      writer,
      held: ({ complete, heldMs }) => metrics.checkpointHolds.observe({ complete: String(complete) }, heldMs / 1000),
      failed: (code) => metrics.dbErrors.inc({ op: 'checkpoint', code }),
    });
    // Stopped after the writer's last commit, before the database closes (which checkpoints what is left).
    cleanups.splice(cleanups.indexOf(closeDb), 0, () => checkpointer.close());
    const data = createDeviceDataRepo(db);
    let releases: ReleaseService | null = null;
    const messages = createMessageHandler({
      writer,
      data,
      metrics,
      log: log.child({ module: 'messages' }),
      releaseReport: (deviceId, message, received) => releases?.report(deviceId, message, received),
    });
    const broker = await createDeviceBroker({ db, log, metrics, writer, data, messages });
    // Closed after the writer flushed: what was committed gets its PUBACK before the sockets go.
    cleanups.splice(1, 0, () => broker.close());
    const tlsState = await tls.TlsState.open(tls.tlsSettings(config), log.child({ module: 'tls' }));
    tlsState.startRenewalChecks(tls.RENEWAL_CHECK_INTERVAL_MS);
    cleanups.push(() => tlsState.stop());
    // Plaintext MQTT only where PLAINTEXT allows it (loopback by default); MQTT over TLS on MQTT_HOST.
    const plainMqttHost = tls.plaintextHost(config.PLAINTEXT, config.MQTT_HOST);
    const mqttAddress = plainMqttHost === null ? null : await broker.listen(plainMqttHost, config.MQTT_PORT);
    const mqtts = await tls.listenMqtts((socket) => broker.handle(socket), tlsState, config.MQTT_HOST, config.MQTTS_PORT);
    cleanups.splice(2, 0, () => tls.closeTlsListener(mqtts));

    metrics.sources.devicesConnected = () => broker.connectedDevices();
    metrics.sources.ingestQueueDepth = () => writer.depth;
    metrics.sources.dbSizeBytes = () => {
      const size = (file: string) => {
        try {
          return statSync(file).size;
        } catch {
          return 0;
        }
      };
      return size(dbFile) + size(`${dbFile}-wal`);
    };
    metrics.sources.dataDirFreeBytes = () => {
      const fs = statfsSync(config.DATA_DIR);
      return fs.bavail * fs.bsize;
    };
    metrics.sources.dataDirSizeBytes = () => {
      const fs = statfsSync(config.DATA_DIR);
      return fs.blocks * fs.bsize;
    };
    metrics.sources.tlsNotAfterMs = () => tlsState.material.notAfter.getTime();

    const fleet: FleetControl = {
      revokeDevice: (deviceId) => broker.revokeDevice(deviceId),
      notifyManifest: (deviceId, seq) => broker.notifyManifest(deviceId, seq),
      connectedDevices: () => broker.connectedDevices(),
      sendCommand({ deviceId, type, params, createdBy, ttlMs }) {
        const now = Date.now();
        const command = insertCommand(db, {
          id: randomUUID(),
          deviceId,
          type,
          params,
          createdBy,
          createdAt: now,
          expiresAt: now + ttlMs,
        });
        broker.deliverIfListening(command);
        return { id: command.id };
      },
    };

    const backups = config.BACKUP_DIR
      ? createBackupSchedule({
          db,
          dataDir: config.DATA_DIR,
          backupDir: config.BACKUP_DIR,
          intervalMs: config.BACKUP_INTERVAL,
          retention: config.BACKUP_RETENTION,
          metrics,
          log: log.child({ module: 'backup' }),
        })
      : null;
    const urls: ServerUrls = { publicUrl: '', mqttUrl: '' };
    const signingKeys = await loadOrCreateSigningKeys(config.DATA_DIR);
    const audit = createAudit(db);
    const content = createContentServices({
      db,
      dataDir: config.DATA_DIR,
      keys: signingKeys,
      audit,
      notifyManifest: (deviceId, seq) => fleet.notifyManifest(deviceId, seq),
      maxUploadBytes: config.CONTENT_MAX_BYTES,
    });
    releases = releaseServiceFor({
      db,
      dataDir: config.DATA_DIR,
      audit,
      keyring: content.keyring,
      notifyManifest: fleet.notifyManifest,
    });
    // Rollouts move on by themselves (soak time over, next phase); a quiet check when none is open.
    const releaseTick = setInterval(() => {
      try {
        releases?.evaluate();
      } catch (err) {
        log.warn({ err: (err as Error).message }, 'rollout check failed; next tick retries');
      }
    }, 2_000);
    releaseTick.unref();
    cleanups.unshift(() => clearInterval(releaseTick));
    const deps: RouteDeps = {
      releases,
      content,
      signingKeys,
      config,
      db,
      log,
      metrics,
      auth: createAuthMiddleware(db),
      audit,
      loginLimiter: LoginLimiter.fromConfig(config),
      fleet,
      urls,
      backups,
    };
    const app = buildHttpApp(routeModules(deps), log.child({ module: 'http' }), {
      publicUrl: config.PUBLIC_URL,
      hsts: config.PLAINTEXT !== 'on',
    });
    const httpServerOptions = {
      // Every request must be whole within HTTP_REQUEST_TIMEOUT and its headers within HTTP_HEADERS_TIMEOUT;
      // Node checks both this often, so a client that drips a body or its headers is cut off.
      requestTimeout: config.HTTP_REQUEST_TIMEOUT,
      headersTimeout: Math.min(config.HTTP_HEADERS_TIMEOUT, config.HTTP_REQUEST_TIMEOUT || Number.MAX_SAFE_INTEGER),
      connectionsCheckingInterval: Math.min(30_000, Math.max(250, Math.floor(config.HTTP_HEADERS_TIMEOUT / 4))),
      maxHeaderSize: 16 * 1024,
    };
    // One request listener for HTTP and HTTPS: only origin-form targets reach the app.
    const requestListener = originFormOnly(getRequestListener(app.fetch));
    const http = createHttpServer(httpServerOptions, requestListener);
    http.maxHeadersCount = 100;

    // MQTT over WebSocket on the same HTTP server, at /mqtt. A WebSocket message carries at most one MQTT
    // packet from mqtt.js, so the packet cap is also the message cap (ws' own default is 100 MiB).
    const wss = new WebSocketServer({ noServer: true, maxPayload: MAX_MQTT_PACKET_BYTES });
    const onUpgrade = (request: IncomingMessage, socket: Duplex, head: Buffer): void => {
      socket.on('error', () => socket.destroy());
      if (upgradePath(request.url) !== '/mqtt') {
        socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
        return;
      }
      wss.handleUpgrade(request, socket, head, (ws) => {
        const stream = createWebSocketStream(ws);
        stream.on('error', () => ws.terminate());
        broker.handle(stream, request);
      });
    };
    http.on('upgrade', onUpgrade);
    // Plaintext HTTP only where PLAINTEXT allows it (loopback by default); HTTPS on HTTP_HOST.
    const plainHttpHost = tls.plaintextHost(config.PLAINTEXT, config.HTTP_HOST);
    if (plainHttpHost !== null) {
      await new Promise<void>((resolve, reject) => {
        http.once('error', reject);
        http.listen(config.HTTP_PORT, plainHttpHost, () => resolve());
      });
    }
    const https = await tls.listenHttps(
      { requestListener, onUpgrade, serverOptions: httpServerOptions, maxHeadersCount: 100 },
      tlsState,
      config.HTTP_HOST,
      config.HTTPS_PORT,
    );
    cleanups.splice(2, 0, () => tls.closeTlsListener(https));
    cleanups.splice(2, 0, async () => {
      for (const client of wss.clients) client.terminate();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
      http.closeAllConnections();
      await new Promise<void>((resolve) => http.close(() => resolve()));
    });
    const httpsPort = tls.addressOf(https).port;
    const mqttsPort = tls.addressOf(mqtts).port;
    const httpsUrl = `https://${reachableHost(config.HTTP_HOST)}:${httpsPort}`;
    const mqttsUrl = `mqtts://${reachableHost(config.MQTT_HOST)}:${mqttsPort}`;
    const wssUrl = `wss://${reachableHost(config.HTTP_HOST)}:${httpsPort}/mqtt`;
    const httpPort = plainHttpHost === null ? null : (http.address() as AddressInfo).port;
    const httpUrl = plainHttpHost === null ? httpsUrl : `http://${reachableHost(plainHttpHost)}:${httpPort}`;
    const mqttUrl =
      plainMqttHost === null || !mqttAddress ? mqttsUrl : `mqtt://${reachableHost(plainMqttHost)}:${mqttAddress.port}`;
    const wsUrl = plainHttpHost === null ? wssUrl : `ws://${reachableHost(plainHttpHost)}:${httpPort}/mqtt`;
    urls.publicUrl = config.PUBLIC_URL ?? httpUrl;
    // Devices get MQTT over TLS when PUBLIC_URL is https (or plaintext MQTT is off), with the CA to pin.
    const devicesUseTls = config.PUBLIC_URL?.startsWith('https:') || !mqttAddress;
    urls.mqttUrl = config.PUBLIC_URL
      ? `${devicesUseTls ? 'mqtts' : 'mqtt'}://${new URL(config.PUBLIC_URL).hostname}:${devicesUseTls ? mqttsPort : mqttAddress?.port}`
      : mqttUrl;
    const handOutCa = () => {
      urls.caPem = tlsState.material.caPem;
      urls.caFingerprint = tlsState.material.caFingerprint;
    };
    handOutCa();

    const maintenance = createMaintenance(
      db,
      maintenanceOptionsOf(config, content.store.root),
      log.child({ module: 'maintenance' }),
    );
    maintenance.start();
    cleanups.unshift(() => maintenance.stop());

    // Scheduled backups (docs/deployment.md, "Backup and restore"); stopped before the database closes.
    if (backups) {
      await backups.start();
      cleanups.unshift(() => backups.stop());
    }

    let closing: Promise<void> | null = null;
    return {
      httpUrl,
      mqttUrl,
      wsUrl,
      httpsUrl,
      mqttsUrl,
      wssUrl,
      get caPem() {
        return tlsState.material.caPem;
      },
      get caFingerprint() {
        return tlsState.material.caFingerprint;
      },
      reloadTls: () => tlsState.reload().finally(handOutCa),
      renewTls: () => tlsState.renew().finally(handOutCa),
      publicUrl: urls.publicUrl,
      db,
      fleet,
      notifyManifest: fleet.notifyManifest,
      initialAdminPassword: generatedPassword,
      backup() {
        if (!backups) return Promise.reject(new Error('no BACKUP_DIR is set: the server takes no backups'));
        return backups.runNow();
      },
      close() {
        closing ??= (async () => {
          for (const cleanup of cleanups) await cleanup();
        })();
        return closing;
      },
    };
  } catch (error) {
    for (const cleanup of cleanups) await cleanup();
    throw error;
  }
}
