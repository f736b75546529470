/**
 * The server under test in a child process (`server/main.ts`, as `npm start` runs it), so its CPU and RSS
 * are its own and the load generator does not share its event loop. Fixed loopback ports, so a restart
 * comes back where the devices reconnect.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { procUsage } from './proc.js';
import { parsePrometheusText } from './server-side.js';

const ROOT = resolve(import.meta.dirname, '..', '..');

export interface ServerProcess {
  child: ChildProcess;
  pid: number;
  httpUrl: string;
  mqttUrl: string;
  /** MQTT over TLS, and the CA devices pin for it (DATA_DIR/tls/ca.pem). */
  mqttsUrl: string;
  caPem: string;
  /** The server's gauge of connected devices, from /metrics. */
  connectedDevices(): Promise<number>;
  metric(name: string): Promise<number>;
  /** The sum of a metric over all its labels (NaN when /metrics could not be read). */
  metricSum(name: string): Promise<number>;
  /** The whole /metrics text ('' when it could not be read). */
  metricsText(): Promise<string>;
  usage(): ReturnType<typeof procUsage>;
  /** SIGTERM (graceful: flushes the ingest queue) or SIGKILL; resolves when it exited. */
  stop(signal?: 'SIGTERM' | 'SIGKILL'): Promise<void>;
}

export interface ServerProcessOptions {
  dataDir: string;
  httpPort: number;
  mqttPort: number;
  /** Fixed MQTTS port (a restart must come back where devices reconnect); default any free one. */
  mqttsPort?: number;
  env?: Record<string, string>;
  /** Extra node flags (e.g. `--cpu-prof --cpu-prof-dir=DIR` to see where the server's time goes). */
  nodeArgs?: string[];
  /** The script run instead of server/main.ts (bench/lib/profiled-server.ts wraps it with a CPU profiler). */
  entry?: string;
}

export const BENCH_ADMIN_PASSWORD = 'bench-admin-password';

export function startServerProcess(o: ServerProcessOptions): Promise<ServerProcess> {
  const child = spawn(process.execPath, [...(o.nodeArgs ?? []), '--import', 'tsx', o.entry ?? 'server/main.ts'], {
    cwd: ROOT,
    env: {
      ...process.env,
      DATA_DIR: o.dataDir,
      HTTP_HOST: '127.0.0.1',
      HTTP_PORT: String(o.httpPort),
      MQTT_HOST: '127.0.0.1',
      MQTT_PORT: String(o.mqttPort),
      // The TLS listeners on any free port, so benches and tests never race for 8883/8443.
      MQTTS_PORT: String(o.mqttsPort ?? 0),
      HTTPS_PORT: '0',
      ADMIN_PASSWORD: BENCH_ADMIN_PASSWORD,
      LOG_LEVEL: 'warn',
      ...o.env,
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  return new Promise((resolvePromise, reject) => {
    let out = '';
    // Generous: a restart under a reconnect storm on a loaded machine is slow to compile and open.
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error('server did not start within 180 s'));
    }, 180_000);
    const onExit = (code: number | null) => reject(new Error(`server exited with ${code} before it was ready`));
    child.once('exit', onExit);
    child.stdout?.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      const mqttUrl = /MQTT \(TCP\)\s+(\S+)/.exec(out)?.[1];
      const httpUrl = /HTTP API and dashboard\s+(\S+)/.exec(out)?.[1];
      const mqttsUrl = /MQTT over TLS\s+(\S+)/.exec(out)?.[1];
      if (!mqttUrl || !httpUrl || !mqttsUrl || !/CA fingerprint/.test(out)) return;
      clearTimeout(timer);
      child.off('exit', onExit);
      child.stdout?.removeAllListeners('data');
      child.stdout?.resume();
      // Busy or momentarily unreachable under a storm: '', so a metric is "not known yet" (NaN), asked again.
      const metricsText = async () => {
        try {
          return await (await fetch(`${httpUrl}/metrics`, { signal: AbortSignal.timeout(10_000) })).text();
        } catch {
          return '';
        }
      };
      const values = async (name: string) =>
        parsePrometheusText(await metricsText())
          .filter((sample) => sample.name === name)
          .map((sample) => sample.value);
      const metric = async (name: string) => {
        if (child.exitCode !== null || child.signalCode !== null) {
          throw new Error(`the server exited (code ${child.exitCode}, signal ${child.signalCode})`);
        }
        return (await values(name))[0] ?? Number.NaN;
      };
      const metricSum = async (name: string) => {
        const found = await values(name);
        return found.length > 0 ? found.reduce((a, b) => a + b, 0) : Number.NaN;
      };
      resolvePromise({
        child,
        pid: child.pid as number,
        httpUrl,
        mqttUrl,
        mqttsUrl,
        caPem: readFileSync(join(o.dataDir, 'tls', 'ca.pem'), 'utf8'),
        metric,
        metricSum,
        metricsText,
        connectedDevices: () => metric('fleet_devices_connected'),
        usage: () => procUsage(child.pid as number),
        stop(signal = 'SIGTERM') {
          if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
          const exited = new Promise<void>((r) => child.once('exit', () => r()));
          child.kill(signal);
          const force = setTimeout(() => child.kill('SIGKILL'), 60_000);
          return exited.finally(() => clearTimeout(force));
        },
      });
    });
  });
}
