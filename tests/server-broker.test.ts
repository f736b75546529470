/** Issue 2/8: the broker's rules (DESIGN §5) with real mqtt.js devices against a real server on port 0. */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { LIMITS, topics } from '../protocol/index.js';
import {
  addDevice,
  connectDevice,
  HttpSession,
  healthSample,
  startTestServer,
  TEST_ADMIN_PASSWORD,
  type TestServer,
  waitFor,
} from '../server/testing/test-server.js';
import { deviceClients } from './helpers/device-clients.js';

let server: TestServer;
const clients = deviceClients();
const device = (id: string, secret: string, options = {}) => clients.connect(server.mqttUrl, id, secret, options);
const count = (sql: string, ...params: unknown[]) =>
  server.db
    .prepare(sql)
    .pluck()
    .get(...params) as number;
async function metric(name: string): Promise<string> {
  const text = await (await fetch(`${server.httpUrl}/metrics`)).text();
  return text
    .split('\n')
    .filter((line) => line.startsWith(name))
    .join('\n');
}

beforeAll(async () => {
  server = await startTestServer();
});
afterEach(() => {
  clients.endAll();
});
afterAll(async () => {
  await server?.stop();
});

describe('device connections', () => {
  it('accepts a registered device, stores its QoS 1 health before the PUBACK, and marks it active and online', async () => {
    const { id, secret } = addDevice(server, 'kiosk-ok');
    const client = await device(id, secret);
    await waitFor(() => count('SELECT online FROM devices WHERE id = ?', id) === 1, 'online');
    const t = Date.now();
    await client.publishAsync(topics.health(id), JSON.stringify({ samples: [healthSample(1, t), healthSample(2, t + 1)] }), {
      qos: 1,
    });
    // publishAsync resolved on PUBACK: the samples must already be committed.
    expect(count('SELECT count(*) FROM health WHERE device_id = ?', id)).toBe(2);
    // A retransmission (the same sample again) is deduplicated by (device, seq).
    await client.publishAsync(topics.health(id), JSON.stringify({ samples: [healthSample(2, t + 1), healthSample(3, t + 2)] }), {
      qos: 1,
    });
    expect(server.db.prepare('SELECT seq FROM health WHERE device_id = ? ORDER BY seq').pluck().all(id)).toEqual([1, 2, 3]);
    expect(server.db.prepare('SELECT status, first_seen IS NOT NULL AS seen FROM devices WHERE id = ?').get(id)).toEqual({
      status: 'active',
      seen: 1,
    });
  });

  it('refuses a wrong password, an unknown device and a revoked device', async () => {
    const { id } = addDevice(server, 'kiosk-pw');
    await expect(connectDevice(server.mqttUrl, id, 'not-the-secret')).rejects.toThrow(/Not authorized|refused/i);
    await expect(connectDevice(server.mqttUrl, 'nobody', 'whatever')).rejects.toThrow(/Not authorized|refused/i);

    const victim = addDevice(server, 'kiosk-revoked');
    const client = await device(victim.id, victim.secret);
    const closed = new Promise<void>((resolve) => client.once('close', () => resolve()));
    const admin = new HttpSession(server.httpUrl);
    await admin.login('admin', TEST_ADMIN_PASSWORD);
    const revoked = await admin.json<{ device: { status: string } }>('POST', `/api/v1/devices/${victim.id}/revoke`);
    expect(revoked).toMatchObject({ status: 200, body: { device: { status: 'decommissioned' } } });
    await closed; // disconnected at once
    await expect(connectDevice(server.mqttUrl, victim.id, victim.secret)).rejects.toThrow(/Not authorized|refused/i);
    expect(await metric('fleet_mqtt_refused_total{what="connect"}')).toMatch(/ [3-9]\d*$/);
  });

  it("refuses a client id that is another device's (no session takeover); its own id and clean `<id>-…` helpers are fine", async () => {
    const a = addDevice(server, 'kiosk-a');
    const b = addDevice(server, 'kiosk-a-1');
    const own = await device(b.id, b.secret, { clientId: b.id, clean: false });
    await expect(connectDevice(server.mqttUrl, a.id, a.secret, { clientId: b.id })).rejects.toThrow(/Not authorized|refused/i);
    await expect(connectDevice(server.mqttUrl, a.id, a.secret, { clientId: 'someone-else' })).rejects.toThrow(
      /Not authorized|refused/i,
    );
    await expect(connectDevice(server.mqttUrl, a.id, a.secret, { clientId: `${a.id}-check`, clean: false })).rejects.toThrow(
      /Not authorized|refused/i,
    );
    const helper = await device(a.id, a.secret, { clientId: `${a.id}-check` });
    expect(own.connected && helper.connected).toBe(true);
  });

  it('also serves MQTT over WebSocket at /mqtt', async () => {
    const { id, secret } = addDevice(server, 'kiosk-ws');
    const client = await clients.connect(server.wsUrl, id, secret);
    await client.publishAsync(topics.health(id), JSON.stringify({ samples: [healthSample(7)] }), { qos: 1 });
    expect(count('SELECT count(*) FROM health WHERE device_id = ?', id)).toBe(1);
  });
});

