/**
 * Whole stack (issue 3/8 "done when"): a real server (createServer: SQLite file, aedes broker, core routes),
 * the provisioning routes over real HTTP, and the technicians' CLI spawned through tsx: create a token,
 * enroll, start the agent with the written config and see its first health report, connect with the issued
 * credentials over MQTT, be refused with a wrong secret, be disconnected
 * after revoke.
 *
 * When createServer serves the provisioning routes (wired in server/http/routes.ts), everything goes to that one
 * server. Until then they run on a second HTTP server over the same database, broker URLs and signing key
 * (the CLI talks to it for provisioning, to the core server for login and revoke).
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { serve } from '@hono/node-server';
import type { MqttClient } from 'mqtt';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AgentConfigFile } from '../protocol/index.js';
import { createAudit } from '../server/auth/audit.js';
import { createAuthMiddleware } from '../server/auth/auth-middleware.js';
import { loadOrCreateSigningKeys } from '../server/content/signing-keys.js';
import { buildHttpApp } from '../server/http/app.js';
import type { AppEnv } from '../server/http/app-env.js';
import { createProvisioningRoutes } from '../server/provisioning/provisioning-routes.js';
import {
  connectDevice,
  HttpSession,
  startTestServer,
  TEST_ADMIN_PASSWORD,
  type TestServer,
  waitFor,
} from '../server/testing/test-server.js';
import { runProvisioningCli } from './helpers/provisioning-cli.js';

let server: TestServer;
let provisioningUrl: string;
let closeProvisioning: (() => Promise<void>) | undefined;
let work: string;
let tokenFile: string;
let manifestKey: string;
const clients: MqttClient[] = [];

beforeAll(async () => {
  server = await startTestServer();
  work = mkdtempSync(join(tmpdir(), 'prov-stack-'));
  manifestKey = (await loadOrCreateSigningKeys(server.dataDir)).publicKeyPem;
  const wired = (await fetch(`${server.httpUrl}/api/v1/enrollment-tokens`)).status !== 404;
  provisioningUrl = wired ? server.httpUrl : await startProvisioningBeside(server);

  // As a new user would: log in with the CLI, which saves an API token (mode 0600).
  tokenFile = join(work, 'api-token');
  const login = await cli(['login', '--server', server.httpUrl, '--username', 'admin', '--token-file', tokenFile], {
    KIOSK_PASSWORD: TEST_ADMIN_PASSWORD,
  });
  expect(login.stderr).toBe('');
  expect(login.code).toBe(0);
  expect(statSync(tokenFile).mode & 0o777).toBe(0o600);
});

/** The provisioning routes on their own HTTP server over the core server's database and URLs. */
async function startProvisioningBeside(core: TestServer): Promise<string> {
  const urls = { publicUrl: '', mqttUrl: core.mqttUrl };
  const log = pino({ level: 'silent' });
  const routes = createProvisioningRoutes<AppEnv>({
    db: core.db,
    log,
    auth: createAuthMiddleware(core.db),
    audit: createAudit(core.db),
    urls,
    manifestKey,
  });
  const app = buildHttpApp([{ path: '/api/v1', app: routes }], log);
  await new Promise<void>((resolve) => {
    const http = serve({ fetch: app.fetch, hostname: '127.0.0.1', port: 0 }, (info) => {
      urls.publicUrl = `http://127.0.0.1:${info.port}`;
      resolve();
    });
    closeProvisioning = () => new Promise((done) => http.close(() => done()));
  });
  return urls.publicUrl;
}

afterAll(async () => {
  for (const client of clients) client.end(true);
  await closeProvisioning?.();
  await server?.stop();
  rmSync(work, { recursive: true, force: true });
});

/** Runs the CLI as a technician would (tsx, a separate process); bounded in time. */
const cli = (args: string[], env: Record<string, string> = {}) => runProvisioningCli(args, { HOME: work, ...env });

