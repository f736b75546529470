// Many kiosks publishing QoS 1 health for tests/ops-backup-under-ingest.test.ts, in their own process (so the
// server's event loop in the test process is not also running 200 mqtt.js clients). Started with `fork`; its
// one argument is JSON: {url, devices: [{id, secret}], window, samplesPerPublish, maxMs, maxPublishes}. Each
// device is a real mqtt.js client publishing as fast as its PUBACKs allow, `window` publishes in flight at most;
// publish n (from 0) carries seqs n*samplesPerPublish+1 … (n+1)*samplesPerPublish. Messages to the parent:
// {type: 'connected'} once every client has its CONNACK; {type: 'acked', runs: [[deviceIndex, firstSeq, count]]}
// (sent only after the PUBACKs came); {type: 'done', failures: [...]} when every publish settled. It stops
// publishing at `maxMs` after the start, at `maxPublishes` per device, or when the parent sends 'stop'.
import mqtt from 'mqtt';

const o = JSON.parse(process.argv[2]);
const send = (message) => new Promise((resolve) => process.send(message, resolve));
let stop = false;
process.on('message', (message) => {
  if (message === 'stop') stop = true;
});

function sample(seq, ts) {
  return {
    seq,
    ts,
    cpuLoad: 12.5,
    memUsed: 40,
    diskUsed: 55,
    diskFree: 10_000_000_000,
    tempC: 48,
    uptimeS: 3600,
    contentSeq: 0,
    queueDepth: 0,
  };
}

const clients = [];
for (let i = 0; i < o.devices.length; i += 25) {
  const batch = o.devices.slice(i, i + 25).map(
    ({ id, secret }) =>
      new Promise((resolve, reject) => {
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
await send({ type: 'connected' });

let pending = [];
let flushing = null;
function acked(deviceIndex, firstSeq, count) {
  pending.push([deviceIndex, firstSeq, count]);
  flushing ??= setTimeout(() => {
    flushing = null;
    const runs = pending;
    pending = [];
    process.send({ type: 'acked', runs });
  }, 5);
}

const failures = [];
const start = Date.now();
const t0 = Date.now();
async function publisher(client, deviceIndex) {
  const { id } = o.devices[deviceIndex];
  const topic = `fleet/v1/devices/${id}/health`;
  const inFlight = new Set();
  let next = 0;
  while (!stop && next < o.maxPublishes && Date.now() - start < o.maxMs) {
    const first = next * o.samplesPerPublish + 1;
    next++;
    const samples = Array.from({ length: o.samplesPerPublish }, (_, k) => sample(first + k, t0 + (first + k) * 1000));
    const p = client
      .publishAsync(topic, JSON.stringify({ samples }), { qos: 1 })
      .then(
        () => acked(deviceIndex, first, o.samplesPerPublish),
        (error) => failures.push(`${id} seq ${first}: ${error.message}`),
      )
      .finally(() => inFlight.delete(p));
    inFlight.add(p);
    if (inFlight.size >= o.window) await Promise.race(inFlight);
  }
  await Promise.all(inFlight);
}
await Promise.all(clients.map((client, i) => publisher(client, i)));
if (flushing) clearTimeout(flushing);
if (pending.length > 0) await send({ type: 'acked', runs: pending });
await Promise.all(clients.map((client) => client.endAsync()));
await send({ type: 'done', failures, ms: Date.now() - start });
process.exit(0);
