// Many kiosks publishing QoS 1 health for tests/ops-backup-under-ingest.test.ts, in their own process (so the
// server's event loop in the test process is not also running 200 mqtt.js clients). Started with `fork` (through tsx); its
// one argument is JSON: {url, devices: [{id, secret}], window, samplesPerPublish, maxMs, maxPublishes}. Each
// device is a real mqtt.js client publishing as fast as its PUBACKs allow, `window` publishes in flight at most;
// publish n (from 0) carries seqs n*samplesPerPublish+1 … (n+1)*samplesPerPublish. Messages to the parent:
// {type: 'connected'} once every client has its CONNACK; {type: 'acked', runs: [[deviceIndex, firstSeq, count]]}
// (sent only after the PUBACKs came); {type: 'done', failures: [...]} when every publish settled. It stops
// publishing at `maxMs` after the start, at `maxPublishes` per device, or when the parent sends 'stop'.
import mqtt, { type MqttClient } from 'mqtt';
import { topics } from '../../protocol/index.js';
import { healthSample } from '../../server/testing/test-server.js';

interface Options {
  url: string;
  devices: Array<{ id: string; secret: string }>;
  window: number;
  samplesPerPublish: number;
  maxMs: number;
  maxPublishes: number;
}
const o = JSON.parse(process.argv[2] as string) as Options;
const toParent = (message: unknown) => new Promise<void>((resolve) => process.send?.(message, () => resolve()));
let stop = false;
process.on('message', (message) => {
  if (message === 'stop') stop = true;
});

const clients: MqttClient[] = [];
for (let i = 0; i < o.devices.length; i += 25) {
  const batch = o.devices.slice(i, i + 25).map(
    ({ id, secret }) =>
      new Promise<MqttClient>((resolve, reject) => {
        const client = mqtt.connect(o.url, {
          username: id,
          password: secret,
          clientId: `${id}-load`,
          reconnectPeriod: 0,
          connectTimeout: 10_000,
        });
        client.once('connect', () => resolve(client));
        client.once('error', reject);
      }),
  );
  clients.push(...(await Promise.all(batch)));
}
await toParent({ type: 'connected' });

let pending: Array<[number, number, number]> = [];
let flushing: NodeJS.Timeout | null = null;
function acked(deviceIndex: number, firstSeq: number, count: number): void {
  pending.push([deviceIndex, firstSeq, count]);
  flushing ??= setTimeout(() => {
    flushing = null;
    const runs = pending;
    pending = [];
    process.send?.({ type: 'acked', runs });
  }, 5);
}

const failures: string[] = [];
const start = Date.now();
const t0 = Date.now();
async function publisher(client: MqttClient, deviceIndex: number): Promise<void> {
  const { id } = o.devices[deviceIndex] as Options['devices'][number];
  const topic = topics.health(id);
  const inFlight = new Set<Promise<unknown>>();
  let next = 0;
  while (!stop && next < o.maxPublishes && Date.now() - start < o.maxMs) {
    const first = next * o.samplesPerPublish + 1;
    next++;
    const samples = Array.from({ length: o.samplesPerPublish }, (_, k) => healthSample(first + k, t0 + (first + k) * 1000));
    const p = client
      .publishAsync(topic, JSON.stringify({ samples }), { qos: 1 })
      .then(
        () => acked(deviceIndex, first, o.samplesPerPublish),
        (error: Error) => failures.push(`${id} seq ${first}: ${error.message}`),
      )
      .finally(() => inFlight.delete(p));
    inFlight.add(p);
    if (inFlight.size >= o.window) await Promise.race(inFlight);
  }
  await Promise.all(inFlight);
}
await Promise.all(clients.map((client, i) => publisher(client, i)));
if (flushing) clearTimeout(flushing);
if (pending.length > 0) await toParent({ type: 'acked', runs: pending });
await Promise.all(clients.map((client) => client.endAsync()));
await toParent({ type: 'done', failures, ms: Date.now() - start });
process.exit(0);
