/**
 * Clock drills on the injected clock: the wall clock stepped −1 day, +7 h, +1 year and to 1970 must change no
 * duration and no expiry decision (agent/clock.ts): commands still run, the sync schedule neither floods nor stalls.
 */
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { openAgentDb } from '../agent/agent-db.js';
import { AgentClock, cronError, scheduleCron } from '../agent/clock.js';
import { CommandRunner } from '../agent/commands.js';
import type { CommandResultMessage } from '../protocol/index.js';

let cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.reverse()) await c();
  cleanups = [];
});

const DAY = 86_400_000;

describe('agent clock', () => {
  it('carries the server time on the monotonic clock whatever the wall clock does', () => {
    let wall = Date.UTC(2026, 4, 1, 12);
    let mono = 1000;
    const clock = new AgentClock({ wall: () => wall, monotonic: () => mono });
    expect(clock.serverNow()).toBe(wall);
    clock.observe(Date.UTC(2026, 4, 1, 5)); // the kiosk is 7 h ahead
    for (const step of [-DAY, DAY, 366 * DAY, -wall]) {
      wall += step; // 1970 last
      mono += 10_000;
      expect(clock.serverNow()).toBe(Date.UTC(2026, 4, 1, 5) + mono - 1000);
    }
    // A Date header within its one-second resolution does not move it; a lower bound below it neither.
    const before = clock.serverNow();
    clock.observe(before + 900);
    clock.observeAtLeast(before - 5000);
    expect(clock.serverNow()).toBe(before);
    clock.observeAtLeast(before + 60_000);
    expect(clock.serverNow()).toBe(before + 60_000);
  });

  it('keeps the offset it learnt for the next run', () => {
    const offsets: number[] = [];
    const clock = new AgentClock({ wall: () => 0, monotonic: () => 0, onOffset: (o) => offsets.push(o) });
    clock.observeResponse({ headers: { get: () => new Date(Date.UTC(2026, 0, 1)).toUTCString() } });
    expect(offsets).toEqual([Date.UTC(2026, 0, 1) + 500]);
    const next = new AgentClock({ wall: () => 1000, monotonic: () => 0, initialOffsetMs: offsets[0] ?? 0 });
    expect(next.serverNow()).toBe(Date.UTC(2026, 0, 1) + 1500);
  });

  it('accepts the cron syntax node-cron did (5 or 6 fields) and says what is wrong otherwise', () => {
    expect(cronError('17 3 * * *')).toBeNull();
    expect(cronError('*/30 17 3 * * 1-5')).toBeNull();
    expect(cronError('0 17 3 * * * 2027')).toMatch(/5 or 6 fields/);
    expect(cronError('61 3 * * *')).not.toBeNull();
  });

  it('a step from 1970 to today neither floods nor catches up: one slot at a time, no warning', async () => {
    const warn = vi.spyOn(console, 'warn');
    const emit = vi.spyOn(process, 'emitWarning');
    cleanups.push(
      () => warn.mockRestore(),
      () => emit.mockRestore(),
    );
    // The board booted in 1970; the server's time arrives a moment later.
    const clock = new AgentClock({ wall: () => Date.now() - Date.UTC(2026, 0, 1) });
    let runs = 0;
    const schedule = scheduleCron('* * * * * *', clock, () => runs++, { maxWaitMs: 200 });
    cleanups.push(() => schedule.stop());
    await new Promise((r) => setTimeout(r, 1200));
    clock.observe(Date.now()); // +56 years
    await new Promise((r) => setTimeout(r, 2200));
    expect(runs).toBeGreaterThanOrEqual(2);
    // About one slot a second over 3.4 s (a catch-up would be 1.8 billion): a little slack for a loaded machine.
    expect(runs).toBeLessThanOrEqual(7);
    expect(schedule.skipped).toBeLessThanOrEqual(1);
    expect(schedule.next()).toBeGreaterThan(Date.now() - 1000);
    expect(schedule.next()).toBeLessThan(Date.now() + 2000);
    expect(warn).not.toHaveBeenCalled();
    expect(emit).not.toHaveBeenCalled();
  });

  it('a nightly slot after a backward step of a day comes at the server time, not a day late', () => {
    const mono = 0;
    const clock = new AgentClock({ wall: () => Date.UTC(2026, 4, 2, 2), monotonic: () => mono });
    const schedule = scheduleCron('0 3 * * *', clock, () => {});
    cleanups.push(() => schedule.stop());
    expect(new Date(schedule.next() ?? 0).getHours()).toBe(3);
    expect((schedule.next() ?? 0) - clock.serverNow()).toBeLessThanOrEqual(DAY);
  });

  it('runs a command whose TTL is shorter than the kiosk clock is ahead (server time from the Date header)', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'agent-clock-'));
    const db = openAgentDb(dir);
    cleanups.push(
      () => rm(dir, { recursive: true, force: true }),
      () => {
        db.close();
      },
    );
    const wall = (): number => Date.now() + 7 * 3_600_000; // 7 h ahead
    const clock = new AgentClock({ wall });
    clock.observe(Date.now()); // an HTTP answer from the server
    const results: CommandResultMessage[] = [];
    let ran = 0;
    const handler = async (): Promise<string> => {
      ran++;
      return 'ok';
    };
    const runner = new CommandRunner(
      db,
      { sync_now: handler, reboot: handler, restart_agent: handler, set_config: handler, screenshot: handler },
      async (_id, r) => {
        results.push(r);
      },
      wall,
      clock,
    );
    const issuedAt = Date.now();
    const cmd = { id: randomUUID(), type: 'sync_now', params: {}, issuedAt, expiresAt: issuedAt + 10 * 60_000 };
    await runner.handle(Buffer.from(JSON.stringify(cmd)));
    expect(ran).toBe(1);
    expect(results.at(-1)).toMatchObject({ state: 'succeeded' });
    // One really expired (on the server's clock) is still refused.
    const old = { ...cmd, id: randomUUID(), issuedAt: issuedAt - 3_600_000, expiresAt: issuedAt - 60_000 };
    await runner.handle(Buffer.from(JSON.stringify(old)));
    expect(ran).toBe(1);
    expect(results.at(-1)).toMatchObject({ state: 'failed', detail: expect.stringContaining('expired') });
  });
});
