/**
 * Unenrolled start: the agent asks for a pairing code, shows it on its local API, and once a technician claims it,
 * writes the enrollment into its config file (0600) and comes up normally. The pairing endpoints are a small
 * STAND-IN here for the server's provisioning API (built in parallel), following protocol/http.ts.
 */

import { readFile, stat, writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { parseAgentConfig } from '../agent/config.js';
import { createAgent } from '../agent/create-agent.js';
import { AgentConfigFile, EnrollResponse, LocalManifest, PairingRequest } from '../protocol/index.js';
import { agentEnv, fixedHealth, silent } from './helpers/agent-fixture.js';
import { startBroker, waitFor } from './helpers/agent-test-net.js';

let cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => {});
  cleanups = [];
});

async function pairingStandIn(enrollment: EnrollResponse) {
  const state = { claimed: false, polls: 0, requests: [] as unknown[] };
  const pollToken = 'poll-token-0123456789abcdef';
  const expiresAt = new Date(Date.now() + 600_000).toISOString();
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => {
      body += c;
    });
    req.on('end', () => {
      res.setHeader('content-type', 'application/json');
      if (req.method === 'POST' && req.url === '/api/v1/pairing') {
        state.requests.push(PairingRequest.parse(JSON.parse(body)));
        res.end(JSON.stringify({ code: 'K7Q2M9', pollToken, expiresAt }));
      } else if (req.method === 'GET' && req.url === `/api/v1/pairing/${pollToken}`) {
        state.polls++;
        res.end(JSON.stringify(state.claimed ? { state: 'claimed', enrollment } : { state: 'pending', expiresAt }));
      } else {
        res.statusCode = 404;
        res.end('{"error":{"code":"not_found","message":"no"}}');
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  return { state, url, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}

describe('agent pairing', () => {
  it('shows a pairing code while unenrolled, then writes the enrollment (0600) and starts normally', async () => {
    const env = await agentEnv('kiosk-pair-1');
    const broker = await startBroker({ [env.deviceId]: env.secret });
    cleanups.push(env.cleanup, broker.close);
    const enrollment = EnrollResponse.parse(env.fileConfig(broker.url));
    const pairing = await pairingStandIn(enrollment);
    cleanups.push(pairing.close);
    const configPath = join(env.dir, 'agent.json');
    await writeFile(configPath, JSON.stringify({ serverUrl: pairing.url, dataDir: 'data', kioskPort: 0 }));
    const config = parseAgentConfig(
      JSON.parse(await readFile(configPath, 'utf8')),
      { AGENT_UI_DIR: join(env.dir, 'no-ui'), AGENT_PAIRING_POLL_MS: '50' },
      configPath,
    );
    expect(config.enrollment).toBeNull();
    const agent = await createAgent(config, {
      log: silent,
      healthSource: fixedHealth(),
      facts: { serial: 'S1', model: 'M', mac: 'aa', hostname: 'h' },
    });
    cleanups.push(() => agent.close());
    const local = async (): Promise<LocalManifest> =>
      LocalManifest.parse(await (await fetch(`http://127.0.0.1:${agent.kioskPort}/local/manifest`)).json());
    await waitFor(async () => (await local()).pairing !== null, 'pairing code shown');
    const waiting = await local();
    expect(waiting).toMatchObject({ deviceId: null, pairing: { code: 'K7Q2M9' }, online: false, seq: 0, items: [] });
    expect(await (await fetch(`http://127.0.0.1:${agent.kioskPort}/`)).text()).toContain('K7Q2M9');

    await waitFor(() => pairing.state.polls >= 2, 'polling');
    pairing.state.claimed = true;
    await agent.enrolled();
    await waitFor(() => agent.online(), 'online after pairing');
    const after = await local();
    expect(after).toMatchObject({ deviceId: env.deviceId, siteId: 'gl-c-iadom', pairing: null, online: true });
    const written = AgentConfigFile.parse(JSON.parse(await readFile(configPath, 'utf8')));
    expect(written.deviceId).toBe(env.deviceId);
    expect(written.kioskPort).toBe(0);
    expect((await stat(configPath)).mode & 0o777).toBe(0o600);
    // The written file starts the agent enrolled.
    expect(parseAgentConfig(JSON.parse(await readFile(configPath, 'utf8')), {}, configPath).enrollment?.deviceId).toBe(
      env.deviceId,
    );
  });
});
