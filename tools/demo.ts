/**
 * `npm run demo`: the server on the embedded defaults (HTTP 8080, MQTT 1883; the usual env overrides apply)
 * with its data in `./data-demo` (DEMO_DATA_DIR; kept apart from a real `./data`), the seeded Gia Lai sites,
 * a fleet of simulated kiosks that keep reporting while it runs (tools/demo/demo-fleet.ts), sample content
 * when the content module is mounted, and a printed login. Ctrl-C stops everything. Re-running reuses the
 * data directory and adds nothing twice.
 */
import { loadConfig } from '../server/config.js';
import { createServer } from '../server/create-server.js';
import { ensureDemoContent } from './demo/demo-content.js';
import { ensureDemoFleet } from './demo/demo-fleet.js';
import { Fleet } from './fleet-sim/fleet.js';

const DEMO_PASSWORD = 'kiosk-demo-2026';
const env = process.env;
const config = loadConfig({
  ...env,
  DATA_DIR: env.DEMO_DATA_DIR || './data-demo',
  ADMIN_PASSWORD: env.ADMIN_PASSWORD || DEMO_PASSWORD,
  LOG_LEVEL: env.LOG_LEVEL || 'warn',
});
const healthEveryMs = Number(env.DEMO_HEALTH_INTERVAL_S || 15) * 1000;

const server = await createServer(config);
const { added, devices } = ensureDemoFleet(server.db);
const fleet = new Fleet({ mqttUrl: server.mqttUrl, devices, device: { reconnectBaseMs: 1000, reconnectCapMs: 15_000 } });
await fleet.connect();
fleet.sampleAll();
fleet.startSampling(healthEveryMs);

let contentLine: string;
try {
  const content = await ensureDemoContent(server.httpUrl, config.ADMIN_PASSWORD ?? DEMO_PASSWORD);
  contentLine = content.available
    ? `sample content: ${content.added} bulletins added, ${content.existing} already there (vi, jra, bdq, en, lo, km)`
    : `sample content: not available yet (${content.reason}); nothing was added`;
} catch (error) {
  contentLine = `sample content: could not be added (${(error as Error).message})`;
}

console.log(`Border kiosk fleet — demo
  Dashboard        ${server.httpUrl}/
  Login            user admin, password ${config.ADMIN_PASSWORD === DEMO_PASSWORD ? DEMO_PASSWORD : '(your ADMIN_PASSWORD)'}
  MQTT             ${server.mqttUrl}
  Data directory   ${config.DATA_DIR} (${added ? `${added} demo devices registered now` : 'demo fleet already there'})
  Fleet            ${devices.length} simulated kiosks reporting every ${healthEveryMs / 1000} s; 3 of 7 border communes,
                   6 of 8 stations and the Lệ Thanh gate equipped; 2 offline, 2 with full disks, 1 with a wrong clock
  ${contentLine}
Ctrl-C stops the demo.`);

let stopping = false;
async function stop(): Promise<void> {
  if (stopping) return;
  stopping = true;
  console.log('stopping…');
  await fleet.stop();
  // Let the broker see the disconnects, so the registry is left with the kiosks offline.
  for (let i = 0; i < 60 && server.fleet.connectedDevices() > 0; i++) await new Promise((r) => setTimeout(r, 50));
  await server.close();
  process.exit(0);
}
process.on('SIGINT', () => void stop());
process.on('SIGTERM', () => void stop());
