/**
 * One rule ties the agent's health batching to the server's offline threshold (issue 14): a kiosk holds samples at
 * most LIMITS.maxHealthSendIntervalS (the agent refuses a longer AGENT_HEALTH_SEND_INTERVAL_S), and the server refuses
 * an OFFLINE_AFTER shorter than twice that (MIN_OFFLINE_AFTER_MS, server/coverage/fleet-rules.ts), so a healthy kiosk
 * sending its batches is never shown offline.
 */
import { describe, expect, it } from 'vitest';
import { parseAgentConfig } from '../agent/config.js';
import { LIMITS } from '../protocol/index.js';
import { loadConfig } from '../server/config.js';
import { MIN_OFFLINE_AFTER_MS } from '../server/coverage/fleet-rules.js';

const file = { serverUrl: 'https://server.example:8443' };

describe('health send interval and the offline rule', () => {
  it('is one bound: the agent accepts up to it, the server needs OFFLINE_AFTER of twice it', () => {
    const max = LIMITS.maxHealthSendIntervalS;
    expect(MIN_OFFLINE_AFTER_MS).toBe(2 * max * 1000);
    expect(parseAgentConfig(file, { AGENT_HEALTH_SEND_INTERVAL_S: String(max) }, null).healthSendIntervalMs).toBe(max * 1000);
    expect(() => parseAgentConfig(file, { AGENT_HEALTH_SEND_INTERVAL_S: String(max + 1) }, null)).toThrow(
      /AGENT_HEALTH_SEND_INTERVAL_S/,
    );
    // The default send interval is inside the bound, and the server's default threshold far above the floor.
    expect(parseAgentConfig(file, {}, null).healthSendIntervalMs).toBeLessThanOrEqual(max * 1000);
    expect(loadConfig({}).OFFLINE_AFTER).toBeGreaterThanOrEqual(MIN_OFFLINE_AFTER_MS);
    expect(loadConfig({ OFFLINE_AFTER: `${MIN_OFFLINE_AFTER_MS}` }).OFFLINE_AFTER).toBe(MIN_OFFLINE_AFTER_MS);
    expect(() => loadConfig({ OFFLINE_AFTER: '30m' })).toThrow(/OFFLINE_AFTER.*must be at least 1h/s);
  });
});