describe('misbehaving devices', () => {
  it('drops and counts bad payloads while the same and other devices keep being served', async () => {
    const bad = addDevice(server, 'kiosk-bad');
    const good = addDevice(server, 'kiosk-good');
    const badClient = await device(bad.id, bad.secret);
    const goodClient = await device(good.id, good.secret);

    await badClient.publishAsync(topics.health(bad.id), '{not json', { qos: 1 });
    await badClient.publishAsync(topics.health(bad.id), JSON.stringify({ samples: [{ seq: -1 }] }), { qos: 1 });
    await badClient.publishAsync(topics.events(bad.id), JSON.stringify({ type: 'x' }), { qos: 1 });
    // Over the payload limit but within the packet cap: read, then dropped.
    await badClient.publishAsync(topics.health(bad.id), Buffer.alloc(LIMITS.maxPayloadBytes + 1000, 0x7b), { qos: 1 });
    await goodClient.publishAsync(topics.health(good.id), JSON.stringify({ samples: [healthSample(1)] }), { qos: 1 });

    expect(badClient.connected).toBe(true);
    expect(count('SELECT count(*) FROM health WHERE device_id = ?', bad.id)).toBe(0);
    expect(count('SELECT count(*) FROM health WHERE device_id = ?', good.id)).toBe(1);
    const dropped = await metric('fleet_mqtt_bad_payloads_total');
    expect(dropped).toContain('fleet_mqtt_bad_payloads_total{kind="health",reason="invalid_json"} 1');
    expect(dropped).toContain('fleet_mqtt_bad_payloads_total{kind="health",reason="invalid_schema"} 1');
    expect(dropped).toContain('fleet_mqtt_bad_payloads_total{kind="events",reason="invalid_schema"} 1');
    expect(dropped).toContain('fleet_mqtt_bad_payloads_total{kind="health",reason="too_large"} 1');
    // Still served after all that.
    await badClient.publishAsync(topics.health(bad.id), JSON.stringify({ samples: [healthSample(1)] }), { qos: 1 });
    expect(count('SELECT count(*) FROM health WHERE device_id = ?', bad.id)).toBe(1);
  });

  it('cuts a device off as soon as it announces a 1 MB packet, without buffering it; others are served', async () => {
    const big = addDevice(server, 'kiosk-big');
    const other = addDevice(server, 'kiosk-other');
    const bigClient = await device(big.id, big.secret);
    const otherClient = await device(other.id, other.secret);
    const closed = new Promise<void>((resolve) => bigClient.once('close', () => resolve()));
    bigClient.publish(topics.health(big.id), Buffer.alloc(1024 * 1024, 0x7b), { qos: 1 });
    await closed;
    expect(await metric('fleet_mqtt_refused_total{what="oversized_packet"}')).toMatch(/ 1$/);
    await otherClient.publishAsync(topics.health(other.id), JSON.stringify({ samples: [healthSample(1)] }), { qos: 1 });
    expect(count('SELECT count(*) FROM health WHERE device_id = ?', other.id)).toBe(1);
  });

  it("disconnects a device that publishes on another device's topic, without touching the other", async () => {
    const intruder = addDevice(server, 'kiosk-intruder');
    const owner = addDevice(server, 'kiosk-owner');
    const intruderClient = await device(intruder.id, intruder.secret);
    const ownerClient = await device(owner.id, owner.secret);
    const closed = new Promise<void>((resolve) => intruderClient.once('close', () => resolve()));
    intruderClient.publish(topics.health(owner.id), JSON.stringify({ samples: [healthSample(1)] }), { qos: 1 });
    await closed;
    expect(count('SELECT count(*) FROM health WHERE device_id = ?', owner.id)).toBe(0);
    await ownerClient.publishAsync(topics.health(owner.id), JSON.stringify({ samples: [healthSample(1)] }), { qos: 1 });
    expect(count('SELECT count(*) FROM health WHERE device_id = ?', owner.id)).toBe(1);
    expect(await metric('fleet_mqtt_refused_total{what="publish"}')).toMatch(/ [1-9]\d*$/);
  });

  it("refuses subscriptions to '#' and to another device's commands, grants its own", async () => {
    const a = addDevice(server, 'kiosk-sub-a');
    addDevice(server, 'kiosk-sub-b');
    const client = await device(a.id, a.secret);
    // mqtt.js reports a SUBACK with a refusal (0x80) as an error that carries the packet.
    const suback = await client
      .subscribeAsync(['#', topics.commands('kiosk-sub-b'), topics.commands(a.id), topics.manifest(a.id)], { qos: 1 })
      .then(
        () => null,
        (error: { packet?: { granted: number[] } }) => error.packet,
      );
    expect(suback?.granted).toEqual([128, 128, 1, 1]);
    expect(client.connected).toBe(true);
  });
});

