import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig, parseDuration } from './config.js';

describe('config', () => {
  it('has the DESIGN §9 defaults', () => {
    expect(loadConfig({})).toMatchObject({
      DATA_DIR: './data',
      HTTP_HOST: '0.0.0.0',
      HTTP_PORT: 8080,
      MQTT_HOST: '0.0.0.0',
      MQTT_PORT: 1883,
      OFFLINE_AFTER: 86_400_000,
      HEALTH_RETENTION: 30 * 86_400_000,
      LOG_LEVEL: 'info',
    });
  });

  it('reads durations and ports from the environment, over a CONFIG_FILE', () => {
    const dir = mkdtempSync(join(tmpdir(), 'cfg-'));
    try {
      const file = join(dir, 'server.json');
      writeFileSync(file, JSON.stringify({ HTTP_PORT: 9000, MQTT_PORT: 1999, OFFLINE_AFTER: '2h' }));
      expect(loadConfig({ CONFIG_FILE: file, HTTP_PORT: '0', OFFLINE_AFTER: '90m' })).toMatchObject({
        HTTP_PORT: 0,
        MQTT_PORT: 1999,
        OFFLINE_AFTER: 90 * 60_000,
      });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses bad values with a readable message', () => {
    expect(() => loadConfig({ HTTP_PORT: '70000' })).toThrow(/HTTP_PORT/);
    expect(() => loadConfig({ OFFLINE_AFTER: 'soon' })).toThrow(/OFFLINE_AFTER/);
    expect(() => loadConfig({ ADMIN_PASSWORD: 'short' })).toThrow(/ADMIN_PASSWORD/);
    expect(parseDuration('1.5s')).toBe(1500);
    expect(() => parseDuration('5 weeks')).toThrow();
  });
});
