/**
 * Scenario 4: the broker alone (aedes, as embedded in the server, without auth and storage) against Mosquitto
 * under the same load generator in the same run: N closed-loop QoS 1 publishers of 300-byte messages, one QoS 1
 * subscriber on `bench/#`. Mosquitto gets `max_queued_messages 0` and `max_inflight_messages 0` (its defaults
 * silently drop QoS 1 to a slow subscriber; /work/shared/PERFORMANCE.md).
 */
import { type ChildProcess, execFileSync, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import mqtt from 'mqtt';
import { Generator } from '../../tools/fleet-sim/generator.js';
import { freePort, MiB, procUsage, sleep, until } from '../lib/proc.js';

export interface BrokerCompareOptions {
  publishers: number;
  seconds: number;
  workers: number;
  log: (line: string) => void;
}

const ROOT = resolve(import.meta.dirname, '..', '..');

function mosquittoPath(log: (line: string) => void): string | null {
  const find = () => {
    try {
      return (
        execFileSync('/bin/sh', ['-c', 'command -v mosquitto || ls /usr/sbin/mosquitto']).toString().trim().split('\n')[0] || null
      );
    } catch {
      return null;
    }
  };
  const found = find();
  if (found) return found;
  if (process.getuid?.() !== 0) {
    log('  mosquitto missing and not root: run `sudo apt-get install -y mosquitto`');
    return null;
  }
  log('  installing the Debian package mosquitto…');
  execFileSync('/bin/sh', ['-c', 'DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends mosquitto'], {
    stdio: 'ignore',
  });
  return find();
}

async function waitForPort(port: number, child: ChildProcess): Promise<void> {
  const ok = await until(
    () =>
      new Promise<boolean>((r) => {
        const c = mqtt.connect(`mqtt://127.0.0.1:${port}`, { reconnectPeriod: 0, connectTimeout: 1000 });
        c.once('connect', () => {
          c.end(true);
          r(true);
        });
        c.once('error', () => {
          c.end(true);
          r(false);
        });
        c.once('close', () => r(false));
      }),
    20_000,
    200,
  );
  if (!ok || child.exitCode !== null) throw new Error(`broker on ${port} did not come up`);
}

async function measure(name: string, port: number, child: ChildProcess, o: BrokerCompareOptions) {
  await waitForPort(port, child);
  const url = `mqtt://127.0.0.1:${port}`;
  let received = 0;
  const sub = mqtt.connect(url, { clientId: 'bench-subscriber', reconnectPeriod: 0, clean: true });
  await new Promise<void>((r) => sub.once('connect', () => r()));
  sub.on('message', () => {
    received++;
  });
  await sub.subscribeAsync('bench/#', { qos: 1 });
  const gen = Generator.start(o.workers);
  try {
    const per = Math.ceil(o.publishers / gen.size);
    await gen.all({ cmd: 'init', mode: 'raw', mqttUrl: url, ids: [], fleetKey: '', connectConcurrency: 100, device: {} });
    const connected = (
      await gen.all((i) => ({ cmd: 'connect', mqttUrl: url, count: per, offset: i * per, concurrency: 100 }))
    ).reduce((n, x) => n + x.connected, 0);
    await gen.all({ cmd: 'closedLoop', inflight: 2, payloadBytes: 300 });
    await sleep(2000); // warm up
    const b0 = procUsage(child.pid as number);
    const c0 = await gen.all({ cmd: 'counters', latencies: false });
    const sub0 = process.cpuUsage();
    const r0 = received;
    await sleep(o.seconds * 1000);
    const r1 = received;
    const b1 = procUsage(child.pid as number);
    const c1 = await gen.all({ cmd: 'counters', latencies: false });
    const subCpu = process.cpuUsage(sub0);
    await gen.all({ cmd: 'stopSampling' });
    const acked = c1.reduce((n, x) => n + x.acked, 0);
    await until(() => received >= acked, 20_000, 100);
    const result = {
      broker: name,
      publishers: connected,
      deliveredPerSecond: (r1 - r0) / o.seconds,
      publishAckedPerSecond: (acked - c0.reduce((n, x) => n + x.acked, 0)) / o.seconds,
      lost: Math.max(0, acked - received),
      brokerCpuPercent: ((b1.cpuMs - b0.cpuMs) / (o.seconds * 1000)) * 100,
      brokerCpuUsPerMessage: ((b1.cpuMs - b0.cpuMs) * 1000) / Math.max(1, r1 - r0),
      brokerRssMiB: b1.rssBytes / MiB,
      generatorCpuPercent: ((Generator.cpuMs(c1) - Generator.cpuMs(c0)) / (o.seconds * 1000)) * 100,
      subscriberCpuPercent: ((subCpu.user + subCpu.system) / 1000 / (o.seconds * 1000)) * 100,
    };
    o.log(`  ${name}: ${JSON.stringify(result)}`);
    return result;
  } finally {
    await gen.stop();
    await sub.endAsync(true).catch(() => {});
  }
}

function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((r) => {
    child.once('exit', () => r());
    child.kill('SIGTERM');
    setTimeout(() => child.kill('SIGKILL'), 5000).unref();
  });
}

export async function runBrokerCompare(o: BrokerCompareOptions) {
  const aedesPort = await freePort();
  const aedes = spawn(process.execPath, ['--import', 'tsx', 'bench/lib/aedes-alone.ts', String(aedesPort)], {
    cwd: ROOT,
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  let aedesResult: Awaited<ReturnType<typeof measure>>;
  try {
    aedesResult = await measure('aedes', aedesPort, aedes, o);
  } finally {
    await stopChild(aedes);
  }
  const bin = mosquittoPath(o.log);
  if (!bin) return { aedes: aedesResult, mosquitto: null, note: 'mosquitto not installed' };
  const dir = mkdtempSync(join(tmpdir(), 'bench-mosquitto-'));
  const port = await freePort();
  const conf = join(dir, 'mosquitto.conf');
  writeFileSync(
    conf,
    [
      `listener ${port} 127.0.0.1`,
      'allow_anonymous true',
      'max_queued_messages 0',
      'max_inflight_messages 0',
      'persistence false',
      'log_dest none',
      '',
    ].join('\n'),
  );
  const mosquitto = spawn(bin, ['-c', conf], { stdio: ['ignore', 'ignore', 'inherit'] });
  try {
    // `mosquitto -h` prints its version and exits non-zero.
    const version = spawnSync(bin, ['-h'], { encoding: 'utf8' }).stdout.split('\n')[0] ?? '';
    const mosquittoResult = { ...(await measure('mosquitto', port, mosquitto, o)), version: version.trim() };
    return {
      aedes: aedesResult,
      mosquitto: mosquittoResult,
      ratioMosquittoToAedes: mosquittoResult.deliveredPerSecond / aedesResult.deliveredPerSecond,
    };
  } finally {
    await stopChild(mosquitto);
    rmSync(dir, { recursive: true, force: true });
  }
}
