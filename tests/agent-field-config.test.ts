/**
 * A kiosk configured by hand in the field: a bad config must say, in one sentence per problem, which field of which
 * file (or which environment variable) is wrong — not print zod's JSON. Also the agent's lifecycle table.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { AgentConfigError, parseAgentConfig } from '../agent/config.js';
import { Lifecycle } from '../agent/lifecycle.js';

const bad = {
  deviceId: 'k-1',
  secret: 'short',
  siteId: 'gl-c-iadom',
  mqttUrl: 'mqtt://127.0.0.1:1883',
  apiUrl: 'not a url',
  healthIntervalS: 1,
};

function problemsOf(run: () => unknown): string[] {
  try {
    run();
  } catch (err) {
    expect(err).toBeInstanceOf(AgentConfigError);
    return (err as AgentConfigError).problems;
  }
  throw new Error('no error');
}

describe('agent config errors', () => {
  it('names the field and the file, one sentence per problem, never the secret', () => {
    const problems = problemsOf(() => parseAgentConfig(bad, {}, '/etc/kiosk/agent.json'));
    expect(problems).toEqual([
      '/etc/kiosk/agent.json: field "secret" is invalid: too small: expected string to have >=16 characters.',
      '/etc/kiosk/agent.json: field "apiUrl" is invalid: invalid URL (got "not a url").',
      '/etc/kiosk/agent.json: field "manifestKey" is missing (expected string).',
      '/etc/kiosk/agent.json: field "healthIntervalS" is invalid: too small: expected number to be >=5 (got 1).',
    ]);
    const settings = problemsOf(() =>
      parseAgentConfig({ serverUrl: 'http://server:8080' }, { AGENT_HEALTH_INTERVAL_S: '2' }, '/a.json'),
    );
    expect(settings).toEqual([
      'environment variable AGENT_HEALTH_INTERVAL_S: field "healthIntervalS" is invalid: too small: expected number to be >=5 (got 2).',
    ]);
    const fromEnv = problemsOf(() =>
      parseAgentConfig({ serverUrl: 'http://server:8080' }, { AGENT_DOWNLOAD_WINDOW: '25:00-26:00' }, '/a.json'),
    );
    expect(fromEnv).toEqual([
      'environment variable AGENT_DOWNLOAD_WINDOW: field "downloadWindow" is invalid: must be HH:MM-HH:MM (got "25:00-26:00").',
    ]);
    expect(problemsOf(() => parseAgentConfig({}, {}, '/a.json'))).toEqual([
      '/a.json: holds neither an enrollment (field "deviceId" and the rest) nor a field "serverUrl" to pair with.',
    ]);
  });

  it('kiosk-agent prints those sentences and exits 2', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'agent-config-'));
    try {
      const path = join(dir, 'agent.json');
      await writeFile(path, JSON.stringify(bad));
      const child = spawn(process.execPath, ['--import', 'tsx', 'agent/main.ts', '--config', path], {
        cwd: join(import.meta.dirname, '..'),
        stdio: ['ignore', 'ignore', 'pipe'],
      });
      let stderr = '';
      child.stderr.on('data', (d: Buffer) => {
        stderr += d.toString();
      });
      const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
      expect(code).toBe(2);
      const lines = stderr.trim().split('\n');
      expect(lines).toHaveLength(4);
      for (const line of lines) expect(line).toMatch(new RegExp(`^kiosk-agent: ${path}: field "\\w+" [^{}\\[\\]]+\\.$`));
      await writeFile(path, '{"deviceId": ');
      const again = spawn(process.execPath, ['--import', 'tsx', 'agent/main.ts', '--config', path], {
        cwd: join(import.meta.dirname, '..'),
        stdio: ['ignore', 'ignore', 'pipe'],
      });
      let text = '';
      again.stderr.on('data', (d: Buffer) => {
        text += d.toString();
      });
      expect(await new Promise<number | null>((resolve) => again.once('exit', resolve))).toBe(2);
      expect(text.trim()).toMatch(new RegExp(`^kiosk-agent: ${path}: is not valid JSON \\(.+\\)\\.$`));
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }, 30_000);
});

describe('agent lifecycle', () => {
  const log = pino({ level: 'silent' });
  it('moves starting → pairing → enrolled → closing → closed and refuses any other step', async () => {
    const life = new Lifecycle(log);
    const enrolled = life.reached('enrolled');
    await life.run({ starting: async () => 'pairing', pairing: async () => 'enrolled' });
    await enrolled;
    expect(life.state).toBe('enrolled');
    expect(() => life.enter('pairing')).toThrow(/no transition enrolled → pairing/);
    life.enter('closing');
    expect(life.signal.aborted).toBe(true);
    life.enter('closed');
    expect(() => life.enter('closing')).toThrow();
  });
  it('ends a state that waits (pairing) when closing begins', async () => {
    const life = new Lifecycle(log);
    const run = life.run({
      starting: async () => 'pairing',
      pairing: (signal) => new Promise((resolve) => signal.addEventListener('abort', () => resolve('enrolled'))),
    });
    await new Promise((r) => setTimeout(r, 10));
    expect(life.state).toBe('pairing');
    life.enter('closing');
    await run;
    expect(life.state).toBe('closing');
  });
});
