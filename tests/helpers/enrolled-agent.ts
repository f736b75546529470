/**
 * A real agent (agent/create-agent.ts) enrolled against a real test server the way a technician does it: an
 * enrollment token made by an admin through the API, `POST /api/v1/enroll` with the device's facts, and the answer
 * written as the agent's config (its MQTT and API addresses pointed at the server's port-0 listeners). The kiosk
 * page is served from `uiDir` (a kiosk-ui build). The clock is injectable (agent/create-agent.ts AgentDeps.clock).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseAgentConfig } from '../../agent/config.js';
import { createAgent, type RunningAgent } from '../../agent/create-agent.js';
import { EnrollResponse } from '../../protocol/index.js';
import type { HttpSession, TestServer } from '../../server/testing/test-server.js';
import { fixedHealth, silent } from './agent-fixture.js';

export interface EnrolledAgent {
  agent: RunningAgent;
  enrollment: EnrollResponse;
  /** The kiosk page on the agent's local server. */
  kioskUrl: string;
  close(): Promise<void>;
}

export async function startEnrolledAgent(
  server: TestServer,
  admin: HttpSession,
  options: { siteId: string; serial: string; uiDir: string; clock?: () => number },
): Promise<EnrolledAgent> {
  const created = await admin.json<{ tokens: Array<{ token: string }> }>('POST', '/api/v1/enrollment-tokens', {
    siteId: options.siteId,
  });
  if (created.status !== 201 && created.status !== 200)
    throw new Error(`enrollment token not created: ${created.status} ${JSON.stringify(created.body)}`);
  const res = await fetch(`${server.httpUrl}/api/v1/enroll`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      token: created.body.tokens[0]?.token,
      facts: { serial: options.serial, model: 'test', mac: '', hostname: 'kiosk' },
    }),
  });
  if (res.status !== 201) throw new Error(`enrollment refused: ${res.status} ${await res.text()}`);
  const enrollment = EnrollResponse.parse(await res.json());
  const dir = await mkdtemp(join(tmpdir(), 'enrolled-agent-'));
  const config = parseAgentConfig(
    { ...enrollment, mqttUrl: server.mqttUrl, apiUrl: server.httpUrl, dataDir: join(dir, 'data'), kioskPort: 0 },
    { AGENT_UI_DIR: options.uiDir, AGENT_SYNC_JITTER_S: '0' },
    null,
  );
  const agent = await createAgent(config, {
    log: silent,
    healthSource: fixedHealth(),
    syncRetryBaseMs: 500,
    ...(options.clock ? { clock: options.clock } : {}),
  });
  return {
    agent,
    enrollment,
    kioskUrl: `http://127.0.0.1:${agent.kioskPort}`,
    async close() {
      await agent.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
