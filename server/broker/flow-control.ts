/**
 * Read-side back-pressure for device connections (DESIGN §5). Holding `authorizePublish` until the commit does
 * not by itself stop aedes 1.2 from reading a socket: its Client reads with `conn.read(null)` (everything the
 * stream has buffered) and parses every packet in it at once, and its `'readable'` listener decrements the same
 * `_parsingBatch` counter the packet callbacks do, so each chunk that arrives lets it read again while earlier
 * publishes still wait (node_modules/aedes/lib/client.js `nextBatch`). A device that never waits for its PUBACKs
 * is therefore read as fast as it sends.
 *
 * Here every connection's `read()` is wrapped: while its device has more than `pendingPublishes` publishes (or
 * `pendingBytes` of payload) waiting for their commit, or more than `writeBufferBytes` of PUBACKs it does not
 * read, or while the ingest queue is full, aedes' read gets nothing. The bytes stay in the stream's buffer, which
 * stops pulling from the socket at its highWaterMark, so TCP pushes back on the sender. Node's own `read(0)`
 * refills pass through. When the reason is gone, the connection is read again (a `'readable'` kick). A device
 * held for its own reasons `disconnectAfterHolds` times or `disconnectAfterMs` in total (both forgotten after
 * `forgetAfterMs` without being held) is disconnected. The agent keeps one backlog batch and the live sample in
 * flight (agent/health-sender.ts), far below the bound: only a device that ignores its PUBACKs is ever held.
 */
import type { Client, Connection } from 'aedes';

export const FLOW_LIMITS = {
  /** Publishes of one device waiting for their commit (so for their PUBACK) before its sockets stop being read. */
  pendingPublishes: 32,
  /** … or this much payload waiting. */
  pendingBytes: 1024 * 1024,
  /** Bytes the broker has queued for one connection (PUBACKs the device does not read) before it stops reading it. */
  writeBufferBytes: 64 * 1024,
  /** A device held for its own reasons this many times … */
  disconnectAfterHolds: 10,
  /** … or this long in total is disconnected; */
  disconnectAfterMs: 5_000,
  /** … both counted again from zero after this long without being held. */
  forgetAfterMs: 60_000,
  /** How often held connections are looked at again (they are also when one of their publishes settles). */
  checkEveryMs: 20,
};
export type FlowLimits = typeof FLOW_LIMITS;

type HoldReason = 'device' | 'ingest';

interface Gate {
  client: Client;
  stream: Connection;
  deviceId: string | undefined;
}

interface Flow {
  pending: number;
  bytes: number;
  /** Since when the device is held for its own reasons (null: it is not). */
  heldSince: number | null;
  /** Time held in earlier episodes, and how many, not forgotten yet. */
  heldMs: number;
  holds: number;
  lastHeldEnd: number;
}

export interface FlowControlOptions {
  /** The device a connection logged in as (undefined before its CONNECT is accepted). */
  deviceOf(client: Client): string | undefined;
  /** The ingest queue is at its limit: no device is read until commits make room. */
  ingestFull(): boolean;
  /** A device went over its bound and its connections stop being read (once per episode). */
  onHeld(deviceId: string, detail: { pending: number; bytes: number }): void;
  /** A device stayed over its bound too long: the broker disconnects it. */
  onPersisting(deviceId: string, detail: { heldMs: number; holds: number; pending: number }): void;
  limits?: Partial<FlowLimits>;
  now?: () => number;
}

