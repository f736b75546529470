/**
 * What each DESIGN §8 command does on this kiosk (agent/commands.ts decides whether it runs at all: once per id,
 * not expired). Also where the settings `set_config` changes are kept: the agent DB's `settings` meta row, over the
 * config file's values.
 */
import { execFile } from 'node:child_process';
import { DeviceSettings } from '../protocol/index.js';
import { type AgentDb, getMeta, setMeta } from './agent-db.js';
import { cronError } from './clock.js';
import type { CommandHandlers } from './commands.js';
import type { AgentConfig, AgentSettings } from './config.js';
import type { SyncOutcome } from './content-sync.js';

/** Runs a configured shell command (reboot, restart, screenshot); resolves with its output. */
export function shellHook(command: string): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile('/bin/sh', ['-c', command], { timeout: 60_000 }, (err, stdout, stderr) =>
      err ? reject(new Error(`${command}: ${stderr.trim() || err.message}`)) : resolve(stdout.trim().slice(0, 4000)),
    );
  });
}

function savedSettings(db: AgentDb): Record<string, unknown> {
  try {
    const value: unknown = JSON.parse(getMeta(db, 'settings') ?? '{}');
    return value && typeof value === 'object' ? (value as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}

/** The config's settings with those `set_config` saved on top (an unreadable saved row counts as none). */
export function loadSettings(db: AgentDb, base: AgentSettings): AgentSettings {
  const saved = DeviceSettings.safeParse(savedSettings(db));
  return { ...base, ...(saved.success ? saved.data : {}) };
}

export interface CommandHandlerDeps {
  db: AgentDb;
  hooks: AgentConfig['hooks'];
  runHook: (command: string) => Promise<string>;
  sync: () => Promise<SyncOutcome>;
  settings: () => AgentSettings;
  /** Takes new settings into use (health timer, cron). */
  applySettings: (settings: AgentSettings) => void;
  /** Ends the agent so the service manager starts it again (no restart command configured). */
  restart: () => void;
}

export function createCommandHandlers(d: CommandHandlerDeps): CommandHandlers {
  return {
    sync_now: async () => {
      const outcome = await d.sync();
      if (outcome.state === 'failed' || outcome.state === 'rejected') {
        throw new Error(`sync ${outcome.state}: ${'error' in outcome ? outcome.error : outcome.reason}`);
      }
      return `sync ${outcome.state}`;
    },
    reboot: async () => {
      if (!d.hooks.reboot) throw new Error('reboot is not configured on this device');
      return d.runHook(d.hooks.reboot);
    },
    restart_agent: async () => {
      if (d.hooks.restartAgent) return d.runHook(d.hooks.restartAgent);
      // No command: end the process and let the service manager start it again.
      setTimeout(d.restart, 200);
      return 'restarting';
    },
    set_config: async (params) => {
      const cronProblem = params.syncCron === undefined ? null : cronError(params.syncCron);
      if (cronProblem) throw new Error(`invalid syncCron ${params.syncCron}: ${cronProblem}`);
      const saved = DeviceSettings.parse({ ...savedSettings(d.db), ...params });
      setMeta(d.db, 'settings', JSON.stringify(saved));
      const settings = { ...d.settings(), ...params };
      d.applySettings(settings);
      return `settings now ${JSON.stringify(settings)}`;
    },
    screenshot: async () => {
      if (!d.hooks.screenshot) throw new Error('screenshot is not supported on this device');
      return d.runHook(d.hooks.screenshot);
    },
  };
}
