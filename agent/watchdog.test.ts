import { describe, expect, it } from 'vitest';
import type { EventMessage } from '../protocol/index.js';
import { BrowserWatchdog } from './watchdog.js';

describe('browser watchdog', () => {
  it('waits for a first beat, goes stale without beats, recovers, and keeps reports while the link is down', async () => {
    let mono = 0;
    const wd = new BrowserWatchdog({
      now: () => mono,
      clock: () => 1_800_000_000_000 + mono,
      staleAfterMs: 1000,
      startGraceMs: 5000,
    });
    expect(wd.check().state).toBe('waiting');
    wd.beat({ uptimeS: 1 });
    mono = 900;
    expect(wd.check().state).toBe('alive');
    mono = 2500;
    expect(wd.check()).toMatchObject({ state: 'stale', staleEpisodes: 1, lastBeatAgoMs: 2500 });
    mono = 3000;
    expect(wd.check().staleEpisodes).toBe(1); // one report per episode
    const sent: EventMessage[] = [];
    let up = false;
    wd.setPublisher(async (e) => {
      if (!up) throw new Error('link down');
      sent.push(e);
    });
    wd.beat({ uptimeS: 0.5 });
    expect(wd.check().state).toBe('alive');
    await new Promise((r) => setTimeout(r, 10));
    expect(sent).toEqual([]);
    expect(wd.pendingReports().map((e) => e.type)).toEqual(['screen_unresponsive', 'screen_recovered']);
    up = true;
    wd.flush();
    await new Promise((r) => setTimeout(r, 10));
    expect(sent.map((e) => e.type)).toEqual(['screen_unresponsive', 'screen_recovered']);
    expect(sent[0]?.message).toContain('last heartbeat 2027-01-15T');
    expect(wd.pendingReports()).toEqual([]);
  });

  it('a page that never beats is stale once the start grace is over', () => {
    let mono = 0;
    const wd = new BrowserWatchdog({ now: () => mono, staleAfterMs: 1000, startGraceMs: 5000 });
    mono = 4999;
    expect(wd.check().state).toBe('waiting');
    mono = 5001;
    expect(wd.check()).toMatchObject({ state: 'stale', lastBeatAt: null });
  });
});
