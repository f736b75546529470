import { describe, expect, it } from 'vitest';
import { defaultSyncCron, parseAgentConfig } from './config.js';

const enrolled = {
  deviceId: 'k-1',
  secret: 'x'.repeat(32),
  siteId: 'gl-c-iadom',
  mqttUrl: 'mqtt://127.0.0.1:1883',
  apiUrl: 'http://127.0.0.1:8080',
  manifestKey: '-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEA\n-----END PUBLIC KEY-----\n',
};

describe('agent config', () => {
  it('fills defaults, resolves dataDir next to the file and lets env win', () => {
    const c = parseAgentConfig(
      { ...enrolled, dataDir: 'data' },
      { AGENT_MQTT_URL: 'mqtt://10.0.0.1:1883' },
      '/etc/kiosk/agent.json',
    );
    expect(c.dataDir).toBe('/etc/kiosk/data');
    expect(c.kioskPort).toBe(8090);
    expect(c.enrollment?.mqttUrl).toBe('mqtt://10.0.0.1:1883');
    expect(c.settings).toEqual({
      healthIntervalS: 60,
      syncCron: defaultSyncCron('k-1'),
      downloadWindow: null,
      bandwidthLimit: null,
    });
    expect(c.queueLimit).toBe(10_000);
    expect(c.reconnectCapMs).toBe(300_000);
  });
  it('starts unenrolled with only a serverUrl, and refuses a file with neither', () => {
    const c = parseAgentConfig({ serverUrl: 'http://server:8080' }, {}, null);
    expect(c.enrollment).toBeNull();
    expect(c.serverUrl).toBe('http://server:8080');
    expect(() => parseAgentConfig({}, {}, null)).toThrow();
    expect(() => parseAgentConfig({ ...enrolled, healthIntervalS: 1 }, {}, null)).toThrow();
  });
  it('batches health every 900 s with a 1200 s keepalive by default; each is settable and checked', () => {
    const c = parseAgentConfig(enrolled, {}, null);
    expect(c.healthSendIntervalMs).toBe(900_000);
    expect(c.mqttKeepaliveS).toBe(1200);
    const longer = parseAgentConfig(enrolled, { AGENT_HEALTH_SEND_INTERVAL_S: '1800' }, null);
    expect(longer).toMatchObject({ healthSendIntervalMs: 1_800_000, mqttKeepaliveS: 2100 });
    expect(parseAgentConfig(enrolled, { AGENT_HEALTH_SEND_INTERVAL_S: '0' }, null).healthSendIntervalMs).toBe(0);
    expect(parseAgentConfig(enrolled, { AGENT_MQTT_KEEPALIVE_S: '600' }, null).mqttKeepaliveS).toBe(600);
    // Tests and simulators that set the sampling in ms send each sample at once unless they ask for batches.
    expect(parseAgentConfig(enrolled, { AGENT_HEALTH_INTERVAL_MS: '200' }, null).healthSendIntervalMs).toBe(0);
    expect(
      parseAgentConfig(enrolled, { AGENT_HEALTH_INTERVAL_MS: '200', AGENT_HEALTH_SEND_INTERVAL_MS: '2000' }, null)
        .healthSendIntervalMs,
    ).toBe(2000);
    expect(() => parseAgentConfig(enrolled, { AGENT_HEALTH_SEND_INTERVAL_S: '3600' }, null)).toThrow(
      /AGENT_HEALTH_SEND_INTERVAL_S must be a whole number of seconds from 0 to 1800/,
    );
    expect(() => parseAgentConfig(enrolled, { AGENT_MQTT_KEEPALIVE_S: '70000' }, null)).toThrow(
      /AGENT_MQTT_KEEPALIVE_S must be a whole number of seconds from 10 to 65535, got 70000/,
    );
  });
  it('jitters the nightly sync per device', () => {
    const crons = new Set(Array.from({ length: 50 }, (_, i) => defaultSyncCron(`kiosk-${i}`)));
    expect(crons.size).toBeGreaterThan(30);
    expect(defaultSyncCron('k-1')).toMatch(/^\d{1,2} [1-4] \* \* \*$/);
  });
});
