/**
 * Issue 1/7: a failing database gives refusals and alerts, never a crash. Real server, real aedes + mqtt.js.
 * The server's own connection is made to fail as a full or read-only disk would (`PRAGMA query_only`: every write
 * fails with SQLITE_READONLY) and so that reads of the devices table fail (renamed away). On the code before
 * this change, a device subscribing to its commands with one queued threw from `markCommandSent` inside aedes'
 * `subscribe` event and the process died; a login whose row could not be read threw from `authenticate`.
 */
import type { MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { topics } from '../protocol/index.js';
import {
  addDevice,
  connectDevice,
  healthSample,
  startTestServer,
  type TestServer,
  waitFor,
} from '../server/testing/test-server.js';
import { deviceClients } from './helpers/device-clients.js';

let server: TestServer;
const clients = deviceClients();
const device = (id: string, secret: string) => clients.connect(server.mqttUrl, id, secret);
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(async () => {
  clients.endAll();
  await server?.stop();
});

const one = (sql: string, ...params: unknown[]) =>
  server.db
    .prepare(sql)
    .pluck()
    .get(...params);
async function metric(series: string): Promise<number> {
  const text = await (await fetch(`${server.httpUrl}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line ? Number(line.slice(series.length + 1)) : 0;
}
/** Resolves 'acked' on PUBACK, 'refused' if the connection closes or nothing comes within `ms`. */
function publishOutcome(client: MqttClient, topic: string, payload: string, ms = 2000): Promise<'acked' | 'refused'> {
  return Promise.race([
    client.publishAsync(topic, payload, { qos: 1 }).then(
      () => 'acked' as const,
      () => 'refused' as const,
    ),
    new Promise<'refused'>((resolve) => client.once('close', () => resolve('refused'))),
    new Promise<'refused'>((resolve) => setTimeout(() => resolve('refused'), ms)),
  ]);
}

describe('a failing database', () => {
  it('refuses a publish, keeps a command queued and refuses a login it cannot check, without crashing; all goes through once it recovers', async () => {
    const listener = addDevice(server, 'kiosk-db-listener');
    const publisher = addDevice(server, 'kiosk-db-publisher');
    const late = addDevice(server, 'kiosk-db-late');
    const { id: commandId } = server.fleet.sendCommand({
      deviceId: listener.id,
      type: 'sync_now',
      params: {},
      createdBy: 'admin',
      ttlMs: 600_000,
    });
    const listening = await device(listener.id, listener.secret);
    const received: string[] = [];
    listening.on('message', (topic, payload) => {
      if (topic === topics.commands(listener.id)) received.push((JSON.parse(payload.toString()) as { id: string }).id);
    });
    const publishing = await device(publisher.id, publisher.secret);
    await waitFor(
      () => one('SELECT count(*) FROM devices WHERE online = 1 AND id IN (?, ?)', listener.id, publisher.id) === 2,
      'online',
    );
    const dbErrorsBefore = await metric('fleet_db_errors_total{op="deliver_commands",code="SQLITE_READONLY"}');

    // The devices table cannot be read, and the disk turns read-only: every write fails.
    server.db.exec('ALTER TABLE devices RENAME TO devices_out_of_reach');
    server.db.pragma('query_only = ON');

    // SUBSCRIBE with a command queued: marking it sent fails, so it is not sent and stays queued (was: crash).
    await listening.subscribeAsync(topics.commands(listener.id), { qos: 1 });
    await waitFor(
      async () => (await metric('fleet_db_errors_total{op="deliver_commands",code="SQLITE_READONLY"}')) > dbErrorsBefore,
      'the failed delivery counted',
    );
    expect(one('SELECT status FROM commands WHERE id = ?', commandId)).toBe('queued');
    expect(received).toEqual([]);

    // A publish is not acknowledged (nothing was stored), and counted.
    const refusedBefore = await metric('fleet_mqtt_refused_total{what="publish_not_stored"}');
    const health = JSON.stringify({ samples: [healthSample(1)] });
    expect(await publishOutcome(publishing, topics.health(publisher.id), health)).toBe('refused');
    expect(one('SELECT count(*) FROM health WHERE device_id = ?', publisher.id)).toBe(0);
    expect(await metric('fleet_mqtt_refused_total{what="publish_not_stored"}')).toBe(refusedBefore + 1);

    // A login that cannot be checked is refused as "server unavailable" (was: crash).
    const connectRefusedBefore = await metric('fleet_mqtt_refused_total{what="connect"}');
    await expect(connectDevice(server.mqttUrl, late.id, late.secret)).rejects.toThrow(/Server unavailable/i);
    expect(await metric('fleet_mqtt_refused_total{what="connect"}')).toBe(connectRefusedBefore + 1);
    expect(await metric('fleet_db_errors_total{op="authenticate",code="SQLITE_ERROR"}')).toBeGreaterThanOrEqual(1);

    // The process is alive and answering.
    expect((await fetch(`${server.httpUrl}/metrics`)).status).toBe(200);
    expect(listening.connected).toBe(true);
    await new Promise((r) => setTimeout(r, 1500)); // a retry of the delivery has failed meanwhile
    expect(received).toEqual([]);

    // The database recovers: the queued command reaches the still-listening device without a reconnect,
    // the publisher's resend is acknowledged and stored, the login goes through.
    server.db.pragma('query_only = OFF');
    server.db.exec('ALTER TABLE devices_out_of_reach RENAME TO devices');
    await waitFor(() => received.includes(commandId), 'the queued command delivered after recovery', 10_000);
    expect(one('SELECT status FROM commands WHERE id = ?', commandId)).toBe('sent');
    const again = publishing.connected ? publishing : await device(publisher.id, publisher.secret);
    expect(await publishOutcome(again, topics.health(publisher.id), health)).toBe('acked');
    expect(one('SELECT count(*) FROM health WHERE device_id = ?', publisher.id)).toBe(1);
    await device(late.id, late.secret);
  }, 30_000);
});
