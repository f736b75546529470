/**
 * The fleet simulator's other mode, for small N: real agents (agent/createAgent, the code that runs on a
 * kiosk) with an injected health source and clock, each in its own temp data dir, enrolled the way enrollment
 * would (a registry row plus the enrollment response as config). Heavier than SimDevice: use tens, not thousands.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { parseAgentConfig } from '../../agent/config.js';
import { createAgent, type RunningAgent } from '../../agent/create-agent.js';
import type { HealthSource } from '../../agent/health-source.js';
import type { Database } from '../../server/db/open-database.js';
import { registerFleet } from './provision.js';

export interface RealAgentFleetOptions {
  db: Database;
  count: number;
  mqttUrl: string;
  apiUrl: string;
  /** The server's manifest public key (SPKI PEM) the agents pin. */
  manifestKey: string;
  prefix?: string;
  siteIds?: string[];
  clock?: () => number;
  healthSource?: HealthSource;
}

export interface RealAgentFleet {
  agents: RunningAgent[];
  ids: string[];
  close(): Promise<void>;
}

/** A fixed, plausible reading: the simulator does not measure the machine it runs on. */
export const steadyHealth: HealthSource = {
  async read() {
    return { cpuLoad: 12, memUsed: 41, diskUsed: 37, diskFree: 30_000_000_000, tempC: 47, uptimeS: 3600 };
  },
};

export async function startRealAgents(o: RealAgentFleetOptions): Promise<RealAgentFleet> {
  const creds = registerFleet(o.db, {
    count: o.count,
    prefix: o.prefix ?? 'agent',
    ...(o.siteIds ? { siteIds: o.siteIds } : {}),
  });
  const dir = await mkdtemp(join(tmpdir(), 'fleet-sim-agents-'));
  const log = pino({ level: 'silent' });
  const agents: RunningAgent[] = [];
  const close = async () => {
    await Promise.all(agents.map((a) => a.close().catch(() => {})));
    await rm(dir, { recursive: true, force: true });
  };
  try {
    for (const c of creds) {
      const config = parseAgentConfig(
        {
          deviceId: c.id,
          secret: c.secret,
          siteId: c.siteId ?? 'unknown',
          mqttUrl: o.mqttUrl,
          apiUrl: o.apiUrl,
          manifestKey: o.manifestKey,
          dataDir: join(dir, c.id),
          kioskPort: 0,
        },
        // No kiosk page needed; the nightly sync stays off the test's clock.
        { AGENT_UI_DIR: join(dir, 'no-ui'), AGENT_RECONNECT_CAP_S: '5', LOG_LEVEL: 'silent' },
        null,
      );
      agents.push(
        await createAgent(config, {
          log,
          healthSource: o.healthSource ?? steadyHealth,
          ...(o.clock ? { clock: o.clock } : {}),
          reconnectBaseMs: 200,
          syncRetryBaseMs: 600_000,
        }),
      );
    }
  } catch (error) {
    await close();
    throw error;
  }
  return { agents, ids: creds.map((c) => c.id), close };
}
