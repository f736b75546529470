/**
 * The embedded MQTT broker (aedes) and the rules of DESIGN §5: a device logs in with its id and secret,
 * publishes only to its own device → server topics, subscribes only to its own `commands` and `manifest`.
 * Device publishes are handled inside `authorizePublish`: aedes sends the PUBACK of a QoS 1 publish only
 * after that callback (node_modules/aedes/lib/handlers/publish.js: authorizePublish, then enqueuePublish
 * writes the PubAck), so holding the callback until the group commit is done is "acknowledge after commit".
 * It is not back-pressure (aedes keeps reading meanwhile): `flow-control.ts` stops reading a device's socket
 * while too many of its publishes wait, and disconnects it if that persists.
 *
 * No database error escapes into aedes (its callbacks and events run on the socket's stack, so a throw there
 * ends the process): a failing database refuses (the connect with "server unavailable", the publish by not
 * acknowledging it, the command by leaving it queued and retrying), logs and counts `fleet_db_errors_total`.
 */

import type { IncomingMessage } from 'node:http';
import { type AddressInfo, createServer as createNetServer, type Server as NetServer } from 'node:net';
import { Aedes, type AuthenticateError, type Client, type Connection } from 'aedes';
import type { Logger } from 'pino';
import { CommandMessage, devicePublishTopic, LIMITS, ManifestNotice, mayDeviceSubscribe, topics } from '../../protocol/index.js';
import { type Command, markCommandSent, undeliveredCommands } from '../commands/commands-repo.js';
import type { Database } from '../db/open-database.js';
import type { ServerMetrics } from '../http/metrics.js';
import type { DeviceDataRepo } from '../ingest/device-data-repo.js';
import { type GroupCommitWriter, IngestQueueFullError } from '../ingest/group-commit.js';
import { verifyDeviceSecret } from '../registry/device-secret.js';
import { decommissionDevice, getDeviceRow } from '../registry/devices-repo.js';
import { createFlowControl, type FlowLimits } from './flow-control.js';
import type { MessageHandler } from './message-handler.js';
import { capPacketSize } from './packet-size-cap.js';

export interface DeviceBrokerDeps {
  db: Database;
  log: Logger;
  metrics: ServerMetrics;
  writer: GroupCommitWriter;
  data: DeviceDataRepo;
  messages: MessageHandler;
  /** Overrides of the per-device flow limits (tests). */
  flowLimits?: Partial<FlowLimits>;
}

const SERVER_UNAVAILABLE = 3;
const NOT_AUTHORIZED = 5;
/** After a database error, commands waiting for a listening device are tried again this often. */
export const COMMAND_RETRY_MS = 1000;
const FLOOD_EVENT_EVERY_MS = 3_600_000;
const DB_ERROR_LOG_EVERY_MS = 10_000;

/** What a consumed device message leaves in aedes' hands (shared: nothing may write into it). */
const EMPTY_PAYLOAD = Buffer.alloc(0);

/** The largest MQTT packet accepted (TCP or WebSocket): room for topic, packet id and MQTT 5 properties around the largest payload. */
export const MAX_MQTT_PACKET_BYTES = LIMITS.maxPayloadBytes + 4096;

function authError(message: string, returnCode = NOT_AUTHORIZED): AuthenticateError {
  return Object.assign(new Error(message), { returnCode }) as AuthenticateError;
}

/** The SQLite result code of a better-sqlite3 error (SQLITE_READONLY, SQLITE_FULL, SQLITE_BUSY, …), else 'other'. */
function dbCode(error: unknown): string {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' && code.startsWith('SQLITE') ? code : 'other';
}

