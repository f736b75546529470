/** IPC between a load-generator worker (worker.ts) and the process driving it (generator.ts). */
import type { Range } from './seq-ranges.js';
import type { SimDeviceOptions } from './sim-device.js';

export type WorkerRequest =
  | {
      cmd: 'init';
      mode: 'fleet' | 'raw';
      mqttUrl: string;
      ids: string[];
      fleetKey: string;
      connectConcurrency: number;
      device: Partial<Omit<SimDeviceOptions, 'id' | 'secret' | 'mqttUrl'>>;
    }
  | {
      cmd: 'connect';
      mqttUrl?: string;
      count?: number;
      offset?: number;
      concurrency?: number;
      /** Raw mode: one QoS 1 subscriber per worker on `bench/{offset}/#`, which its publishers publish to. */
      subscribe?: boolean;
    }
  | { cmd: 'sample'; intervalMs: number }
  | { cmd: 'rate'; perSecond: number; payloadBytes?: number }
  | { cmd: 'closedLoop'; inflight: number; payloadBytes?: number }
  | { cmd: 'stopSampling' }
  | { cmd: 'latency'; on: boolean }
  | { cmd: 'counters'; latencies: boolean }
  | { cmd: 'drain'; timeoutMs: number }
  | { cmd: 'report' }
  | { cmd: 'stop' };

export type WorkerReply = { cpuMs: number } & (
  | { cmd: 'init' | 'sample' | 'rate' | 'closedLoop' | 'stopSampling' | 'latency' | 'stop' }
  | { cmd: 'connect'; connected: number; ms: number }
  | {
      cmd: 'counters';
      acked: number;
      taken: number;
      unacknowledged: number;
      connected: number;
      /** Raw mode: messages this worker's subscriber received (0 in fleet mode). */
      received: number;
      latencies: number[];
    }
  | { cmd: 'drain'; done: boolean; ms: number; unacknowledged: number; received: number; acked: number }
  | { cmd: 'report'; ackedRanges: Record<string, Range[]>; lastSeq: Record<string, number> }
  | { cmd: 'error'; message: string }
);
