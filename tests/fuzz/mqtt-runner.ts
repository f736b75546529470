/**
 * Sends one mutated MQTT session on a raw socket (TCP, or binary WebSocket messages to /mqtt) and reads
 * what the server answers, until the server closes, the line goes quiet, or the per-session time runs out.
 */
import { connect as netConnect } from 'node:net';
import WebSocket from 'ws';
import type { MqttCase } from './mqtt-mutator.js';
import { PACKET_NAMES, splitFrames } from './mqtt-wire.js';

export type SessionOutcome = 'closed_by_server' | 'quiet' | 'timeout' | 'connect_failed';

export interface SessionResult {
  outcome: SessionOutcome;
  /** CONNACK return code (3.1.1) or reason code (5), when one came. */
  connack: number | null;
  /** Packet names the server sent, counted. */
  replies: Record<string, number>;
  ms: number;
}

export interface SessionTarget {
  mqttUrl: string;
  wsUrl: string;
  /** The whole session may take this long. */
  timeoutMs: number;
  /** After the last write, this long without a byte from the server ends the session. */
  quietMs: number;
}

/** A reader of the server's bytes: counts reply packets and notes the CONNACK code. */
function replyReader(result: SessionResult) {
  let pending: Buffer = Buffer.alloc(0);
  return (chunk: Buffer) => {
    pending = pending.length ? Buffer.concat([pending, chunk]) : chunk;
    const { frames, consumed } = splitFrames(pending);
    pending = pending.subarray(consumed);
    for (const frame of frames) {
      const name = PACKET_NAMES[frame.type] ?? 'unknown';
      result.replies[name] = (result.replies[name] ?? 0) + 1;
      if (name === 'connack' && result.connack === null) result.connack = frame.bytes[frame.bodyStart + 1] ?? null;
      if (name === 'publish') {
        // Which kind of topic the server sends on (commands, manifest, …): the last segment.
        const length = frame.bytes.readUInt16BE(frame.bodyStart);
        const topic = frame.bytes.subarray(frame.bodyStart + 2, frame.bodyStart + 2 + length).toString('utf8');
        const key = `publish on …/${topic.split('/').pop()}`;
        result.replies[key] = (result.replies[key] ?? 0) + 1;
      }
    }
  };
}

export function runMqttSession(target: SessionTarget, session: MqttCase): Promise<SessionResult> {
  const started = Date.now();
  const result: SessionResult = { outcome: 'timeout', connack: null, replies: {}, ms: 0 };
  const read = replyReader(result);
  return new Promise((resolve) => {
    let finished = false;
    let quietTimer: NodeJS.Timeout | undefined;
    let close: () => void = () => {};
    const finish = (outcome: SessionOutcome) => {
      if (finished) return;
      finished = true;
      clearTimeout(overall);
      clearTimeout(quietTimer);
      result.outcome = outcome;
      result.ms = Date.now() - started;
      close();
      resolve(result);
    };
    const overall = setTimeout(() => finish('timeout'), target.timeoutMs);
    const armQuiet = () => {
      clearTimeout(quietTimer);
      quietTimer = setTimeout(() => finish('quiet'), target.quietMs);
    };
    let connected = false;
    let heard: (() => void) | null = null;
    const onData = (chunk: Buffer) => {
      read(chunk);
      armQuiet();
      heard?.();
      heard = null;
    };
    /** Resolves on the server's first bytes, or after `ms` (a server that says nothing gets the rest anyway). */
    const firstReply = (ms: number) =>
      new Promise<void>((done) => {
        const timer = setTimeout(done, ms);
        heard = () => {
          clearTimeout(timer);
          done();
        };
      });
    const rest = session.paced ? 1 : 0;
    const onClose = () => finish(connected ? 'closed_by_server' : 'connect_failed');

    if (session.transport === 'tcp') {
      const url = new URL(target.mqttUrl);
      const socket = netConnect(Number(url.port), url.hostname);
      close = () => socket.destroy();
      socket.on('data', onData);
      socket.on('error', () => {});
      socket.on('close', onClose);
      socket.on('connect', () => {
        connected = true;
        let i = 0;
        // Writes follow the socket's drain, so a server that stops reading holds the rest back (as a real client would be).
        const writeNext = () => {
          while (i < session.chunks.length && !finished) {
            const ok = socket.write(session.chunks[i++] as Buffer);
            if (!ok) {
              socket.once('drain', writeNext);
              return;
            }
          }
          armQuiet();
        };
        if (!rest) return writeNext();
        socket.write(session.chunks[i++] as Buffer);
        void firstReply(500).then(() => {
          if (!finished) writeNext();
        });
      });
    } else {
      const ws = new WebSocket(target.wsUrl, 'mqtt', { handshakeTimeout: target.timeoutMs });
      close = () => ws.terminate();
      ws.on('message', (data: Buffer) => onData(Buffer.isBuffer(data) ? data : Buffer.from(data as ArrayBuffer)));
      ws.on('error', () => {});
      ws.on('close', onClose);
      ws.on('open', () => {
        connected = true;
        const sendFrom = (i: number) => {
          for (const chunk of session.chunks.slice(i)) if (!finished) ws.send(chunk);
          armQuiet();
        };
        if (!rest) return sendFrom(0);
        ws.send(session.chunks[0] as Buffer);
        void firstReply(500).then(() => {
          if (!finished) sendFrom(1);
        });
      });
    }
  });
}