export async function createDeviceBroker(deps: DeviceBrokerDeps) {
  const { db, metrics, writer, data, messages } = deps;
  const log = deps.log.child({ module: 'broker' });
  const deviceOf = new WeakMap<Client, string>();
  const connections = new Map<string, Set<Client>>();
  const listeningForCommands = new Set<string>();
  /** When each device's current connection began: a command sent since then is not sent again on it. */
  const connectedSince = new Map<string, number>();
  let tcp: NetServer | null = null;

  /**
   * A database operation failed: counted (the alert) and logged, once per operation per DB_ERROR_LOG_EVERY_MS
   * (an outage fails every device's every message); the caller refuses what it was doing.
   */
  const dbErrorLog = new Map<string, { at: number; unlogged: number }>();
  function dbFailed(op: string, err: unknown, context: Record<string, unknown>): void {
    metrics.dbErrors.inc({ op, code: dbCode(err) });
    const t = Date.now();
    const last = dbErrorLog.get(op);
    if (last && last.at + DB_ERROR_LOG_EVERY_MS > t) {
      last.unlogged++;
      return;
    }
    dbErrorLog.set(op, { at: t, unlogged: 0 });
    log.error(
      { err, op, ...context, alsoFailedSinceLastLog: last?.unlogged ?? 0 },
      `database error (${op}): refused (further ones within 10 s are only counted in fleet_db_errors_total)`,
    );
  }

  /** Presence writes that fail while shutting down are expected (the writer closed first); others are not. */
  function quiet(err: Error, deviceId: string, op: string): void {
    if (writer.isClosed) log.debug({ deviceId }, `${op}: shutting down`);
    else if (err instanceof IngestQueueFullError) log.warn({ deviceId, depth: err.depth }, `${op}: ingest queue full; skipped`);
    else dbFailed(op, err, { deviceId });
  }

  const floodEventAt = new Map<string, number>();
  const flow = createFlowControl({
    deviceOf: (client) => deviceOf.get(client),
    ingestFull: () => writer.isFull,
    onHeld(deviceId, detail) {
      metrics.throttled.inc();
      log.debug({ deviceId, ...detail }, 'device over its bound of unacknowledged publishes; not reading it');
    },
    onPersisting(deviceId, detail) {
      metrics.refused.inc({ what: 'flooding' });
      log.warn(
        { deviceId, ...detail },
        'device keeps publishing without waiting for its PUBACKs; disconnecting it (what it sent unacknowledged it must resend)',
      );
      for (const client of connections.get(deviceId) ?? []) client.close();
      // Shown with the device's events on the dashboard, once an hour at most (it reconnects and may do it again).
      const t = Date.now();
      if ((floodEventAt.get(deviceId) ?? Number.NEGATIVE_INFINITY) + FLOOD_EVENT_EVERY_MS > t) return;
      floodEventAt.set(deviceId, t);
      const message = `disconnected: over its bound of unacknowledged publishes ${detail.holds} times, ${Math.round(detail.heldMs)} ms in all (it does not wait for its PUBACKs)`;
      writer
        .submit(1, () => data.event(deviceId, 'server', { type: 'flooding', severity: 'warning', message, ts: t }, t))
        .catch((err: Error) => quiet(err, deviceId, 'record_event'));
    },
    limits: deps.flowLimits,
  });

  const aedes = await Aedes.createBroker({
    authenticate(client, username, password, done) {
      let verdict: string | AuthenticateError;
      try {
        verdict = checkLogin(client, username, password);
      } catch (error) {
        metrics.refused.inc({ what: 'connect' });
        dbFailed('authenticate', error, { username, clientId: client.id });
        verdict = authError('the server cannot read its database', SERVER_UNAVAILABLE);
      }
      if (typeof verdict !== 'string') return done(verdict, false);
      deviceOf.set(client, verdict);
      done(null, true);
    },

    authorizePublish(client, packet, done) {
      const deviceId = client ? deviceOf.get(client) : undefined;
      // No client: a will left over by another broker instance; nothing of ours to store.
      if (!client) return done(null);
      const topic = deviceId ? devicePublishTopic(deviceId, packet.topic) : null;
      if (!deviceId || !topic) {
        metrics.refused.inc({ what: 'publish' });
        log.warn({ deviceId, topic: packet.topic }, 'publish refused: not this device\u2019s topic; disconnecting it');
        return done(new Error('publish not allowed on this topic'));
      }
      const payload = Buffer.isBuffer(packet.payload) ? packet.payload : Buffer.from(packet.payload);
      // The server consumes device messages here; nothing needs them routed on (and no device may
      // subscribe to them), so an emptied payload keeps big or bad messages out of the broker's memory.
      // The retained `status` (and the will) is stored in SQLite, not in aedes: aedes matches every retained
      // message against each new SUBSCRIBE (aedes-persistence `retainedMessagesByPattern`), so 10 000 retained
      // statuses made each connect cost O(fleet) and a 10 000-device connect storm quadratic.
      packet.retain = false;
      packet.payload = EMPTY_PAYLOAD;
      consumed.add(packet);
      const settled = flow.begin(deviceId, payload.length);
      const refuse = (error: Error) => {
        settled();
        // Not committed, so not acknowledged: aedes closes the connection and the device sends it again.
        if (error instanceof IngestQueueFullError) {
          metrics.refused.inc({ what: 'ingest_full' });
          log.warn({ deviceId, topic: packet.topic, depth: error.depth }, 'ingest queue full; publish refused');
        } else if (writer.isClosed) {
          log.debug({ deviceId, topic: packet.topic }, 'publish during shutdown; not acknowledged');
        } else {
          metrics.refused.inc({ what: 'publish_not_stored' });
          dbFailed('ingest', error, { deviceId, topic: packet.topic });
        }
        done(error);
      };
      let stored: Promise<void>;
      const started = performance.now();
      try {
        stored = messages.handle(deviceId, topic, payload);
      } catch (error) {
        return refuse(error as Error);
      }
      stored.then(() => {
        metrics.ingestLatency.observe((performance.now() - started) / 1000);
        settled();
        done(null);
      }, refuse);
    },

    authorizeSubscribe(client, subscription, done) {
      const deviceId = deviceOf.get(client);
      if (!deviceId || !mayDeviceSubscribe(deviceId, subscription.topic)) {
        metrics.refused.inc({ what: 'subscribe' });
        log.warn({ deviceId, topic: subscription.topic }, 'subscription refused');
        // A null subscription is a negative SUBACK (0x80); the connection stays up.
        return done(null, null);
      }
      done(null, { ...subscription, qos: Math.min(subscription.qos, 1) as 0 | 1 });
    },
  });

  // Device → server messages are consumed above (stored, then acknowledged). Routing them on as aedes does
  // after every authorized publish (match against every persistent session's subscriptions, mqemitter, the
  // 'publish' event) is work for no receiver — no device may subscribe to them (mayDeviceSubscribe) — and it
  // grows with the fleet (the subscription trie): 13 µs of the server's main-thread time per message at
  // 10 000 kiosks (docs/performance.md). Skipped for exactly the packets consumed; the server's own publishes
  // (commands, manifest notices) are routed as before.
  const consumed = new WeakSet<object>();
  const route = aedes.publish.bind(aedes);
  aedes.publish = ((packet: Parameters<typeof route>[0], client: unknown, done?: (error?: Error) => void) => {
    const callback = typeof client === 'function' ? (client as (error?: Error) => void) : done;
    if (consumed.has(packet)) {
      consumed.delete(packet);
      callback?.();
      return;
    }
    (route as (p: unknown, c: unknown, d?: unknown) => void)(packet, client, done);
  }) as typeof aedes.publish;

  /** Who may log in (DESIGN §5): the device id a client logs in as, or why it is refused. Reads the database. */
  function checkLogin(client: Client, username: string | undefined, password: Buffer | undefined): string | AuthenticateError {
    const row = username ? getDeviceRow(db, username) : null;
    const ok =
      row !== null &&
      row.status !== 'decommissioned' &&
      password !== undefined &&
      verifyDeviceSecret(password.toString('utf8'), row.secret_hash);
    if (!ok) {
      metrics.refused.inc({ what: 'connect' });
      log.info({ username, clientId: client.id, known: row !== null, status: row?.status }, 'device login refused');
      return authError('bad device credentials');
    }
    // A session belongs to its client id: a device may use its own id (its persistent session), or a clean
    // `<id>-…` helper session that is no other device's id; otherwise it could take over another device's
    // session and its queued commands.
    const ownSession = client.id === row.id;
    const helperSession = client.id.startsWith(`${row.id}-`) && client.clean && getDeviceRow(db, client.id) === null;
    if (!ownSession && !helperSession) {
      metrics.refused.inc({ what: 'connect' });
      log.warn({ deviceId: row.id, clientId: client.id }, 'device login refused: client id is not its own');
      return authError('client id must be the device id');
    }
    return row.id;
  }

  aedes.on('clientReady', (client) => {
    const deviceId = deviceOf.get(client);
    if (!deviceId) return;
    const set = connections.get(deviceId) ?? new Set<Client>();
    set.add(client);
    connections.set(deviceId, set);
    const now = Date.now();
    connectedSince.set(deviceId, now);
    writer.submit(1, () => data.connected(deviceId, now)).catch((err: Error) => quiet(err, deviceId, 'record_connect'));
    // A persistent session may carry its subscription over: deliver what is waiting without a new SUBSCRIBE.
    const subs = (client as unknown as { subscriptions?: Record<string, unknown> }).subscriptions ?? {};
    if (topics.commands(deviceId) in subs) {
      listeningForCommands.add(deviceId);
      deliverPending(deviceId);
    }
  });

  aedes.on('clientDisconnect', (client) => {
    const deviceId = deviceOf.get(client);
    if (!deviceId) return;
    const set = connections.get(deviceId);
    set?.delete(client);
    if (set && set.size > 0) return;
    connections.delete(deviceId);
    listeningForCommands.delete(deviceId);
    connectedSince.delete(deviceId);
    writer.submit(1, () => data.offline(deviceId)).catch((err: Error) => quiet(err, deviceId, 'record_disconnect'));
  });

  aedes.on('subscribe', (subscriptions, client) => {
    const deviceId = deviceOf.get(client);
    if (!deviceId) return;
    if (subscriptions.some((s) => s.topic === topics.commands(deviceId) && (s.qos as number) !== 128)) {
      listeningForCommands.add(deviceId);
      deliverPending(deviceId);
    }
  });

  aedes.on('clientError', (client, error) => {
    log.debug({ clientId: client.id, deviceId: deviceOf.get(client), err: error.message }, 'client error');
  });

  const maxPacketBytes = MAX_MQTT_PACKET_BYTES;
  function handle(stream: Connection, request?: IncomingMessage): Client {
    const client = aedes.handle(stream, request);
    flow.attach(client, stream);
    capPacketSize(client, maxPacketBytes, (length) => {
      metrics.refused.inc({ what: 'oversized_packet' });
      log.warn({ clientId: client.id, deviceId: deviceOf.get(client), length }, 'packet over the size limit; disconnecting');
    });
    return client;
  }

  function publish(topic: string, payload: unknown): void {
    aedes.publish(
      { cmd: 'publish', topic, payload: Buffer.from(JSON.stringify(payload)), qos: 1, retain: false, dup: false },
      (error) => {
        if (error) log.error({ err: error, topic }, 'publish to a device failed');
      },
    );
  }

  /** Marks the command sent, then publishes it; throws (nothing published) when the database fails. */
  function sendOne(command: Command): void {
    const parsed = CommandMessage.safeParse({
      id: command.id,
      type: command.type,
      params: command.params,
      issuedAt: command.createdAt,
      expiresAt: command.expiresAt,
    });
    if (!parsed.success) {
      // Not a database failure: retrying would not help, and it must not hold back the commands after it.
      log.error(
        { commandId: command.id, issue: parsed.error.issues[0]?.message },
        'a stored command is not a valid message; not sent',
      );
      return;
    }
    const message = parsed.data;
    markCommandSent(db, command.id, Date.now());
    publish(topics.commands(command.deviceId), message);
  }

  /** Devices listening for commands whose delivery failed on a database error; tried again every COMMAND_RETRY_MS. */
  const retryDelivery = new Set<string>();
  let retryTimer: NodeJS.Timeout | null = null;
  function deliveryFailed(deviceId: string, error: unknown): void {
    dbFailed('deliver_commands', error, { deviceId });
    retryDelivery.add(deviceId);
    if (!retryTimer) {
      retryTimer = setTimeout(() => {
        retryTimer = null;
        for (const id of [...retryDelivery]) {
          retryDelivery.delete(id);
          if (listeningForCommands.has(id)) deliverPending(id);
        }
      }, COMMAND_RETRY_MS);
      retryTimer.unref();
    }
  }

  /**
   * Sends every command the device has not acknowledged yet and that was not already sent on this
   * connection (a restored persistent session and the agent's own re-SUBSCRIBE both lead here).
   * On a database error the rest stay queued and are tried again.
   */
  function deliverPending(deviceId: string): void {
    try {
      const since = connectedSince.get(deviceId) ?? 0;
      for (const command of undeliveredCommands(db, deviceId, Date.now())) {
        if (command.sentAt === null || command.sentAt < since) sendOne(command);
      }
    } catch (error) {
      deliveryFailed(deviceId, error);
    }
  }

  return {
    aedes,
    /** Accepts one MQTT connection (TCP socket or WebSocket stream). */
    handle,

    listen(host: string, port: number): Promise<AddressInfo> {
      const server = createNetServer((socket) => handle(socket));
      tcp = server;
      return new Promise((resolve, reject) => {
        server.once('error', reject);
        server.listen(port, host, () => resolve(server.address() as AddressInfo));
      });
    },

    connectedDevices: () => connections.size,
    isConnected: (deviceId: string) => connections.has(deviceId),

    /** Throws when the database fails (the HTTP layer answers with an error); the device stays connected then. */
    revokeDevice(deviceId: string): boolean {
      let revoked: boolean;
      try {
        revoked = decommissionDevice(db, deviceId);
      } catch (error) {
        dbFailed('revoke', error, { deviceId });
        throw error;
      }
      if (!revoked) return false;
      for (const client of connections.get(deviceId) ?? []) client.close();
      log.info({ deviceId }, 'device revoked and disconnected');
      return true;
    },

    notifyManifest(deviceId: string, seq: number): void {
      if (connections.has(deviceId)) publish(topics.manifest(deviceId), ManifestNotice.parse({ seq }));
    },

    /** Publishes a command now if the device listens for commands; otherwise (or if the database fails) it waits in the outbox. */
    deliverIfListening(command: Command): void {
      if (!listeningForCommands.has(command.deviceId)) return;
      try {
        sendOne(command);
      } catch (error) {
        deliveryFailed(command.deviceId, error);
      }
    },

    async close(): Promise<void> {
      flow.close();
      if (retryTimer) clearTimeout(retryTimer);
      retryTimer = null;
      await new Promise<void>((resolve) => aedes.close(() => resolve()));
      if (tcp) {
        const server = tcp;
        await new Promise<void>((resolve) => server.close(() => resolve()));
      }
    },
  };
}
export type DeviceBroker = Awaited<ReturnType<typeof createDeviceBroker>>;
