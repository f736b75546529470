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
  | { cmd: 'connect'; mqttUrl?: string; count?: number; offset?: number; concurrency?: number }
  | { cmd: 'sample'; intervalMs: number }
  | { cmd: 'rate'; perSecond: number }
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
      latencies: number[];
    }
  | { cmd: 'drain'; done: boolean; ms: number; unacknowledged: number }
  | { cmd: 'report'; ackedRanges: Record<string, Range[]>; lastSeq: Record<string, number> }
  | { cmd: 'error'; message: string }
);
