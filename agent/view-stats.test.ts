import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { StatsDay } from '../protocol/index.js';
import { type AgentDb, openAgentDb } from './agent-db.js';
import { ViewStats } from './view-stats.js';

const DAY = 86_400_000;
const noonOf = (day: string) => new Date(`${day}T12:00:00`).getTime();

describe('view stats', () => {
  let dir: string;
  let db: AgentDb;
  afterEach(() => {
    db.close();
    rmSync(dir, { recursive: true, force: true });
  });

  function setup(start: number) {
    dir = mkdtempSync(join(tmpdir(), 'view-stats-'));
    db = openAgentDb(dir);
    const clock = { now: start };
    const sent: StatsDay[][] = [];
    const stats = new ViewStats(db, () => clock.now);
    const flush = () =>
      stats.flush(async (days) => {
        sent.push(days);
      });
    return { clock, sent, stats, flush };
  }

  it('sends a finished day once, as its total', async () => {
    const { clock, sent, stats, flush } = setup(noonOf('2026-11-20'));
    stats.record({ views: [{ itemId: 'i1', lang: 'jra', seconds: 10 }] });
    stats.record({ views: [{ itemId: 'i1', lang: 'jra', seconds: 5 }] });
    expect(await flush()).toBe(0); // the day is not over
    clock.now += DAY;
    expect(await flush()).toBe(1);
    expect(await flush()).toBe(0);
    expect(sent).toEqual([[{ day: '2026-11-20', itemId: 'i1', lang: 'jra', views: 2, seconds: 15 }]]);
  });

  it('resends the full total when a view lands on a day already sent (the clock jumped back)', async () => {
    const { clock, sent, stats, flush } = setup(noonOf('2026-11-20'));
    stats.record({ views: [{ itemId: 'i1', lang: 'km', seconds: 10 }] });
    clock.now += DAY;
    await flush();
    clock.now -= DAY; // no real-time clock: back on the 20th after a power cut
    stats.record({ views: [{ itemId: 'i1', lang: 'km', seconds: 4 }] });
    clock.now += DAY;
    await flush();
    expect(sent.at(-1)).toEqual([{ day: '2026-11-20', itemId: 'i1', lang: 'km', views: 2, seconds: 14 }]);
  });

  it('keeps a view that arrives while its day waits for the PUBACK, and sends the new total', async () => {
    const { clock, sent, stats } = setup(noonOf('2026-11-20'));
    stats.record({ views: [{ itemId: 'i1', lang: 'vi', seconds: 10 }] });
    clock.now += DAY;
    await stats.flush(async (days) => {
      sent.push(days);
      clock.now -= DAY;
      stats.record({ views: [{ itemId: 'i1', lang: 'vi', seconds: 1 }] });
      clock.now += DAY;
    });
    await stats.flush(async (days) => {
      sent.push(days);
    });
    expect(sent.map((days) => days[0]?.views)).toEqual([1, 2]);
  });

  it('keeps a day unsent when the publish fails', async () => {
    const { clock, stats, flush } = setup(noonOf('2026-11-20'));
    stats.record({ views: [{ itemId: 'i1', lang: 'lo', seconds: 3 }] });
    clock.now += DAY;
    await expect(stats.flush(() => Promise.reject(new Error('offline')))).rejects.toThrow('offline');
    expect(await flush()).toBe(1);
  });
});
