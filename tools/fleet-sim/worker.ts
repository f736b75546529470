/**
 * A load-generator process (forked with IPC by bench/ and tools): holds a slice of the simulated fleet so the
 * generator's own event loop and CPU are spread over processes and kept apart from the server's. Commands
 * arrive as IPC messages and each gets one reply with the worker's CPU time so far.
 *
 * Modes: `fleet` = SimDevices speaking the fleet protocol to our server; `raw` = plain QoS 1 publishers to
 * `bench/{i}` (no auth), the same generator for the broker-alone comparison (aedes vs Mosquitto).
 */
import mqtt, { type MqttClient } from 'mqtt';
import { Fleet } from './fleet.js';
import { simSecret } from './provision.js';
import type { WorkerReply, WorkerRequest } from './worker-protocol.js';

let fleet: Fleet | null = null;
let raw: MqttClient[] = [];
let rawRunning = false;
let rawAcked = 0;
let rawPublished = 0;
let rawTopicPrefix = 'bench/0';
let rawSubscriber: MqttClient | null = null;
let rawReceived = 0;
let rawLatencies: number[] = [];
let rateTimer: NodeJS.Timeout | null = null;

const send = (reply: WorkerReply) => process.send?.(reply);
const cpuMs = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Keeps at most `max` values, a uniform sample of all offered (reservoir), so memory stays bounded. */
function reservoir(all: number[], max: number): number[] {
  if (all.length <= max) return all;
  const out = all.slice(0, max);
  for (let i = max; i < all.length; i++) {
    const j = Math.floor(Math.random() * (i + 1));
    if (j < max) out[j] = all[i] as number;
  }
  return out;
}

function takeLatencies(): number[] {
  if (!fleet) {
    const l = rawLatencies;
    rawLatencies = [];
    return reservoir(l, 20_000);
  }
  const all: number[] = [];
  for (const d of fleet.devices) {
    all.push(...d.latencies);
    d.latencies.length = 0;
  }
  return reservoir(all, 20_000);
}

/** Raw mode's subscriber: receives what this worker's publishers send (QoS 1), counted for the loss check. */
async function subscribeRaw(url: string, offset: number): Promise<void> {
  rawTopicPrefix = `bench/${offset}`;
  const sub = mqtt.connect(url, { clientId: `raw-sub-${offset}`, reconnectPeriod: 0, clean: true, keepalive: 120 });
  await new Promise<void>((resolve, reject) => {
    sub.once('connect', () => resolve());
    sub.once('error', reject);
  });
  sub.on('message', () => {
    rawReceived++;
  });
  await sub.subscribeAsync(`${rawTopicPrefix}/#`, { qos: 1 });
  rawSubscriber = sub;
}

/** One raw QoS 1 publish; `acked` counts PUBACKs, latency is publish → PUBACK. */
function publishRaw(client: MqttClient, topic: string, body: Buffer, then?: () => void): void {
  const at = performance.now();
  rawPublished++;
  client.publish(topic, body, { qos: 1 }, (error) => {
    if (!error) {
      rawAcked++;
      if (rawLatencies.length < 200_000) rawLatencies.push(performance.now() - at);
    }
    then?.();
  });
}