describe('what devices report', () => {
  it('records status and the last will, sync (applied → content_seq, equipped_at), stats (a resend counts once) and events', async () => {
    const { id, secret } = addDevice(server, 'kiosk-report');
    const will = {
      topic: topics.status(id),
      payload: Buffer.from(JSON.stringify({ online: false, ts: Date.now(), agentVersion: '1.2.3', bootId: 'b1' })),
      qos: 1 as const,
      retain: true,
    };
    const client = await device(id, secret, { will });
    await client.publishAsync(
      topics.status(id),
      JSON.stringify({ online: true, ts: Date.now(), agentVersion: '1.2.3', bootId: 'b1' }),
      {
        qos: 1,
        retain: true,
      },
    );
    expect(server.db.prepare('SELECT online, agent_version AS v, boot_id AS b FROM devices WHERE id = ?').get(id)).toEqual({
      online: 1,
      v: '1.2.3',
      b: 'b1',
    });
    await client.publishAsync(
      topics.sync(id),
      JSON.stringify({ manifestSeq: 4, state: 'failed', bytes: 10, missing: 2, error: 'disk full' }),
      { qos: 1 },
    );
    await client.publishAsync(topics.sync(id), JSON.stringify({ manifestSeq: 4, state: 'applied', bytes: 99, missing: 0 }), {
      qos: 1,
    });
    // The same day's totals delivered twice (a QoS 1 resend after a lost PUBACK) count once; another day adds a row.
    const stats = { days: [{ day: '2026-11-22', itemId: 'item-1', lang: 'jra', views: 3, seconds: 40 }] };
    await client.publishAsync(topics.stats(id), JSON.stringify(stats), { qos: 1 });
    await client.publishAsync(topics.stats(id), JSON.stringify(stats), { qos: 1 });
    const nextDay = { days: [{ day: '2026-11-23', itemId: 'item-1', lang: 'jra', views: 2, seconds: 5 }] };
    await client.publishAsync(topics.stats(id), JSON.stringify(nextDay), { qos: 1 });
    await client.publishAsync(
      topics.events(id),
      JSON.stringify({ type: 'disk', severity: 'warning', message: 'low', ts: Date.now() }),
      { qos: 1 },
    );

    const row = server.db.prepare('SELECT content_seq AS seq, equipped_at AS eq FROM devices WHERE id = ?').get(id) as {
      seq: number;
      eq: number;
    };
    expect(row.seq).toBe(4);
    expect(row.eq).toBeGreaterThan(0);
    expect(server.db.prepare('SELECT state, failures FROM device_sync WHERE device_id = ?').get(id)).toEqual({
      state: 'applied',
      failures: 0,
    });
    expect(server.db.prepare('SELECT day, views, seconds FROM play_stats WHERE device_id = ? ORDER BY day').all(id)).toEqual([
      { day: '2026-11-22', views: 3, seconds: 40 },
      { day: '2026-11-23', views: 2, seconds: 5 },
    ]);
    expect(count("SELECT count(*) FROM device_events WHERE device_id = ? AND source = 'device'", id)).toBe(1);

    // An unclean end: the broker publishes the will, the device becomes offline.
    client.stream.destroy();
    await waitFor(() => count('SELECT online FROM devices WHERE id = ?', id) === 0, 'offline after the will');
  });

  it('raises one clock-skew event per device per hour, not one per message', async () => {
    const { id, secret } = addDevice(server, 'kiosk-skew');
    const client = await device(id, secret);
    const future = Date.now() + 3_600_000;
    for (let seq = 1; seq <= 3; seq++) {
      await client.publishAsync(topics.health(id), JSON.stringify({ samples: [healthSample(seq, future)] }), { qos: 1 });
    }
    expect(count("SELECT count(*) FROM device_events WHERE device_id = ? AND type = 'clock_skew'", id)).toBe(1);
    expect(count('SELECT count(*) FROM health WHERE device_id = ? AND received_ts < device_ts', id)).toBe(3);
  });
});

