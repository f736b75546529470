/**
 * A fleet of light simulated kiosks in one process: connects them with bounded concurrency (a real fleet
 * does not arrive in one millisecond, and a listen backlog would turn a burst into SYN retries), makes each
 * take a health sample every `healthIntervalMs` at its own phase, and reports what the server acknowledged.
 */
import type { Range } from './seq-ranges.js';
import { SimDevice, type SimDeviceOptions } from './sim-device.js';

export interface FleetDevice {
  id: string;
  secret: string;
  clockSkewMs?: number;
  diskFull?: boolean;
}

export interface FleetOptions {
  mqttUrl: string;
  devices: FleetDevice[];
  /** Connections being opened at once, at most. */
  connectConcurrency?: number;
  device?: Partial<Omit<SimDeviceOptions, 'id' | 'secret' | 'mqttUrl'>>;
}

export interface FleetReport {
  devices: number;
  connected: number;
  samplesTaken: number;
  acked: number;
  unacknowledged: number;
  connects: number;
  connectFailures: number;
  /** Acknowledged seqs per device id. */
  ackedRanges: Record<string, Range[]>;
  /** Highest seq each device produced. */
  lastSeq: Record<string, number>;
}

export class Fleet {
  readonly devices: SimDevice[];
  private timers: NodeJS.Timeout[] = [];

  constructor(private readonly o: FleetOptions) {
    this.devices = o.devices.map(
      (d) =>
        new SimDevice({
          ...o.device,
          id: d.id,
          secret: d.secret,
          mqttUrl: o.mqttUrl,
          ...(d.clockSkewMs !== undefined ? { clockSkewMs: d.clockSkewMs } : {}),
          ...(d.diskFull !== undefined ? { diskFull: d.diskFull } : {}),
        }),
    );
  }

  /** Opens every connection (at most `connectConcurrency` pending); resolves with how many got a CONNACK. */
  async connect(): Promise<number> {
    const limit = this.o.connectConcurrency ?? 200;
    let next = 0;
    let ok = 0;
    const lane = async () => {
      while (next < this.devices.length) {
        const device = this.devices[next++] as SimDevice;
        if (await device.start()) ok++;
      }
    };
    await Promise.all(Array.from({ length: Math.min(limit, this.devices.length) }, lane));
    return ok;
  }

  get connected(): number {
    return this.devices.filter((d) => d.connected).length;
  }

  /** Every device samples every `intervalMs`, each at a random phase, until `stopSampling`. */
  startSampling(intervalMs: number): void {
    this.stopSampling();
    for (const device of this.devices) {
      const phase = Math.random() * intervalMs;
      const first = setTimeout(() => {
        device.sample();
        const every = setInterval(() => device.sample(), intervalMs);
        this.timers.push(every);
      }, phase);
      this.timers.push(first);
    }
  }

  stopSampling(): void {
    for (const t of this.timers) clearTimeout(t);
    this.timers = [];
  }

  /** One sample from every device now. */
  sampleAll(): void {
    for (const device of this.devices) device.sample();
  }

  /** Samples taken and not yet acknowledged, fleet-wide. */
  get unacknowledged(): number {
    return this.devices.reduce((n, d) => n + d.unacknowledged, 0);
  }

  report(): FleetReport {
    const ackedRanges: Record<string, Range[]> = {};
    const lastSeq: Record<string, number> = {};
    let acked = 0;
    let connects = 0;
    let connectFailures = 0;
    let samplesTaken = 0;
    for (const d of this.devices) {
      ackedRanges[d.id] = d.acked.toJSON();
      lastSeq[d.id] = d.lastSeq;
      acked += d.counters.acked;
      connects += d.counters.connects;
      connectFailures += d.counters.connectFailures;
      samplesTaken += d.lastSeq;
    }
    return {
      devices: this.devices.length,
      connected: this.connected,
      samplesTaken,
      acked,
      unacknowledged: this.unacknowledged,
      connects,
      connectFailures,
      ackedRanges,
      lastSeq,
    };
  }

  async stop(): Promise<void> {
    this.stopSampling();
    await Promise.all(this.devices.map((d) => d.stop()));
  }
}
