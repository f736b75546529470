// A misbehaving kiosk for tests/broker-flood.test.ts, run as its own process (as an attacker's would be):
// logs in over a raw socket, then sends QoS 1 `health` publishes as fast as the socket takes them without ever
// waiting for its PUBACKs. MODE `noread` never reads them (they pile up in its receive buffer); `read` counts them
// as they come but does not wait for them. Each publish carries SAMPLES samples (500, the most a message may
// hold, is what a kiosk flushing a backlog sends). When the server cuts it off it logs in again and goes on.
// Bounded: at most COUNT publishes, SESSIONS logins and SECONDS of sending. Prints one JSON line:
// {sent, pubacks, sessions: [{sent, pubacks, closedByServer, closedAfterMs}]}.
// Usage: node broker-flooder.mjs <mqtt://host:port> <deviceId> <secret> <count> <seconds> <sessions> <noread|read> <samples>
import { connect } from 'node:net';
import mqttPacket from 'mqtt-packet';

const [url, deviceId, secret, countArg, secondsArg, sessionsArg, mode, samplesArg] = process.argv.slice(2);
const { hostname, port } = new URL(url);
const count = Number(countArg);
const perMessage = Number(samplesArg);
const deadline = Date.now() + Number(secondsArg) * 1000;
const topic = `fleet/v1/devices/${deviceId}/health`;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
let sent = 0;

function sample(seq) {
  return {
    seq,
    ts: Date.now(),
    cpuLoad: 1,
    memUsed: 1,
    diskUsed: 1,
    diskFree: 1,
    tempC: null,
    uptimeS: 1,
    contentSeq: 0,
    queueDepth: 0,
  };
}

async function session() {
  const socket = connect(Number(port), hostname);
  const parser = mqttPacket.parser({ protocolVersion: 4 });
  const result = { sent: 0, pubacks: 0, closedByServer: false, closedAfterMs: null };
  let connack = null;
  let started = 0;
  let closed = false;
  let closingOurselves = false;
  parser.on('packet', (packet) => {
    if (packet.cmd === 'connack') connack = packet;
    else if (packet.cmd === 'puback') result.pubacks++;
  });
  socket.on('data', (chunk) => parser.parse(chunk));
  socket.on('error', () => {});
  socket.on('close', () => {
    closed = true;
    if (started > 0 && !closingOurselves) {
      result.closedByServer = true;
      result.closedAfterMs = Date.now() - started;
    }
  });
  await new Promise((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  socket.write(
    mqttPacket.generate({
      cmd: 'connect',
      protocolId: 'MQTT',
      protocolVersion: 4,
      clientId: deviceId,
      clean: true,
      keepalive: 0,
      username: deviceId,
      password: Buffer.from(secret),
    }),
  );
  while (!connack && !closed && Date.now() < deadline) await sleep(5);
  if (connack?.returnCode !== 0) throw new Error(`no CONNACK: ${JSON.stringify(connack)}`);
  // `noread`: from here on it does not read; PUBACKs pile up in its receive buffer.
  if (mode !== 'read') socket.pause();
  started = Date.now();
  while (sent < count && Date.now() < deadline && !socket.destroyed) {
    const first = sent * perMessage + 1;
    const packet = mqttPacket.generate({
      cmd: 'publish',
      topic,
      qos: 1,
      messageId: (result.sent % 65535) + 1,
      retain: false,
      dup: false,
      payload: Buffer.from(JSON.stringify({ samples: Array.from({ length: perMessage }, (_, i) => sample(first + i)) })),
    });
    sent++;
    result.sent++;
    if (!socket.write(packet)) {
      await new Promise((resolve) => {
        const done = () => {
          clearTimeout(timer);
          socket.off('drain', done);
          resolve();
        };
        const timer = setTimeout(done, 100);
        socket.on('drain', done);
      });
    }
  }
  // Read what the server acknowledged and is still buffered (up to 3 s; a reset connection has lost it).
  socket.resume();
  const readUntil = Date.now() + 3000;
  let last = -1;
  while (!closed && Date.now() < readUntil && result.pubacks !== last) {
    last = result.pubacks;
    await sleep(300);
  }
  closingOurselves = true;
  socket.destroy();
  return result;
}

const sessions = [];
while (sessions.length < Number(sessionsArg) && sent < count && Date.now() < deadline) {
  const result = await session();
  sessions.push(result);
  if (!result.closedByServer) break;
}
const pubacks = sessions.reduce((n, s) => n + s.pubacks, 0);
console.log(JSON.stringify({ sent, pubacks, sessions }));
process.exit(0);