describe('commands', () => {
  it('delivers a command queued while the device was offline once it connects, once; results move its state', async () => {
    const { id, secret } = addDevice(server, 'kiosk-cmd');
    const admin = new HttpSession(server.httpUrl);
    await admin.login('admin', TEST_ADMIN_PASSWORD);
    const created = await admin.json<{ command: { id: string; status: string } }>(
      'POST',
      `/api/v1/devices/${id}/commands?ttl=1h`,
      {
        type: 'set_config',
        params: { healthIntervalS: 30 },
      },
    );
    expect(created).toMatchObject({ status: 201, body: { command: { status: 'queued' } } });
    expect((await admin.json('POST', `/api/v1/devices/${id}/commands`, { type: 'format_disk', params: {} })).status).toBe(400);

    const client = await device(id, secret);
    const received: Array<{ id: string; type: string; params: unknown }> = [];
    client.on('message', (_topic, payload) => received.push(JSON.parse(payload.toString())));
    await client.subscribeAsync(topics.commands(id), { qos: 1 });
    await waitFor(() => received.length > 0, 'the queued command');
    expect(received[0]).toMatchObject({ id: created.body.command.id, type: 'set_config', params: { healthIntervalS: 30 } });

    const commandId = created.body.command.id;
    await client.publishAsync(topics.commandResult(id, commandId), JSON.stringify({ id: commandId, state: 'acked' }), { qos: 1 });
    await client.publishAsync(
      topics.commandResult(id, commandId),
      JSON.stringify({ id: commandId, state: 'succeeded', detail: 'ok' }),
      { qos: 1 },
    );
    const listed = await admin.json<{ commands: Array<{ id: string; status: string; detail: string }> }>(
      'GET',
      `/api/v1/devices/${id}/commands`,
    );
    expect(listed.body.commands[0]).toMatchObject({ id: commandId, status: 'succeeded', detail: 'ok' });

    // Reconnecting after the ack does not deliver it again; a new command reaches the online device at once.
    client.end(true);
    const again = await device(id, secret);
    const second: unknown[] = [];
    again.on('message', (_topic, payload) => second.push(JSON.parse(payload.toString())));
    await again.subscribeAsync(topics.commands(id), { qos: 1 });
    const next = await admin.json<{ command: { id: string } }>('POST', `/api/v1/devices/${id}/commands`, {
      type: 'sync_now',
      params: {},
    });
    await waitFor(() => second.length > 0, 'the live command');
    expect(second).toEqual([expect.objectContaining({ id: next.body.command.id, type: 'sync_now' })]);
    expect(received).toHaveLength(1);
  });

  it('delivers to a persistent session (clientId = device id, clean: false) after a restart of the agent, once', async () => {
    const { id, secret } = addDevice(server, 'kiosk-persist');
    const first = await device(id, secret, { clientId: id, clean: false });
    await first.subscribeAsync(topics.commands(id), { qos: 1 });
    await first.endAsync();
    const admin = new HttpSession(server.httpUrl);
    await admin.login('admin', TEST_ADMIN_PASSWORD);
    const queued = await admin.json<{ command: { id: string } }>('POST', `/api/v1/devices/${id}/commands`, {
      type: 'reboot',
      params: {},
    });

    // A new agent process: same client id, persistent session; it subscribes again as agents do at start.
    const received: Array<{ id: string }> = [];
    const again = await device(id, secret, { clientId: id, clean: false, manualConnect: false });
    again.on('message', (_topic, payload) => received.push(JSON.parse(payload.toString())));
    await again.subscribeAsync(topics.commands(id), { qos: 1 });
    await waitFor(() => received.length > 0, 'the command in the persistent session');
    await new Promise((r) => setTimeout(r, 200)); // room for a duplicate to show up
    expect(received).toEqual([expect.objectContaining({ id: queued.body.command.id, type: 'reboot' })]);
  });

  it('notifies a connected device of a new manifest', async () => {
    const { id, secret } = addDevice(server, 'kiosk-manifest');
    const client = await device(id, secret);
    const got = new Promise<unknown>((resolve) =>
      client.once('message', (_t, payload) => resolve(JSON.parse(payload.toString()))),
    );
    await client.subscribeAsync(topics.manifest(id), { qos: 1 });
    server.notifyManifest(id, 12);
    expect(await got).toEqual({ seq: 12 });
  });
});
