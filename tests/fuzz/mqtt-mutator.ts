/**
 * Builds mutated MQTT sessions from the recorded ones. Case `index` of run `seed` is always the same bytes:
 * structure-aware edits (parse with mqtt-packet, change a field, generate again), raw edits of topics,
 * fixed headers, QoS bits and remaining-length varints, payload JSON mutations, packet drops, repeats and
 * floods, then byte-level damage and random write boundaries.
 */
import { generate, type IConnectPacket, type IPublishPacket, type ISubscribePacket, type Packet, parser } from 'mqtt-packet';
import { topics } from '../../protocol/index.js';
import { encodeVarint, splitFrames } from './mqtt-wire.js';
import { mutateBytes, mutateJsonText, mutateJsonValue, nastyString, Rng } from './mutator.js';
import type { DeviceCredentials, RecordedSession } from './recorder.js';

export interface MqttCase {
  index: number;
  base: string;
  transport: 'tcp' | 'ws';
  /** What is written, one socket write (or WebSocket message) per chunk. */
  chunks: Buffer[];
  /** Write the first chunk, then wait for the server's first bytes (its CONNACK) before the rest, as clients do. */
  paced: boolean;
  notes: string[];
}

export interface MqttFuzzContext {
  corpus: readonly RecordedSession[];
  /** The device whose sessions were recorded (its credentials are in the corpus). */
  device: DeviceCredentials;
  /** Another enrolled device: its topics and client id must stay out of reach. */
  other: string;
}

function parseOne(bytes: Buffer, protocolVersion: number): Packet | null {
  const p = parser({ protocolVersion });
  let out: Packet | null = null;
  p.on('packet', (packet: Packet) => {
    out ??= packet;
  });
  p.on('error', () => {});
  try {
    p.parse(bytes);
  } catch {
    return null;
  }
  return out;
}

function u16(n: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(n & 0xffff);
  return b;
}

/** A PUBLISH written by hand, so topics may hold any bytes and the topic length may lie. */
function rawPublish(o: { topic: Buffer; payload: Buffer; qos: number; id: number; v5: boolean; topicLength?: number }): Buffer {
  const body = Buffer.concat([
    u16(o.topicLength ?? o.topic.length),
    o.topic,
    o.qos > 0 ? u16(o.id) : Buffer.alloc(0),
    o.v5 ? Buffer.from([0]) : Buffer.alloc(0),
    o.payload,
  ]);
  return Buffer.concat([Buffer.from([0x30 | (o.qos << 1)]), encodeVarint(body.length), body]);
}

function healthPayload(rng: Rng, samples: number, firstSeq: number): Buffer {
  const ts = Date.UTC(2025, 6, 1);
  return Buffer.from(
    JSON.stringify({
      samples: Array.from({ length: samples }, (_, i) => ({
        seq: firstSeq + i,
        ts: ts + i,
        cpuLoad: rng.int(100),
        memUsed: 40,
        diskUsed: 55,
        diskFree: 1e9,
        tempC: null,
        uptimeS: 10,
        contentSeq: 0,
        queueDepth: 0,
      })),
    }),
  );
}

function topicChoices(rng: Rng, ctx: MqttFuzzContext): string[] {
  const me = ctx.device.id;
  return [
    topics.health(ctx.other),
    topics.commands(me),
    topics.manifest(me),
    `fleet/v1/devices/${me}/health/extra`,
    `fleet/v1/devices/${me}/../${ctx.other}/health`,
    `fleet/v1/devices/${me}/HEALTH`,
    `fleet/v1/devices/+/health`,
    'fleet/v1/devices/#',
    '#',
    '+',
    '$SYS/broker/clients',
    '',
    '/',
    `fleet/v1/devices/${me}/commands/${nastyString(rng).slice(0, 80)}/result`,
    `fleet/v1/devices/${me}/${nastyString(rng).slice(0, 300)}`,
    nastyString(rng),
  ];
}

