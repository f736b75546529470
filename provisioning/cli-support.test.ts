import { describe, expect, it } from 'vitest';
import { parseTtlHours } from './cli-support.js';
import { splitEnrollLink } from './commands/enroll.js';
import { runCli } from './run-cli.js';

describe('CLI helpers', () => {
  it('parses --ttl in hours, days and minutes', () => {
    expect(parseTtlHours('72h')).toBe(72);
    expect(parseTtlHours('3d')).toBe(72);
    expect(parseTtlHours('90m')).toBe(1.5);
    expect(parseTtlHours('12')).toBe(12);
    expect(() => parseTtlHours('soon')).toThrow(/not a duration/);
  });

  it('takes the QR link as --token: server and token', () => {
    expect(splitEnrollLink('https://fleet.example.vn/enroll#token=abc_DEF-123')).toEqual({
      server: 'https://fleet.example.vn',
      token: 'abc_DEF-123',
    });
    expect(splitEnrollLink('abc_DEF-123')).toEqual({ server: null, token: 'abc_DEF-123' });
    expect(() => splitEnrollLink('https://fleet.example.vn/enroll')).toThrow(/no #token/);
  });

  it('answers --help on every verb with exit 0, and usage errors with exit 2', async () => {
    const out: string[] = [];
    const err: string[] = [];
    const ctx = {
      env: {},
      io: { out: (t: string) => out.push(t), err: (t: string) => err.push(t) },
      readPassword: async () => '',
    };
    for (const verb of [
      'enroll',
      'tokens create',
      'sites import',
      'devices import',
      'devices revoke',
      'pairing claim',
      'login',
    ]) {
      out.length = 0;
      expect(await runCli([...verb.split(' '), '--help'], ctx)).toBe(0);
      expect(out.join('\n')).toContain(`Usage: kiosk-provision ${verb}`);
    }
    expect(await runCli(['tokens', 'create'], ctx)).toBe(2);
    expect(err.at(-1)).toContain('--site');
    expect(await runCli(['sites', 'import', 'x.csv'], ctx)).toBe(2);
    expect(err.at(-1)).toContain('KIOSK_SERVER');
    expect(await runCli(['frobnicate'], ctx)).toBe(2);
  });
});