export function createFlowControl(options: FlowControlOptions) {
  const limits: FlowLimits = { ...FLOW_LIMITS, ...options.limits };
  const now = options.now ?? Date.now;
  const flows = new Map<string, Flow>();
  /** Connections not read for their device's own reasons (few: only devices that ignore their PUBACKs). */
  const heldForDevice = new Set<Gate>();
  /** Connections not read because the ingest queue is full, in the order they were held: all of them, at worst. */
  const waitingForIngest = new Set<Gate>();
  /** Devices held for their own reasons lately: their episodes are counted until forgotten. */
  const watched = new Set<string>();
  let ticker: NodeJS.Timeout | null = null;
  let sweepSoon: NodeJS.Immediate | null = null;
  let closed = false;

  function flowOf(deviceId: string): Flow {
    let flow = flows.get(deviceId);
    if (!flow) {
      flow = { pending: 0, bytes: 0, heldSince: null, heldMs: 0, holds: 0, lastHeldEnd: 0 };
      flows.set(deviceId, flow);
    }
    return flow;
  }

  function holdReason(gate: Gate): HoldReason | null {
    gate.deviceId ??= options.deviceOf(gate.client);
    // Before the CONNECT is accepted aedes reads only it (later packets wait in its bounded pre-connect queue).
    if (gate.deviceId === undefined) return null;
    const flow = flows.get(gate.deviceId);
    if (flow && (flow.pending > limits.pendingPublishes || flow.bytes > limits.pendingBytes)) return 'device';
    if (gate.stream.writableLength > limits.writeBufferBytes) return 'device';
    return options.ingestFull() ? 'ingest' : null;
  }

  function release(gate: Gate): void {
    heldForDevice.delete(gate);
    waitingForIngest.delete(gate);
  }

  function hold(gate: Gate, reason: HoldReason): void {
    release(gate);
    (reason === 'device' ? heldForDevice : waitingForIngest).add(gate);
    if (reason === 'device' && gate.deviceId !== undefined) {
      const flow = flowOf(gate.deviceId);
      if (flow.heldSince === null) {
        const t = now();
        if (t - flow.lastHeldEnd > limits.forgetAfterMs) {
          flow.heldMs = 0;
          flow.holds = 0;
        }
        flow.heldSince = t;
        flow.holds++;
        watched.add(gate.deviceId);
        options.onHeld(gate.deviceId, { pending: flow.pending, bytes: flow.bytes });
      }
    }
    if (!ticker && !closed) {
      ticker = setInterval(sweep, limits.checkEveryMs);
      ticker.unref();
    }
  }

  function forget(deviceId: string, flow: Flow): void {
    if (flow.pending === 0 && flow.heldSince === null && (flow.holds === 0 || now() - flow.lastHeldEnd > limits.forgetAfterMs)) {
      flows.delete(deviceId);
    }
  }

  /** aedes reads on 'readable'; nothing else would tell it the bytes waiting in the buffer may be read now. */
  function readAgain(gate: Gate): void {
    release(gate);
    gate.stream.emit('readable');
  }

  /**
   * Reads again what may be read; ends, or punishes, the devices' episodes of being held. Its cost is the devices held
   * for their own reasons plus the connections it reads again: while the ingest queue stays full, the connections
   * waiting for it are not looked at one by one (at 10 000 kiosks that was 10 000 checks at every settle).
   */
  function sweep(): void {
    sweepSoon = null;
    const stillHeld = new Set<string>();
    for (const gate of heldForDevice) {
      if (gate.stream.destroyed) {
        release(gate);
        continue;
      }
      const reason = holdReason(gate);
      if (reason === null) readAgain(gate);
      else if (reason === 'ingest') hold(gate, reason);
      else if (gate.deviceId !== undefined) stillHeld.add(gate.deviceId);
    }
    // Oldest first, until the queue is full again; a connection held again goes to the back (the Set's order). The
    // count bounds the loop: a connection read again and held again within it is not looked at twice.
    let turns = waitingForIngest.size;
    for (const gate of waitingForIngest) {
      if (turns-- === 0 || options.ingestFull()) break;
      if (gate.stream.destroyed) release(gate);
      else if (holdReason(gate) !== 'device') readAgain(gate);
      else {
        hold(gate, 'device');
        if (gate.deviceId !== undefined) stillHeld.add(gate.deviceId);
      }
    }
    const t = now();
    for (const deviceId of watched) {
      const flow = flows.get(deviceId);
      if (!flow) {
        watched.delete(deviceId);
        continue;
      }
      if (flow.heldSince !== null && !stillHeld.has(deviceId)) {
        flow.heldMs += t - flow.heldSince;
        flow.heldSince = null;
        flow.lastHeldEnd = t;
      }
      const heldMs = flow.heldMs + (flow.heldSince === null ? 0 : t - flow.heldSince);
      if (heldMs > limits.disconnectAfterMs || flow.holds > limits.disconnectAfterHolds) {
        const holds = flow.holds;
        flow.heldSince = null;
        flow.heldMs = 0;
        flow.holds = 0;
        flow.lastHeldEnd = t;
        for (const gate of heldForDevice) if (gate.deviceId === deviceId) release(gate);
        options.onPersisting(deviceId, { heldMs, holds, pending: flow.pending });
      }
      if (flow.heldSince === null && (flow.holds === 0 || t - flow.lastHeldEnd > limits.forgetAfterMs)) {
        watched.delete(deviceId);
        forget(deviceId, flow);
      }
    }
    if (heldForDevice.size + waitingForIngest.size === 0 && ticker) {
      clearInterval(ticker);
      ticker = null;
    }
  }

  return {
    /** Puts the connection's reads under this control (call right after aedes.handle). */
    attach(client: Client, stream: Connection): void {
      const gate: Gate = { client, stream, deviceId: undefined };
      const read = stream.read;
      stream.read = function gatedRead(this: Connection, size?: number) {
        if (size !== 0) {
          const reason = holdReason(gate);
          if (reason !== null) {
            hold(gate, reason);
            return null;
          }
        }
        return read.call(this, size);
      } as typeof stream.read;
      stream.once('close', () => release(gate));
    },

    /** A publish of `deviceId` with `bytes` of payload now waits for its commit; call the result when it settled. */
    begin(deviceId: string, bytes: number): () => void {
      const flow = flowOf(deviceId);
      flow.pending++;
      flow.bytes += bytes;
      let settled = false;
      return () => {
        if (settled) return;
        settled = true;
        flow.pending--;
        flow.bytes -= bytes;
        forget(deviceId, flow);
        if (heldForDevice.size + waitingForIngest.size > 0) sweepSoon ??= setImmediate(sweep);
      };
    },

    /** Publishes of this device waiting for their commit now (for tests and logs). */
    pending: (deviceId: string) => flows.get(deviceId)?.pending ?? 0,

    close(): void {
      closed = true;
      if (ticker) clearInterval(ticker);
      if (sweepSoon) clearImmediate(sweepSoon);
      ticker = null;
      sweepSoon = null;
      heldForDevice.clear();
      waitingForIngest.clear();
      watched.clear();
    },
  };
}
export type FlowControl = ReturnType<typeof createFlowControl>;
