/**
 * A light simulated kiosk speaking the real protocol (mqtt.js, protocol/ topics and schemas): retained
 * `status` with a last will, QoS 1 `health` with a per-device increasing seq, a bounded buffer of samples
 * taken while offline (flushed in batches on reconnect, like the agent's on-disk queue), reconnect with
 * backoff and jitter. It remembers every seq the server acknowledged, so a check can compare that with
 * the `health` table: a PUBACK means committed (DESIGN §5).
 */
import mqtt, { type MqttClient } from 'mqtt';
import { type EventMessage, type HealthSample, LIMITS, type StatusMessage, topics } from '../../protocol/index.js';
import { SeqRanges } from './seq-ranges.js';

export interface SimDeviceOptions {
  id: string;
  secret: string;
  mqttUrl: string;
  /** The CA to trust for mqtts:// (the server's DATA_DIR/tls/ca.pem), as a kiosk pins it. */
  ca?: string;
  /** Offset of this kiosk's clock from the real one (a kiosk without RTC). */
  clockSkewMs?: number;
  /** Reports a nearly full disk in its samples. */
  diskFull?: boolean;
  /** Reconnect delay: base × 2^attempt, capped, full jitter. */
  reconnectBaseMs?: number;
  reconnectCapMs?: number;
  /** Samples kept while unacknowledged (the agent's queue bound); the oldest are dropped past it. */
  queueLimit?: number;
  /** Health messages published but not acknowledged yet, at most (back-pressure like the agent's). */
  maxInflight?: number;
  /** Samples per health message at most (default the protocol's limit; 1 makes every message one sample). */
  maxBatch?: number;
  connectTimeoutMs?: number;
  agentVersion?: string;
  /** Random source for jitter and metrics. */
  random?: () => number;
}

export interface SimDeviceCounters {
  connects: number;
  connectFailures: number;
  published: number;
  acked: number;
  dropped: number;
}

export class SimDevice {
  readonly acked = new SeqRanges();
  readonly counters: SimDeviceCounters = { connects: 0, connectFailures: 0, published: 0, acked: 0, dropped: 0 };
  /** Sample taken → PUBACK (= committed) latencies in ms, while `recordLatency` is on (waiting in the device included). */
  readonly latencies: number[] = [];
  recordLatency = false;
  /** Called after each acknowledged batch (closed-loop load generators top up here). */
  onAck: (() => void) | null = null;
  private readonly takenAt = new Map<number, number>();
  private client: MqttClient | null = null;
  private seq = 0;
  /** Samples taken, not yet handed to the link (offline, or too many in flight). */
  private readonly waiting: HealthSample[] = [];
  /** Batches published on the current connection and not acknowledged yet. */
  private readonly inflightBatches = new Set<HealthSample[]>();
  private attempt = 0;
  private reconnectTimer: NodeJS.Timeout | null = null;
  private stopped = false;
  private firstConnect: ((ok: boolean) => void) | null = null;
  private readonly bootId = `boot-${Math.floor(Math.random() * 1e12).toString(36)}`;
  private readonly random: () => number;

  constructor(private readonly o: SimDeviceOptions) {
    this.random = o.random ?? Math.random;
  }

  get id(): string {
    return this.o.id;
  }
  get connected(): boolean {
    return this.client?.connected === true;
  }
  /** Samples taken and not yet acknowledged (buffered or in flight). */
  get unacknowledged(): number {
    let n = this.waiting.length;
    for (const b of this.inflightBatches) n += b.length;
    return n;
  }
  get lastSeq(): number {
    return this.seq;
  }

  private now(): number {
    return Date.now() + (this.o.clockSkewMs ?? 0);
  }

  /** Connects; resolves true on the first CONNACK, false when that attempt fails (it keeps retrying). */
  start(): Promise<boolean> {
    this.stopped = false;
    return new Promise((resolve) => {
      this.firstConnect = resolve;
      this.open();
    });
  }

