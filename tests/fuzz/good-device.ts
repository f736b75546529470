/**
 * The well-behaved device beside the fuzzing: a real mqtt.js client of an enrolled device that publishes one
 * QoS 1 health sample every `everyMs` and waits for each PUBACK. It notes which seqs were acknowledged and
 * the longest time between two acknowledgements, so the run can show it kept being served and lost nothing.
 */
import mqtt, { type MqttClient } from 'mqtt';
import { topics } from '../../protocol/index.js';
import type { DeviceCredentials } from './recorder.js';

export interface GoodDeviceFigures {
  sent: number;
  acked: number[];
  /** Longest wait between two PUBACKs (or from the start to the first), in ms, while running. */
  maxGapMs: number;
}

export class GoodDevice {
  private client: MqttClient | null = null;
  private seq = 0;
  private timer: NodeJS.Timeout | undefined;
  private readonly acked: number[] = [];
  private lastAck = 0;
  private maxGapMs = 0;
  private inFlight = 0;
  private generation = 0;

  constructor(
    private readonly device: DeviceCredentials,
    private readonly everyMs = 100,
  ) {}

  /** Connects (or reconnects, after a server restart) to `mqttUrl` and starts publishing. */
  start(mqttUrl: string): void {
    this.client?.end(true);
    const generation = ++this.generation;
    this.inFlight = 0;
    this.client = mqtt.connect(mqttUrl, {
      clientId: this.device.id,
      username: this.device.id,
      password: this.device.secret,
      clean: false,
      keepalive: 30,
      reconnectPeriod: 500,
      connectTimeout: 5000,
    });
    this.client.on('error', () => {});
    this.lastAck = Date.now();
    clearInterval(this.timer);
    this.timer = setInterval(() => this.tick(generation), this.everyMs);
  }

  private tick(generation: number): void {
    const client = this.client;
    if (!client?.connected || this.inFlight >= 5) return;
    const seq = ++this.seq;
    const sample = {
      seq,
      ts: Date.now(),
      cpuLoad: 5,
      memUsed: 30,
      diskUsed: 50,
      diskFree: 1e9,
      tempC: null,
      uptimeS: seq,
      contentSeq: 0,
      queueDepth: 0,
    };
    this.inFlight++;
    client.publish(topics.health(this.device.id), JSON.stringify({ samples: [sample] }), { qos: 1 }, (error) => {
      if (generation !== this.generation) return;
      this.inFlight--;
      if (error) return;
      const now = Date.now();
      this.maxGapMs = Math.max(this.maxGapMs, now - this.lastAck);
      this.lastAck = now;
      this.acked.push(seq);
    });
  }

  get ackedCount(): number {
    return this.acked.length;
  }

  /** Resets the gap clock (after a deliberate pause such as a server restart). */
  resetGap(): void {
    this.lastAck = Date.now();
  }

  /** Stops publishing, waits (bounded) for the PUBACKs still due, and disconnects. */
  async stop(waitMs = 10_000): Promise<GoodDeviceFigures> {
    clearInterval(this.timer);
    this.maxGapMs = Math.max(this.maxGapMs, Date.now() - this.lastAck);
    const deadline = Date.now() + waitMs;
    while (this.inFlight > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    const client = this.client;
    this.generation++;
    this.client = null;
    if (client) await client.endAsync(true);
    return { sent: this.seq, acked: [...this.acked], maxGapMs: this.maxGapMs };
  }
}