describe('technician flow, whole stack', () => {
  it('token → CLI enroll → first agent health → MQTT with the issued credentials → wrong secret refused → revoke disconnects', async () => {
    const created = await cli([
      'tokens',
      'create',
      '--site',
      'gl-c-iadom',
      '--ttl',
      '2h',
      '--json',
      '--server',
      provisioningUrl,
      '--token-file',
      tokenFile,
    ]);
    expect(created.stderr).toBe('');
    expect(created.code).toBe(0);
    const token = JSON.parse(created.stdout).tokens[0] as { token: string; enrollUrl: string; siteId: string };
    expect(token.siteId).toBe('gl-c-iadom');

    // The kiosk side: the QR's link is enough (it names the server).
    const dir = join(work, 'kiosk');
    const enrolled = await cli(['enroll', '--token', token.enrollUrl, '--dir', dir, '--serial', 'KIOSK-SN-1']);
    expect(enrolled.stderr).toBe('');
    expect(enrolled.code).toBe(0);
    expect(enrolled.stdout).toContain('accepted the credentials');
    const configPath = join(dir, 'agent-config.json');
    expect(statSync(configPath).mode & 0o777).toBe(0o600);
    const config = AgentConfigFile.parse(JSON.parse(readFileSync(configPath, 'utf8')));
    expect(config).toMatchObject({ siteId: 'gl-c-iadom', mqttUrl: server.mqttUrl, apiUrl: provisioningUrl, manifestKey });

    // The same token again: refused, the server's words shown, exit code 4.
    const again = await cli(['enroll', '--server', provisioningUrl, '--token', token.token, '--dir', join(work, 'other')]);
    expect(again.code).toBe(4);
    expect(again.stderr).toContain('enrollment_token_used');

    // The agent, started as the CLI says, with the written config: its first health report reaches the server.
    const agent = spawn(process.execPath, ['--import', 'tsx', 'agent/main.ts', '--config', configPath], {
      cwd: process.cwd(),
      env: { PATH: process.env.PATH ?? '', AGENT_KIOSK_PORT: '0', AGENT_HEALTH_INTERVAL_MS: '300', LOG_LEVEL: 'warn' },
      stdio: 'ignore',
    });
    const agentExit = new Promise<void>((resolve) => agent.once('exit', () => resolve()));
    try {
      const admin = new HttpSession(server.httpUrl);
      await admin.login('admin', TEST_ADMIN_PASSWORD);
      await waitFor(
        async () =>
          (await admin.json<{ samples: unknown[] }>('GET', `/api/v1/devices/${config.deviceId}/health?resolution=raw`)).body
            .samples.length > 0,
        'first health sample of the enrolled agent',
        60_000,
        200,
      );
    } finally {
      agent.kill('SIGTERM');
      await agentExit;
    }

    const device = await connectDevice(server.mqttUrl, config.deviceId, config.secret);
    clients.push(device);
    await expect(connectDevice(server.mqttUrl, config.deviceId, `${config.secret}x`)).rejects.toThrow();

    const closed = new Promise<void>((resolve) => device.once('close', () => resolve()));
    const revoked = await cli(['devices', 'revoke', config.deviceId, '--server', server.httpUrl], {
      KIOSK_API_TOKEN: readFileSync(tokenFile, 'utf8').trim(),
    });
    expect(revoked.stderr).toBe('');
    expect(revoked.code).toBe(0);
    await closed;
    await expect(connectDevice(server.mqttUrl, config.deviceId, config.secret)).rejects.toThrow();
    const row = await waitFor(
      () => server.db.prepare('SELECT status FROM devices WHERE id = ?').get(config.deviceId) as { status: string } | undefined,
      'device row',
    );
    expect(row.status).toBe('decommissioned');
    // Its history stays.
    expect(server.db.prepare('SELECT count(*) FROM health WHERE device_id = ?').pluck().get(config.deviceId)).toBeGreaterThan(0);
  }, 180_000); // five CLI processes (tsx start-up) on a shared, busy machine

  it('reports import problems and pairing claims through the CLI with exit codes', async () => {
    const good = join(work, 'inventory.csv');
    writeFileSync(good, '\uFEFFserial,model,kind,site\nINV-9,Màn hình 55",display,gl-c-iao\nINV-10,X,kiosk,gl-c-nowhere\n');
    const partial = await cli(['devices', 'import', good, '--server', provisioningUrl, '--token-file', tokenFile]);
    expect(partial.stderr).toContain('unknown site');
    expect(partial.code).toBe(1);
    expect(partial.stdout).toMatch(/line\s+2\s+created/);
    expect(partial.stderr).toContain("unknown site 'gl-c-nowhere'");
    expect(server.db.prepare(`SELECT model FROM devices WHERE serial = 'INV-9'`).pluck().get()).toBe('Màn hình 55"');

    const latin1 = join(work, 'sites-latin1.csv');
    writeFileSync(latin1, Buffer.from('id,kind,name,parent_id,border\ngl-c-x,commune,\xD0\xE0 N\xE9ng,gl-d-ducco,1\n', 'latin1'));
    const refused = await cli(['sites', 'import', latin1, '--server', provisioningUrl, '--token-file', tokenFile]);
    expect(refused.code).toBe(4);
    expect(refused.stderr).toContain('csv_not_utf8');
    expect(server.db.prepare(`SELECT count(*) FROM sites WHERE id = 'gl-c-x'`).pluck().get()).toBe(0);

    // Pairing: the agent asks for a code (HTTP, as agent/pairing.ts does); a technician claims it with the CLI.
    const started = await fetch(`${provisioningUrl}/api/v1/pairing`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ facts: { serial: 'PAIR-CLI', model: 'm', mac: 'x', hostname: 'h' } }),
    });
    const { code, pollToken } = (await started.json()) as { code: string; pollToken: string };
    const claim = await cli([
      'pairing',
      'claim',
      code,
      '--site',
      'gl-c-iao',
      '--server',
      provisioningUrl,
      '--token-file',
      tokenFile,
    ]);
    expect(claim.stderr).toBe('');
    expect(claim.code).toBe(0);
    const again = await cli([
      'pairing',
      'claim',
      code,
      '--site',
      'gl-c-iao',
      '--server',
      provisioningUrl,
      '--token-file',
      tokenFile,
    ]);
    expect(again.code).toBe(4);
    expect(again.stderr).toContain('pairing_code_claimed');
    const poll = await (await fetch(`${provisioningUrl}/api/v1/pairing/${pollToken}`)).json();
    expect(poll).toMatchObject({ state: 'claimed', enrollment: { siteId: 'gl-c-iao', mqttUrl: server.mqttUrl } });

    const noToken = await cli(['sites', 'import', latin1, '--server', provisioningUrl]);
    expect(noToken.code).toBe(2);
    expect(noToken.stderr).toContain('KIOSK_API_TOKEN');
  }, 180_000);
});
