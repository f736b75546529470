/**
 * Issue 1/7: device data that is acknowledged is durable and counted exactly once. A real server (aedes, SQLite
 * file, port 0) and real mqtt.js devices; a lost PUBACK is made by a proxy that swallows what the server sends,
 * so the resend is mqtt.js's own, after its reconnect.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { MqttClient } from 'mqtt';
import { pino } from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { parseAgentConfig } from '../agent/config.js';
import { createAgent } from '../agent/create-agent.js';
import { topics } from '../protocol/index.js';
import { loadOrCreateSigningKeys } from '../server/content/signing-keys.js';
import { addDevice, healthSample, startTestServer, type TestServer, waitFor } from '../server/testing/test-server.js';
import { startCuttableProxy } from './helpers/agent-test-net.js';
import { deviceClients } from './helpers/device-clients.js';

let server: TestServer;
const clients = deviceClients();
const device = clients.connect;
const count = (sql: string, ...params: unknown[]) =>
  server.db
    .prepare(sql)
    .pluck()
    .get(...params) as number;
async function messagesIn(kind: string): Promise<number> {
  const text = await (await fetch(`${server.httpUrl}/metrics`)).text();
  return Number(new RegExp(`^fleet_mqtt_messages_in_total\\{kind="${kind}"\\} (\\d+)`, 'm').exec(text)?.[1] ?? 0);
}

/** Publishes once with the PUBACK lost, then lets mqtt.js reconnect and resend; resolves on the final PUBACK. */
async function publishWithLostPuback(
  proxy: Awaited<ReturnType<typeof startCuttableProxy>>,
  client: MqttClient,
  topic: string,
  payload: string,
  committed: () => boolean,
): Promise<void> {
  proxy.swallow(true);
  const acked = new Promise<void>((resolve, reject) =>
    client.publish(topic, payload, { qos: 1 }, (error) => (error ? reject(error) : resolve())),
  );
  await waitFor(committed, 'the first delivery committed');
  proxy.swallow(false);
  // Ends the connections (and lets new ones in) so the device reconnects and resends what was not acknowledged.
  proxy.cut();
  proxy.restore();
  await acked;
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

describe('durability', () => {
  it("the server's own connection commits with synchronous = FULL (a PUBACK survives a power cut)", () => {
    expect(server.db.pragma('journal_mode', { simple: true })).toBe('wal');
    expect(server.db.pragma('synchronous', { simple: true })).toBe(2);
  });
});

describe('resends after a lost PUBACK', () => {
  it('an event resent by mqtt.js after its reconnect, or published again with the dup flag, is stored once', async () => {
    const { id, secret } = addDevice(server, 'kiosk-ev-resend');
    const port = Number(new URL(server.mqttUrl).port);
    const proxy = await startCuttableProxy(port, { lossy: true });
    try {
      const client = await device(proxy.url, id, secret, { reconnectPeriod: 50 });
      const event = JSON.stringify({ type: 'disk_full', severity: 'critical', message: 'no space left', ts: Date.now() });
      const before = await messagesIn('events');
      const stored = () => count('SELECT count(*) FROM device_events WHERE device_id = ?', id);
      await publishWithLostPuback(proxy, client, topics.events(id), event, () => stored() === 1);
      expect(await messagesIn('events')).toBe(before + 2); // the server did receive it twice
      // An agent that resends itself (new packet id, dup flag) changes nothing either.
      await client.publishAsync(topics.events(id), event, { qos: 1, dup: true });
      expect(stored()).toBe(1);
      // Another event at the same moment, or the same text at another moment, is a new event.
      const other = JSON.parse(event);
      await client.publishAsync(topics.events(id), JSON.stringify({ ...other, type: 'content_hash_mismatch' }), { qos: 1 });
      await client.publishAsync(topics.events(id), JSON.stringify({ ...other, ts: other.ts + 1 }), { qos: 1 });
      expect(stored()).toBe(3);
    } finally {
      await proxy.close();
    }
  });

  it('a sync failure resent after a lost PUBACK counts once; real repeated failures still count', async () => {
    const { id, secret } = addDevice(server, 'kiosk-sync-resend');
    const port = Number(new URL(server.mqttUrl).port);
    const proxy = await startCuttableProxy(port, { lossy: true });
    const failures = () => count('SELECT failures FROM device_sync WHERE device_id = ?', id);
    try {
      const client = await device(proxy.url, id, secret, { reconnectPeriod: 50 });
      // As today's agents send it (no ts): byte-identical on resend.
      const failed = JSON.stringify({ manifestSeq: 3, state: 'failed', bytes: 100, missing: 2, error: 'disk full' });
      const before = await messagesIn('sync');
      await publishWithLostPuback(proxy, client, topics.sync(id), failed, () => failures() === 1);
      expect(await messagesIn('sync')).toBe(before + 2);
      expect(failures()).toBe(1);
      await client.publishAsync(topics.sync(id), failed, { qos: 1, dup: true });
      expect(failures()).toBe(1);
      // A failure that differs (progress, another error) is another failure.
      await client.publishAsync(
        topics.sync(id),
        JSON.stringify({ manifestSeq: 3, state: 'failed', bytes: 250, missing: 1, error: 'disk full' }),
        { qos: 1 },
      );
      expect(failures()).toBe(2);
      // Agents that stamp their reports (optional ts) have identical real retries counted, their resends not.
      const t = Date.now();
      const stamped = (ts: number) =>
        JSON.stringify({ manifestSeq: 3, state: 'failed', bytes: 0, missing: 2, error: 'manifest fetch: fetch failed', ts });
      await client.publishAsync(topics.sync(id), stamped(t), { qos: 1 });
      await client.publishAsync(topics.sync(id), stamped(t), { qos: 1, dup: true });
      await client.publishAsync(topics.sync(id), stamped(t + 30_000), { qos: 1 });
      expect(failures()).toBe(4);
      expect(server.db.prepare('SELECT state, error, report_ts AS ts FROM device_sync WHERE device_id = ?').get(id)).toEqual({
        state: 'failed',
        error: 'manifest fetch: fetch failed',
        ts: t + 30_000,
      });
      // applied resets the count, as before.
      await client.publishAsync(topics.sync(id), JSON.stringify({ manifestSeq: 3, state: 'applied', bytes: 900, missing: 0 }), {
        qos: 1,
      });
      expect(failures()).toBe(0);
      expect(count('SELECT content_seq FROM devices WHERE id = ?', id)).toBe(3);
    } finally {
      await proxy.close();
    }
  });

  it("this version's agent stamps its sync reports, so two real identical failures count twice", async () => {
    const { id, secret } = addDevice(server, 'kiosk-sync-agent');
    const dir = await mkdtemp(join(tmpdir(), 'ingest-agent-'));
    const config = parseAgentConfig(
      {
        deviceId: id,
        secret,
        siteId: 'gl-c-iao',
        mqttUrl: server.mqttUrl,
        apiUrl: 'http://127.0.0.1:1', // nothing listens: every manifest fetch fails the same way
        manifestKey: (await loadOrCreateSigningKeys(server.dataDir)).publicKeyPem,
        dataDir: join(dir, 'data'),
        kioskPort: 0,
      },
      { AGENT_UI_DIR: join(dir, 'no-ui') },
      null,
    );
    const reportsBefore = await messagesIn('sync');
    // A clock that never reads the same ms twice: here the failures follow each other within a millisecond
    // (a refused connection on loopback), which real retries, seconds apart at least, never do.
    let last = 0;
    const clock = () => {
      last = Math.max(Date.now(), last + 1);
      return last;
    };
    const agent = await createAgent(config, {
      log: pino({ level: 'silent' }),
      clock,
      syncRetryBaseMs: 3_600_000,
      random: () => 1,
    });
    try {
      const failures = () => count('SELECT failures FROM device_sync WHERE device_id = ?', id) ?? 0;
      await waitFor(() => agent.online(), 'agent online');
      // Besides its start-up sync, two more that fail the same way (same seq, bytes, missing and error).
      expect((await agent.sync('command')).state).toBe('failed');
      expect((await agent.sync('command')).state).toBe('failed');
      // Every report the agent sent was a real failure, and each one is counted.
      const settled = await waitFor(async () => {
        const reports = (await messagesIn('sync')) - reportsBefore;
        return reports >= 2 && failures() === reports ? reports : 0;
      }, 'every failure report counted');
      expect(settled).toBeGreaterThanOrEqual(2);
      expect(
        server.db.prepare('SELECT error, report_ts IS NOT NULL AS stamped FROM device_sync WHERE device_id = ?').get(id),
      ).toEqual({ error: expect.stringMatching(/^manifest fetch: /), stamped: 1 });
    } finally {
      await agent.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('a health seq that restarts (re-imaged kiosk)', () => {
  it('keeps every new sample as a new series, reports one seq_restart, and still stores a true resend once', async () => {
    const { id, secret } = addDevice(server, 'kiosk-reimaged');
    const client = await device(server.mqttUrl, id, secret);
    const old = Date.now() - 3 * 86_400_000;
    const send = (samples: unknown[]) => client.publishAsync(topics.health(id), JSON.stringify({ samples }), { qos: 1 });
    await send([1, 2, 3, 4, 5].map((seq) => healthSample(seq, old + seq * 60_000)));
    // Re-imaged: a fresh agent database numbers from 1 again. Every sample is acknowledged and must be kept.
    const now = Date.now();
    const fresh = [1, 2, 3].map((seq) => ({ ...healthSample(seq, now + seq * 60_000), uptimeS: 60 * seq }));
    await send([fresh[0]]);
    await send([fresh[1], fresh[2]]);
    // A true resend of the new samples (PUBACK lost) is stored once.
    await send([fresh[1], fresh[2]]);
    const rows = server.db
      .prepare('SELECT series, seq, device_ts AS ts FROM health WHERE device_id = ? ORDER BY series, seq')
      .all(id) as { series: number; seq: number; ts: number }[];
    expect(rows.map((r) => `${r.series}:${r.seq}`)).toEqual(['0:1', '0:2', '0:3', '0:4', '0:5', '1:1', '1:2', '1:3']);
    expect(rows.slice(5).map((r) => r.ts)).toEqual(fresh.map((s) => s.ts));
    const events = server.db
      .prepare("SELECT source, severity, message FROM device_events WHERE device_id = ? AND type = 'seq_restart'")
      .all(id) as { source: string; severity: string; message: string }[];
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ source: 'server', severity: 'warning' });
    expect(events[0]?.message).toMatch(/started again at 1 .*reached 5.*series 1/);
  });

  it('detects the restart also when the old low seqs are already past retention, and not for a late backlog', async () => {
    const { id, secret } = addDevice(server, 'kiosk-reimaged-old');
    const client = await device(server.mqttUrl, id, secret);
    const send = (samples: unknown[]) => client.publishAsync(topics.health(id), JSON.stringify({ samples }), { qos: 1 });
    const old = Date.now() - 40 * 86_400_000;
    // What is left of a long run: seqs 1000..1004 (the lower ones were deleted by retention).
    await send([1000, 1001, 1002, 1003, 1004].map((seq) => healthSample(seq, old + seq * 60_000)));
    // Live sample first, then the backlog it had buffered offline (older, lower seqs): one series, no event.
    await send([healthSample(1010, old + 1010 * 60_000)]);
    await send([1005, 1006, 1007, 1008, 1009].map((seq) => healthSample(seq, old + seq * 60_000)));
    expect(count("SELECT count(*) FROM device_events WHERE device_id = ? AND type = 'seq_restart'", id)).toBe(0);
    // Re-imaged: seq 1 does not collide with a stored row, but it was taken after seq 1000 was.
    const now = Date.now();
    await send([healthSample(1, now), healthSample(2, now + 60_000)]);
    expect(count("SELECT count(*) FROM device_events WHERE device_id = ? AND type = 'seq_restart'", id)).toBe(1);
    expect(
      server.db.prepare('SELECT series, count(*) AS n FROM health WHERE device_id = ? GROUP BY series ORDER BY series').all(id),
    ).toEqual([
      { series: 0, n: 11 },
      { series: 1, n: 2 },
    ]);
  });
});