function mutateConnect(rng: Rng, packet: IConnectPacket, ctx: MqttFuzzContext): string {
  switch (rng.int(9)) {
    case 0:
      packet.clientId = rng.pick([ctx.other, '', `${ctx.other}-x`, `${ctx.device.id}-${nastyString(rng)}`, nastyString(rng)]);
      return `clientId ${JSON.stringify(packet.clientId.slice(0, 40))}`;
    case 1:
      packet.protocolVersion = rng.pick([3, 4, 5]) as 3 | 4 | 5;
      if (packet.protocolVersion === 3) packet.protocolId = 'MQIsdp';
      return `protocol ${packet.protocolVersion}`;
    case 2:
      packet.keepalive = rng.pick([0, 1, 65_535]);
      return `keepalive ${packet.keepalive}`;
    case 3:
      packet.username = rng.pick([ctx.other, '', nastyString(rng), undefined]) as string;
      return 'username';
    case 4:
      packet.password = rng.pick([Buffer.from('wrong'), Buffer.alloc(0), Buffer.alloc(70_000, 0x41), undefined]) as Buffer;
      return 'password';
    case 5:
      packet.will = {
        topic: rng.pick(topicChoices(rng, ctx)),
        payload: rng.bytes(rng.pick([0, 10, 1000])),
        qos: rng.pick([0, 1, 2]) as 0 | 1 | 2,
        retain: rng.chance(0.5),
      };
      return `will on ${JSON.stringify(packet.will.topic.slice(0, 60))}`;
    case 6:
      packet.clean = !packet.clean;
      return `clean ${packet.clean}`;
    case 7:
      packet.properties = {
        sessionExpiryInterval: rng.pick([0, 0xffffffff]),
        receiveMaximum: rng.pick([1, 65_535]),
        maximumPacketSize: rng.pick([1, 100, 0xffffffff]),
        topicAliasMaximum: rng.pick([0, 65_535]),
        requestProblemInformation: rng.chance(0.5),
        userProperties: { [nastyString(rng).slice(0, 50) || 'k']: nastyString(rng).slice(0, 2000) },
        ...(rng.chance(0.3) ? { authenticationMethod: 'SCRAM-SHA-1', authenticationData: rng.bytes(20) } : {}),
      };
      return 'connect properties';
    default:
      packet.protocolId = rng.pick(['MQTT', 'MQIsdp']) as 'MQTT';
      return `protocolId ${packet.protocolId}`;
  }
}

function mutatePublish(rng: Rng, packet: IPublishPacket, ctx: MqttFuzzContext): string {
  switch (rng.int(7)) {
    case 0:
      packet.topic = rng.pick(topicChoices(rng, ctx));
      return `topic ${JSON.stringify(packet.topic.slice(0, 60))}`;
    case 1:
      packet.qos = rng.pick([0, 1, 2]) as 0 | 1 | 2;
      packet.messageId = packet.qos ? rng.pick([1, 2, 65_535, packet.messageId ?? 7]) : undefined;
      return `qos ${packet.qos}`;
    case 2:
      packet.retain = !packet.retain;
      packet.dup = rng.chance(0.5);
      return 'retain/dup flags';
    case 3: {
      const text = Buffer.from(packet.payload).toString('utf8');
      let note = 'payload JSON';
      let out = text;
      try {
        const m = mutateJsonValue(rng, JSON.parse(text));
        out = JSON.stringify(m.value);
        note = `payload: ${m.note}`;
      } catch {
        // keep the text as it is
      }
      if (rng.chance(0.3)) {
        const t = mutateJsonText(rng, out);
        out = t.text;
        note += `; ${t.note}`;
      }
      packet.payload = Buffer.from(out);
      return note;
    }
    case 4: {
      const size = rng.pick([0, 1, 262_144, 262_144 + 4096, 300_000, 1_048_576]);
      packet.payload = Buffer.alloc(size, rng.pick([0x20, 0x7b, 0x00]));
      return `payload of ${size} bytes`;
    }
    case 5:
      packet.payload = mutateBytes(rng, Buffer.from(packet.payload)).bytes;
      return 'payload bytes';
    default:
      packet.properties = {
        payloadFormatIndicator: true,
        messageExpiryInterval: rng.pick([0, 0xffffffff]),
        topicAlias: rng.pick([0, 1, 65_535]),
        contentType: nastyString(rng).slice(0, 500),
        responseTopic: rng.pick(topicChoices(rng, ctx)),
        correlationData: rng.bytes(rng.pick([0, 16, 5000])),
        userProperties: { a: nastyString(rng).slice(0, 1000) },
      };
      return 'publish properties';
  }
}

