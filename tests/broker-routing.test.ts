/**
 * Device → server messages are consumed by the server (stored, then acknowledged) and not routed on through
 * aedes: no device may subscribe to them, and routing each one (a match against every persistent session's
 * subscriptions, mqemitter, the 'publish' event) was main-thread time growing with the fleet. The server's own
 * publishes to devices are still routed. Real aedes, real mqtt.js, a real SQLite file.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { MqttClient } from 'mqtt';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { topics } from '../protocol/index.js';
import { createDeviceBroker, type DeviceBroker } from '../server/broker/device-broker.js';
import { createMessageHandler } from '../server/broker/message-handler.js';
import { type Database, openDatabase } from '../server/db/open-database.js';
import { createServerMetrics } from '../server/http/metrics.js';
import { createDeviceDataRepo } from '../server/ingest/device-data-repo.js';
import { GroupCommitWriter } from '../server/ingest/group-commit.js';
import { registerDevice } from '../server/registry/devices-repo.js';
import { connectDevice, healthSample } from '../server/testing/test-server.js';

let dir: string;
let db: Database;
let writer: GroupCommitWriter;
let broker: DeviceBroker;
let url: string;
const clients: MqttClient[] = [];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'broker-routing-'));
  db = openDatabase(join(dir, 'fleet.db'));
  const log = pino({ level: 'silent' });
  const metrics = createServerMetrics();
  writer = new GroupCommitWriter(db, { maxBatch: 1000, maxDelayMs: 5, queueLimit: 10_000 }, log);
  const data = createDeviceDataRepo(db);
  const messages = createMessageHandler({ writer, data, metrics, log });
  broker = await createDeviceBroker({ db, log, metrics, writer, data, messages });
  const address = await broker.listen('127.0.0.1', 0);
  url = `mqtt://127.0.0.1:${address.port}`;
});
afterAll(async () => {
  for (const c of clients) c.end(true);
  await broker?.close();
  writer?.close();
  db?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('routing of device messages', () => {
  it('stores and acknowledges a device\u2019s health, status and will without routing them; routes the server\u2019s own publishes', async () => {
    const id = 'kiosk-route';
    const secret = 'secret-of-kiosk-route-0123456789abcdef';
    registerDevice(db, { id, secret });
    const routed: string[] = [];
    broker.aedes.on('publish', (packet, client) => {
      if (client) routed.push(packet.topic);
    });
    // Its persistent session (client id = device id), subscribed to its commands and manifest, as the agent does.
    const client = await connectDevice(url, id, secret, {
      clientId: id,
      clean: false,
      will: {
        topic: topics.status(id),
        payload: Buffer.from(JSON.stringify({ online: false, ts: Date.now(), agentVersion: 't', bootId: 'b' })),
        qos: 1,
        retain: true,
      },
    });
    clients.push(client);
    await client.subscribeAsync([topics.commands(id), topics.manifest(id)], { qos: 1 });
    const received: string[] = [];
    client.on('message', (topic) => received.push(topic));
    const t = Date.now();
    await client.publishAsync(topics.status(id), JSON.stringify({ online: true, ts: t, agentVersion: 't', bootId: 'b' }), {
      qos: 1,
      retain: true,
    });
    for (let seq = 1; seq <= 20; seq++) {
      await client.publishAsync(topics.health(id), JSON.stringify({ samples: [healthSample(seq, t + seq)] }), { qos: 1 });
    }
    // Acknowledged = committed (DESIGN §5).
    expect(db.prepare('SELECT count(*) FROM health WHERE device_id = ?').pluck().get(id)).toBe(20);
    // The server's own publish to the device is routed and arrives.
    broker.notifyManifest(id, 7);
    const deadline = Date.now() + 5000;
    while (!received.includes(topics.manifest(id)) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    expect(received).toEqual([topics.manifest(id)]);
    // A dead link: aedes publishes the will, the server stores it (offline) and routes nothing.
    const online = () => db.prepare('SELECT online FROM devices WHERE id = ?').pluck().get(id);
    expect(online()).toBe(1);
    client.stream.destroy();
    const until = Date.now() + 5000;
    while (online() !== 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
    expect(online()).toBe(0);
    await new Promise((r) => setTimeout(r, 100));
    expect(routed).toEqual([]);
  });
});
