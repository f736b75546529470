/** Builds a real agent config (temp data dir, stand-in content API, real broker) for in-process agent tests. */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { type AgentConfig, parseAgentConfig } from '../../agent/config.js';
import type { HealthReading } from '../../agent/health-queue.js';
import type { HealthSource } from '../../agent/health-source.js';
import type { ManifestFile, ManifestItem } from '../../protocol/index.js';
import { ContentApiStandIn } from './content-api-stand-in.js';

export const silent = pino({ level: 'silent' });

export function fixedHealth(): HealthSource & { reads: number } {
  const source = {
    reads: 0,
    async read(): Promise<HealthReading> {
      source.reads++;
      return { cpuLoad: 5, memUsed: 30, diskUsed: 50, diskFree: 1e9, tempC: null, uptimeS: 100 };
    },
  };
  return source;
}

export function item(id: string, file?: ManifestFile, extra: Partial<ManifestItem> = {}): ManifestItem {
  return {
    id,
    version: 1,
    kind: file ? 'video' : 'bulletin',
    topics: ['border-law'],
    validFrom: null,
    validTo: null,
    translations: { vi: { title: `Tin ${id}`, summary: 'Tóm tắt', ...(file ? { file } : { body: 'Nội dung' }) } },
    ...extra,
  };
}

export interface AgentEnv {
  deviceId: string;
  secret: string;
  dir: string;
  api: ContentApiStandIn;
  config(mqttUrl: string, env?: Record<string, string>): AgentConfig;
  fileConfig(mqttUrl: string): Record<string, unknown>;
  cleanup(): Promise<void>;
}

export async function agentEnv(deviceId = 'kiosk-test-1', chunkBytes?: number): Promise<AgentEnv> {
  const secret = 's'.repeat(24);
  const dir = await mkdtemp(join(tmpdir(), 'agent-test-'));
  const api = await new ContentApiStandIn({ deviceId, secret, ...(chunkBytes ? { chunkBytes } : {}) }).start();
  const fileConfig = (mqttUrl: string): Record<string, unknown> => ({
    deviceId,
    secret,
    siteId: 'gl-c-iadom',
    mqttUrl,
    apiUrl: api.url,
    manifestKey: api.keys.publicKeyPem,
    dataDir: join(dir, 'data'),
    kioskPort: 0,
  });
  return {
    deviceId,
    secret,
    dir,
    api,
    fileConfig,
    config: (mqttUrl, env = {}) => parseAgentConfig(fileConfig(mqttUrl), { AGENT_UI_DIR: join(dir, 'no-ui'), ...env }, null),
    cleanup: async () => {
      await api.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
