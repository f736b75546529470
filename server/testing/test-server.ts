/**
 * Helpers for tests that start a real server (port 0, temp DATA_DIR) and talk to it as devices and people.
 * Not used by the server itself.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import { type ServerConfig, testConfig } from '../config.js';
import { createServer, type RunningServer } from '../create-server.js';
import { registerDevice } from '../registry/devices-repo.js';

export const TEST_ADMIN_PASSWORD = 'admin-password-for-tests';

export interface TestServer extends RunningServer {
  dataDir: string;
  /** Closes the server and removes its data directory. */
  stop(): Promise<void>;
}

export async function startTestServer(overrides: Partial<Record<keyof ServerConfig, unknown>> = {}): Promise<TestServer> {
  const dataDir = mkdtempSync(join(tmpdir(), 'fleet-server-'));
  const server = await createServer(
    testConfig({ DATA_DIR: dataDir, ADMIN_PASSWORD: TEST_ADMIN_PASSWORD, ...overrides } as never),
  );
  return Object.assign(server, {
    dataDir,
    async stop() {
      await server.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  });
}

/** Registers a device in the server's DB (what enrollment would do) and returns its credentials. */
export function addDevice(server: RunningServer, id: string, siteId: string | null = 'gl-c-iao'): { id: string; secret: string } {
  const secret = `secret-of-${id}-0123456789abcdef`;
  registerDevice(server.db, { id, secret, siteId });
  return { id, secret };
}

/** Connects an mqtt.js client; resolves on CONNACK, rejects on a refusal or error. */
export function connectDevice(url: string, id: string, secret: string, options: IClientOptions = {}): Promise<MqttClient> {
  return new Promise((resolve, reject) => {
    const client = mqtt.connect(url, {
      username: id,
      password: secret,
      clientId: `${id}-${Math.random().toString(36).slice(2, 8)}`,
      reconnectPeriod: 0,
      connectTimeout: 5000,
      ...options,
    });
    client.once('connect', () => resolve(client));
    client.once('error', (error) => {
      client.end(true);
      reject(error);
    });
    client.once('close', () => reject(new Error('connection closed before CONNACK')));
  });
}

/** Polls `check` until it returns a truthy value (bounded in time), then returns it. */
export async function waitFor<T>(
  check: () => T | Promise<T>,
  what: string,
  timeoutMs = 10_000,
  everyMs = 25,
): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value as NonNullable<T>;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** A person's HTTP session: logs in, keeps the cookie, sends JSON. */
export class HttpSession {
  private cookie = '';
  constructor(private readonly baseUrl: string) {}

  async login(username: string, password: string): Promise<Response> {
    const response = await this.request('POST', '/api/v1/auth/login', { username, password });
    const setCookie = response.headers.get('set-cookie');
    if (setCookie) this.cookie = setCookie.split(';')[0] as string;
    return response;
  }

  request(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<Response> {
    return fetch(`${this.baseUrl}${path}`, {
      method,
      headers: {
        ...(this.cookie ? { cookie: this.cookie } : {}),
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        ...headers,
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  }

  async json<T = Record<string, unknown>>(method: string, path: string, body?: unknown): Promise<{ status: number; body: T }> {
    const response = await this.request(method, path, body);
    return { status: response.status, body: (await response.json()) as T };
  }
}

export function healthSample(seq: number, ts = Date.now()) {
  return {
    seq,
    ts,
    cpuLoad: 12.5,
    memUsed: 40,
    diskUsed: 55,
    diskFree: 10_000_000_000,
    tempC: 48,
    uptimeS: 3600,
    contentSeq: 0,
    queueDepth: 0,
  };
}