  private open(): void {
    const will: StatusMessage = {
      online: false,
      ts: this.now(),
      agentVersion: this.o.agentVersion ?? 'sim-1',
      bootId: this.bootId,
    };
    const client = mqtt.connect(this.o.mqttUrl, {
      username: this.o.id,
      password: this.o.secret,
      clientId: `${this.o.id}-${this.bootId}`,
      reconnectPeriod: 0,
      connectTimeout: this.o.connectTimeoutMs ?? 30_000,
      keepalive: 120,
      ...(this.o.ca ? { ca: this.o.ca, rejectUnauthorized: true } : {}),
      will: { topic: topics.status(this.o.id), payload: Buffer.from(JSON.stringify(will)), qos: 1, retain: true },
    });
    this.client = client;
    client.on('connect', () => {
      this.attempt = 0;
      this.counters.connects++;
      this.firstConnect?.(true);
      this.firstConnect = null;
      const status: StatusMessage = {
        online: true,
        ts: this.now(),
        agentVersion: this.o.agentVersion ?? 'sim-1',
        bootId: this.bootId,
      };
      client.publish(topics.status(this.o.id), JSON.stringify(status), { qos: 1, retain: true }, () => {});
      client.subscribe([topics.commands(this.o.id), topics.manifest(this.o.id)], { qos: 1 }, () => {});
      if (this.o.diskFull) {
        // What the agent reports when a download finds no room (agent/content-sync.ts).
        const event: EventMessage = {
          type: 'disk_full',
          severity: 'critical',
          message: 'not enough disk space for the next content update',
          ts: this.now(),
        };
        client.publish(topics.events(this.o.id), JSON.stringify(event), { qos: 1 }, () => {});
      }
      this.pump();
    });
    client.on('error', () => {
      // Refusals and resets end in 'close'; the reconnect logic lives there.
    });
    let gotConnack = false;
    client.once('connect', () => {
      gotConnack = true;
    });
    client.on('close', () => {
      if (client !== this.client) return;
      if (!gotConnack) {
        this.counters.connectFailures++;
        this.firstConnect?.(false);
        this.firstConnect = null;
      }
      this.scheduleReconnect();
    });
  }

  private scheduleReconnect(): void {
    if (this.stopped || this.reconnectTimer) return;
    const base = this.o.reconnectBaseMs ?? 1000;
    const cap = this.o.reconnectCapMs ?? 30_000;
    const delay = this.random() * Math.min(cap, base * 2 ** Math.min(this.attempt++, 16));
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = null;
      if (this.stopped) return;
      this.retire();
      this.open();
    }, delay);
  }

  /** Takes one health sample (what the agent's interval timer does) and sends it when it can. */
  sample(): HealthSample {
    const r = this.random();
    const s: HealthSample = {
      seq: ++this.seq,
      ts: this.now(),
      cpuLoad: Math.round(5 + r * 40),
      memUsed: Math.round(30 + r * 30),
      diskUsed: this.o.diskFull ? 99 : Math.round(40 + r * 20),
      diskFree: this.o.diskFull ? 50_000_000 : 20_000_000_000,
      tempC: Math.round(40 + r * 20),
      uptimeS: this.seq * 60,
      contentSeq: 1,
      queueDepth: this.waiting.length,
    };
    this.waiting.push(s);
    if (this.recordLatency) this.takenAt.set(s.seq, performance.now());
    const limit = this.o.queueLimit ?? 10_000;
    if (this.waiting.length > limit) {
      this.waiting.splice(0, this.waiting.length - limit);
      this.counters.dropped++;
    }
    this.pump();
    return s;
  }

  /** Sends waiting samples while connected and under the in-flight bound; a backlog goes in batches. */
  private pump(): void {
    const client = this.client;
    const maxInflight = this.o.maxInflight ?? 4;
    while (client?.connected && this.waiting.length > 0 && this.inflightBatches.size < maxInflight) {
      const batch = this.waiting.splice(0, Math.min(LIMITS.maxHealthSamples, this.o.maxBatch ?? LIMITS.maxHealthSamples));
      this.inflightBatches.add(batch);
      this.counters.published++;
      client.publish(topics.health(this.o.id), JSON.stringify({ samples: batch }), { qos: 1 }, (error) => {
        // A batch retired with its connection is already back in `waiting`.
        if (!this.inflightBatches.delete(batch)) return;
        if (error) {
          this.waiting.unshift(...batch);
        } else {
          this.counters.acked += batch.length;
          const t = performance.now();
          for (const s of batch) {
            this.acked.add(s.seq);
            const at = this.takenAt.get(s.seq);
            if (at !== undefined) {
              this.takenAt.delete(s.seq);
              this.latencies.push(t - at);
            }
          }
        }
        this.pump();
        if (!error) this.onAck?.();
      });
    }
  }

  /**
   * Ends the current connection's life: what it had in flight goes back to the front of `waiting` (in seq
   * order) to be sent again on the next one, as the agent's queue does; a late PUBACK for it is ignored.
   * The server deduplicates by (device, seq), so a resend of something it had committed costs nothing.
   */
  private retire(): void {
    const client = this.client;
    this.client = null;
    const back = [...this.inflightBatches].flat().sort((a, b) => a.seq - b.seq);
    this.inflightBatches.clear();
    this.waiting.unshift(...back);
    if (client) {
      client.removeAllListeners();
      client.on('error', () => {});
      client.end(true);
    }
  }

  /** Drops the link as a dead network would (no DISCONNECT, so the server sees the will). */
  cut(): void {
    this.retire();
    this.scheduleReconnect();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    this.reconnectTimer = null;
    this.firstConnect?.(false);
    this.firstConnect = null;
    this.retire();
  }
}