async function connectRaw(url: string, count: number, offset: number, concurrency: number): Promise<number> {
  let next = 0;
  let ok = 0;
  const lane = async () => {
    while (next < count) {
      const i = offset + next++;
      const client = await new Promise<MqttClient | null>((resolve) => {
        const c = mqtt.connect(url, { clientId: `raw-${i}`, reconnectPeriod: 0, connectTimeout: 30_000, keepalive: 120 });
        c.once('connect', () => resolve(c));
        c.once('error', () => resolve(null));
        c.once('close', () => resolve(null));
      });
      if (client) {
        ok++;
        raw.push(client);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, lane));
  return ok;
}

/** Closed loop: every raw client keeps `inflight` QoS 1 publishes outstanding until stopped. */
function startRaw(inflight: number, payloadBytes: number): void {
  rawRunning = true;
  const body = Buffer.alloc(payloadBytes, 'x');
  raw.forEach((client, index) => {
    const topic = `${rawTopicPrefix}/${index}`;
    const one = () => {
      if (!rawRunning || !client.connected) return;
      publishRaw(client, topic, body, one);
    };
    for (let k = 0; k < inflight; k++) one();
  });
}

async function handle(req: WorkerRequest): Promise<WorkerReply> {
  switch (req.cmd) {
    case 'init': {
      if (req.mode === 'fleet') {
        fleet = new Fleet({
          mqttUrl: req.mqttUrl,
          devices: req.ids.map((id) => ({ id, secret: simSecret(id, req.fleetKey) })),
          connectConcurrency: req.connectConcurrency,
          device: req.device,
        });
      }
      return { cmd: 'init', cpuMs: cpuMs() };
    }
    case 'connect': {
      const t = performance.now();
      if (!fleet && req.subscribe) await subscribeRaw(req.mqttUrl ?? '', req.offset ?? 0);
      const connected = fleet
        ? await fleet.connect()
        : await connectRaw(req.mqttUrl ?? '', req.count ?? 0, req.offset ?? 0, req.concurrency ?? 200);
      return { cmd: 'connect', connected, ms: performance.now() - t, cpuMs: cpuMs() };
    }
    case 'sample': {
      fleet?.startSampling(req.intervalMs);
      return { cmd: 'sample', cpuMs: cpuMs() };
    }
    case 'stopSampling': {
      fleet?.stopSampling();
      if (rateTimer) clearInterval(rateTimer);
      rateTimer = null;
      for (const d of fleet?.devices ?? []) d.onAck = null;
      rawRunning = false;
      return { cmd: 'stopSampling', cpuMs: cpuMs() };
    }
    case 'latency': {
      for (const d of fleet?.devices ?? []) {
        d.recordLatency = req.on;
        d.latencies.length = 0;
      }
      rawLatencies = [];
      return { cmd: 'latency', cpuMs: cpuMs() };
    }
    case 'rate': {
      // Open loop: `perSecond` samples (raw mode: QoS 1 messages) a second from this slice, spread over its
      // devices round robin, whatever the server acknowledges: a device keeps what it cannot send in its queue.
      const devices = fleet?.devices ?? [];
      const body = Buffer.alloc(req.payloadBytes ?? 300, 'x');
      const clients = raw;
      const count = fleet ? devices.length : clients.length;
      // Devices in a shuffled order (fixed for the step): a real fleet's kiosks sample at unrelated moments, so a
      // batch's samples come from devices far apart in the key order, each on its own page of the health table.
      const order = shuffled(count);
      let cursor = 0;
      let owed = 0;
      let last = performance.now();
      if (rateTimer) clearInterval(rateTimer);
      rateTimer = setInterval(() => {
        const now = performance.now();
        owed += ((now - last) / 1000) * req.perSecond;
        last = now;
        for (; owed >= 1 && count > 0; owed--) {
          const at = order[cursor] as number;
          if (fleet) (devices[at] as (typeof devices)[number]).sample();
          else {
            const client = clients[at] as MqttClient;
            if (client.connected) publishRaw(client, `${rawTopicPrefix}/${at}`, body);
          }
          cursor = (cursor + 1) % count;
        }
      }, 10);
      return { cmd: 'rate', cpuMs: cpuMs() };
    }
    case 'closedLoop': {
      if (fleet) {
        for (const d of fleet.devices) {
          d.onAck = () => {
            if (d.unacknowledged < req.inflight) d.sample();
          };
          for (let k = 0; k < req.inflight; k++) d.sample();
        }
      } else {
        startRaw(req.inflight, req.payloadBytes ?? 300);
      }
      return { cmd: 'closedLoop', cpuMs: cpuMs() };
    }
    case 'counters': {
      const r = fleet?.report();
      return {
        cmd: 'counters',
        acked: r ? r.acked : rawAcked,
        taken: r?.samplesTaken ?? 0,
        unacknowledged: r ? r.unacknowledged : rawPublished - rawAcked,
        connected: r ? r.connected : raw.filter((c) => c.connected).length,
        received: rawReceived,
        latencies: req.latencies ? takeLatencies() : [],
        cpuMs: cpuMs(),
      };
    }
    case 'drain': {
      const deadline = Date.now() + req.timeoutMs;
      const t = performance.now();
      const all = fleet?.devices.length ?? 0;
      // Raw mode: every publish acknowledged and, with a subscriber, every acknowledged one delivered.
      const rawDone = () => rawPublished === rawAcked && (!rawSubscriber || rawReceived >= rawAcked);
      const isDone = () => (fleet ? fleet.unacknowledged === 0 && fleet.connected === all : rawDone());
      while (!isDone() && Date.now() < deadline) await sleep(50);
      return {
        cmd: 'drain',
        done: isDone(),
        ms: performance.now() - t,
        unacknowledged: fleet ? fleet.unacknowledged : rawPublished - rawAcked,
        received: rawReceived,
        acked: fleet ? fleet.report().acked : rawAcked,
        cpuMs: cpuMs(),
      };
    }
    case 'report': {
      const r = fleet?.report();
      return { cmd: 'report', ackedRanges: r?.ackedRanges ?? {}, lastSeq: r?.lastSeq ?? {}, cpuMs: cpuMs() };
    }
    case 'stop': {
      rawRunning = false;
      if (rateTimer) clearInterval(rateTimer);
      await fleet?.stop();
      await Promise.all(raw.map((c) => c.endAsync(true).catch(() => {})));
      await rawSubscriber?.endAsync(true).catch(() => {});
      rawSubscriber = null;
      fleet = null;
      raw = [];
      return { cmd: 'stop', cpuMs: cpuMs() };
    }
  }
}

process.on('message', (req: WorkerRequest) => {
  handle(req).then(send, (error: Error) => send({ cmd: 'error', message: error.message, cpuMs: cpuMs() }));
});
process.on('disconnect', () => process.exit(0));

/** 0 … count − 1 in a random order (Fisher–Yates). */
function shuffled(count: number): number[] {
  const order = Array.from({ length: count }, (_, i) => i);
  for (let i = count - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [order[i], order[j]] = [order[j] as number, order[i] as number];
  }
  return order;
}
