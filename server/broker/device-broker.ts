/**
 * The embedded MQTT broker (aedes) and the rules of DESIGN §5: a device logs in with its id and secret,
 * publishes only to its own device → server topics, subscribes only to its own `commands` and `manifest`.
 * Device publishes are handled inside `authorizePublish`: aedes sends the PUBACK of a QoS 1 publish only
 * after that callback (node_modules/aedes/lib/handlers/publish.js: authorizePublish, then enqueuePublish
 * writes the PubAck), and reads no more from that socket meanwhile; so holding the callback until the group
 * commit is done is both "acknowledge after commit" and per-device back-pressure.
 */

import type { IncomingMessage } from 'node:http';
import { type AddressInfo, createServer as createNetServer, type Server as NetServer } from 'node:net';
import { Aedes, type AuthenticateError, type Client, type Connection } from 'aedes';
import type { Logger } from 'pino';
import { CommandMessage, LIMITS, ManifestNotice, mayDevicePublish, mayDeviceSubscribe, topics } from '../../protocol/index.js';
import { type Command, markCommandSent, undeliveredCommands } from '../commands/commands-repo.js';
import type { Database } from '../db/open-database.js';
import type { ServerMetrics } from '../http/metrics.js';
import type { DeviceDataRepo } from '../ingest/device-data-repo.js';
import type { GroupCommitWriter } from '../ingest/group-commit.js';
import { verifyDeviceSecret } from '../registry/device-secret.js';
import { decommissionDevice, getDeviceRow } from '../registry/devices-repo.js';
import type { MessageHandler } from './message-handler.js';
import { capPacketSize } from './packet-size-cap.js';

export interface DeviceBrokerDeps {
  db: Database;
  log: Logger;
  metrics: ServerMetrics;
  writer: GroupCommitWriter;
  data: DeviceDataRepo;
  messages: MessageHandler;
}

const NOT_AUTHORIZED = 5;

/** The largest MQTT packet accepted (TCP or WebSocket): room for topic, packet id and MQTT 5 properties around the largest payload. */
export const MAX_MQTT_PACKET_BYTES = LIMITS.maxPayloadBytes + 4096;

function authError(message: string): AuthenticateError {
  return Object.assign(new Error(message), { returnCode: NOT_AUTHORIZED }) as AuthenticateError;
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

  /** Presence writes that fail while shutting down are expected (the writer closed first); others are not. */
  function quiet(err: Error, deviceId: string, what: string): void {
    if (writer.isClosed) log.debug({ deviceId }, `${what}: shutting down`);
    else log.error({ err, deviceId }, what);
  }

  const aedes = await Aedes.createBroker({
    authenticate(client, username, password, done) {
      const row = username ? getDeviceRow(db, username) : null;
      const ok =
        row !== null &&
        row.status !== 'decommissioned' &&
        password !== undefined &&
        verifyDeviceSecret(password.toString('utf8'), row.secret_hash);
      if (!ok) {
        metrics.refused.inc({ what: 'connect' });
        log.info({ username, clientId: client.id, known: row !== null, status: row?.status }, 'device login refused');
        done(authError('bad device credentials'), false);
        return;
      }
      // A session belongs to its client id: a device may use its own id (its persistent session), or a clean
      // `<id>-…` helper session that is no other device's id; otherwise it could take over another device's
      // session and its queued commands.
      const ownSession = client.id === row.id;
      const helperSession = client.id.startsWith(`${row.id}-`) && client.clean && getDeviceRow(db, client.id) === null;
      if (!ownSession && !helperSession) {
        metrics.refused.inc({ what: 'connect' });
        log.warn({ deviceId: row.id, clientId: client.id }, 'device login refused: client id is not its own');
        done(authError('client id must be the device id'), false);
        return;
      }
      deviceOf.set(client, row.id);
      done(null, true);
    },

    authorizePublish(client, packet, done) {
      const deviceId = client ? deviceOf.get(client) : undefined;
      // No client: a will left over by another broker instance; nothing of ours to store.
      if (!client) return done(null);
      if (!deviceId || !mayDevicePublish(deviceId, packet.topic)) {
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
      packet.payload = Buffer.alloc(0);
      messages.handle(deviceId, packet.topic, payload).then(
        () => done(null),
        (error: Error) => {
          // Not committed, so not acknowledged: the device keeps the message and sends it again.
          log.error({ err: error, deviceId, topic: packet.topic }, 'could not store a device message');
          done(error);
        },
      );
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

  aedes.on('clientReady', (client) => {
    const deviceId = deviceOf.get(client);
    if (!deviceId) return;
    const set = connections.get(deviceId) ?? new Set<Client>();
    set.add(client);
    connections.set(deviceId, set);
    const now = Date.now();
    connectedSince.set(deviceId, now);
    writer
      .submit(1, () => data.connected(deviceId, now))
      .catch((err: Error) => quiet(err, deviceId, 'could not record a connect'));
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
    writer.submit(1, () => data.offline(deviceId)).catch((err: Error) => quiet(err, deviceId, 'could not record a disconnect'));
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

  function sendOne(command: Command): void {
    const message = CommandMessage.parse({
      id: command.id,
      type: command.type,
      params: command.params,
      issuedAt: command.createdAt,
      expiresAt: command.expiresAt,
    });
    markCommandSent(db, command.id, Date.now());
    publish(topics.commands(command.deviceId), message);
  }

  /**
   * Sends every command the device has not acknowledged yet and that was not already sent on this
   * connection (a restored persistent session and the agent's own re-SUBSCRIBE both lead here).
   */
  function deliverPending(deviceId: string): void {
    const since = connectedSince.get(deviceId) ?? 0;
    for (const command of undeliveredCommands(db, deviceId, Date.now())) {
      if (command.sentAt === null || command.sentAt < since) sendOne(command);
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

    revokeDevice(deviceId: string): boolean {
      if (!decommissionDevice(db, deviceId)) return false;
      for (const client of connections.get(deviceId) ?? []) client.close();
      log.info({ deviceId }, 'device revoked and disconnected');
      return true;
    },

    notifyManifest(deviceId: string, seq: number): void {
      if (connections.has(deviceId)) publish(topics.manifest(deviceId), ManifestNotice.parse({ seq }));
    },

    /** Publishes a command now if the device listens for commands; otherwise it waits in the outbox. */
    deliverIfListening(command: Command): void {
      if (listeningForCommands.has(command.deviceId)) sendOne(command);
    },

    async close(): Promise<void> {
      await new Promise<void>((resolve) => aedes.close(() => resolve()));
      if (tcp) {
        const server = tcp;
        await new Promise<void>((resolve) => server.close(() => resolve()));
      }
    },
  };
}
export type DeviceBroker = Awaited<ReturnType<typeof createDeviceBroker>>;