function mutateSubscribe(rng: Rng, packet: ISubscribePacket, ctx: MqttFuzzContext): string {
  const count = rng.pick([1, 2, 10, 200]);
  packet.subscriptions = Array.from({ length: count }, () => ({
    topic: rng.pick([...topicChoices(rng, ctx), topics.commands(ctx.device.id)]),
    qos: rng.pick([0, 1, 2]) as 0 | 1 | 2,
    ...(rng.chance(0.3) ? { nl: rng.chance(0.5), rap: rng.chance(0.5), rh: rng.pick([0, 1, 2]) } : {}),
  }));
  if (rng.chance(0.2)) packet.messageId = rng.pick([1, 65_535]);
  return `subscribe to ${count} filters`;
}

/** A structure-aware edit of one packet; null when the packet could not be parsed or written again. */
function structured(rng: Rng, bytes: Buffer, version: number, ctx: MqttFuzzContext): { bytes: Buffer; note: string } | null {
  const packet = parseOne(bytes, version);
  if (!packet) return null;
  let note: string;
  if (packet.cmd === 'connect') note = mutateConnect(rng, packet, ctx);
  else if (packet.cmd === 'publish') note = mutatePublish(rng, packet, ctx);
  else if (packet.cmd === 'subscribe') note = mutateSubscribe(rng, packet, ctx);
  else if (packet.cmd === 'unsubscribe') {
    packet.unsubscriptions = [rng.pick(topicChoices(rng, ctx))];
    note = 'unsubscribe filter';
  } else if ('messageId' in packet) {
    packet.messageId = rng.pick([0, 1, 65_535]);
    note = `${packet.cmd} messageId`;
  } else return null;
  try {
    return { bytes: generate(packet, { protocolVersion: packet.cmd === 'connect' ? packet.protocolVersion : version }), note };
  } catch {
    return null;
  }
}

/** Rewrites the fixed header: another packet type, other flags, QoS 3, a lying or malformed remaining length. */
function header(rng: Rng, bytes: Buffer): { bytes: Buffer; note: string } {
  const { frames } = splitFrames(bytes);
  const frame = frames[0];
  if (!frame) return mutateBytes(rng, bytes);
  const body = bytes.subarray(frame.bodyStart);
  const first = bytes[0] as number;
  switch (rng.int(7)) {
    case 0: {
      const type = rng.int(16);
      return { bytes: Buffer.concat([Buffer.from([(type << 4) | (first & 0x0f)]), bytes.subarray(1)]), note: `type ${type}` };
    }
    case 1: {
      const flags = rng.int(16);
      return { bytes: Buffer.concat([Buffer.from([(first & 0xf0) | flags]), bytes.subarray(1)]), note: `flags ${flags}` };
    }
    case 2:
      return { bytes: Buffer.concat([Buffer.from([first | 0x06]), bytes.subarray(1)]), note: 'QoS bits 3' };
    case 3: {
      const length = Math.max(0, body.length + rng.pick([-3, -1, 1, 2, 100]));
      return {
        bytes: Buffer.concat([Buffer.from([first]), encodeVarint(length), body]),
        note: `remaining length ${length} for ${body.length}`,
      };
    }
    case 4:
      return { bytes: Buffer.concat([Buffer.from([first, 0xff, 0xff, 0xff, 0x7f]), body]), note: 'remaining length 268435455' };
    case 5:
      return { bytes: Buffer.concat([Buffer.from([first, 0xff, 0xff, 0xff, 0xff, 0x7f]), body]), note: 'five-byte varint' };
    default: {
      // Same value, non-minimal encoding (e.g. 0x85 0x80 0x00 for 5).
      const v = encodeVarint(body.length);
      const padded = Buffer.concat([
        Buffer.from(v.subarray(0, -1)),
        Buffer.from([(v[v.length - 1] as number) | 0x80, 0x80, 0x00]),
      ]);
      return { bytes: Buffer.concat([Buffer.from([first]), padded.subarray(0, 4), body]), note: 'non-minimal varint' };
    }
  }
}

/** Case `index` of run `seed`. */
export function mqttCase(seed: number, index: number, ctx: MqttFuzzContext): MqttCase {
  const rng = new Rng(seed, 'mqtt', index);
  const base = rng.pick(ctx.corpus);
  const v5 = base.protocolVersion === 5;
  let packets: Buffer[] = base.packets.map((p) => Buffer.from(p));
  const notes: string[] = [];
  const edits = rng.chance(0.03) ? 0 : rng.range(1, 3);
  for (let e = 0; e < edits; e++) {
    const at = rng.int(packets.length);
    const target = packets[at] as Buffer;
    const roll = rng.int(100);
    if (roll < 40) {
      const done = structured(rng, target, base.protocolVersion, ctx) ?? mutateBytes(rng, target);
      packets[at] = done.bytes;
      notes.push(`#${at} ${done.note}`);
    } else if (roll < 55) {
      const done = header(rng, target);
      packets[at] = done.bytes;
      notes.push(`#${at} ${done.note}`);
    } else if (roll < 70) {
      const done = mutateBytes(rng, target);
      packets[at] = done.bytes;
      notes.push(`#${at} ${done.note}`);
    } else if (roll < 78) {
      const topic = Buffer.concat([
        Buffer.from(topics.base(ctx.device.id)),
        rng.pick([Buffer.from('/health\u0000'), Buffer.from([0xed, 0xa0, 0x80]), Buffer.from([0xc0, 0xaf])]),
      ]);
      const lie = rng.chance(0.4) ? rng.pick([0, 1, 65_535, topic.length + 5]) : undefined;
      packets.splice(
        at + 1,
        0,
        rawPublish({
          topic,
          payload: Buffer.from('{}'),
          qos: rng.int(3),
          id: 9,
          v5,
          ...(lie === undefined ? {} : { topicLength: lie }),
        }),
      );
      notes.push(
        `#${at + 1} raw publish, topic ${JSON.stringify(topic.toString('latin1'))}${lie === undefined ? '' : ` declared ${lie} bytes`}`,
      );
    } else if (roll < 86) {
      const op = rng.int(4);
      if (op === 0 && packets.length > 1) {
        packets.splice(at, 1);
        notes.push(`dropped #${at}`);
      } else if (op === 1) {
        const times = rng.pick([2, 5, 50]);
        packets.splice(at, 0, ...Array.from({ length: times - 1 }, () => Buffer.from(target)));
        notes.push(`#${at} sent ${times} times`);
      } else if (op === 2) {
        const other = rng.int(packets.length);
        [packets[at], packets[other]] = [packets[other] as Buffer, target];
        notes.push(`swapped #${at} and #${other}`);
      } else {
        packets = packets.slice(0, at + 1);
        notes.push(`session cut after #${at}`);
      }
    } else if (roll < 89) {
      // A device that does not wait for PUBACKs: QoS 1 health as fast as the socket takes it.
      const samples = rng.pick([1, 50, 500]);
      const count = rng.pick([20, 100, 300]);
      const flood = Array.from({ length: count }, (_, i) =>
        rawPublish({
          topic: Buffer.from(topics.health(ctx.device.id)),
          payload: healthPayload(rng, samples, 1_000_000 + i * samples),
          qos: 1,
          id: (i % 65_535) + 1,
          v5,
        }),
      );
      packets.splice(Math.min(1, packets.length), 0, ...flood);
      notes.push(`flood of ${count} QoS 1 health publishes × ${samples} samples`);
    } else if (roll < 93) {
      packets.splice(at, 0, rng.bytes(rng.pick([1, 2, 64, 4096])));
      notes.push(`garbage before #${at}`);
    } else {
      // An unexpected packet type the client should never send (CONNACK, SUBACK, PUBREL, AUTH, a second CONNECT).
      const stray = rng.pick([
        Buffer.from([0x20, 0x02, 0x00, 0x00]),
        Buffer.from([0x90, 0x03, 0x00, 0x01, 0x00]),
        Buffer.from([0x62, 0x02, 0x00, 0x01]),
        Buffer.from([0xf0, 0x00]),
        base.packets[0] as Buffer,
      ]);
      packets.splice(at, 0, stray);
      notes.push(`stray packet 0x${(stray[0] as number).toString(16)} before #${at}`);
    }
  }
  const all = Buffer.concat(packets);
  let chunks: Buffer[];
  let paced = false;
  if (rng.chance(0.25) && all.length > 1) {
    // Random write boundaries: packets split across writes, several in one.
    chunks = [];
    for (let i = 0; i < all.length; ) {
      const n = rng.range(1, Math.max(1, Math.min(all.length - i, rng.pick([1, 3, 17, 200]))));
      chunks.push(all.subarray(i, i + n));
      i += n;
      if (chunks.length > 400) {
        chunks.push(all.subarray(i));
        break;
      }
    }
    notes.push(`${chunks.length} writes`);
  } else {
    chunks = packets;
    paced = rng.chance(0.6);
    if (paced) notes.push('waits for CONNACK');
  }
  const transport = rng.chance(0.1) ? 'ws' : 'tcp';
  return { index, base: base.name, transport, chunks, paced, notes };
}
