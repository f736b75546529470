import { describe, expect, it } from 'vitest';
import { ViewCounter } from './stats.js';

function clock(): { now: () => number; advance: (ms: number) => void } {
  let t = 1_000_000;
  return { now: () => t, advance: (ms) => (t += ms) };
}

describe('ViewCounter', () => {
  it('counts seconds per view and posts them in batches of at most 100', async () => {
    const c = clock();
    const posted: number[] = [];
    const counter = new ViewCounter({ now: c.now, post: async (views) => void posted.push(views.length) });
    counter.start('a', 'km');
    c.advance(12_400);
    counter.start('b', 'vi'); // ends "a"
    c.advance(3_000);
    counter.end();
    expect(counter.pendingCount).toBe(2);
    for (let i = 0; i < 150; i++) {
      counter.start(`i${i}`, 'vi');
      counter.end();
    }
    await counter.flush();
    expect(posted).toEqual([100, 52]);
    expect(counter.pendingCount).toBe(0);
  });

  it('keeps views when a post fails and sends them on the next flush', async () => {
    const c = clock();
    let fail = true;
    const sent: Array<{ itemId: string; lang: string; seconds: number }> = [];
    const counter = new ViewCounter({
      now: c.now,
      post: async (views) => {
        if (fail) throw new Error('agent unreachable');
        sent.push(...views);
      },
    });
    counter.start('a', 'jra');
    c.advance(5_000);
    counter.end();
    await counter.flush();
    expect(counter.pendingCount).toBe(1);
    fail = false;
    await counter.flush();
    expect(sent).toEqual([{ itemId: 'a', lang: 'jra', seconds: 5 }]);
  });

  it('bounds what it keeps while posts fail, dropping the oldest', async () => {
    const counter = new ViewCounter({ maxPending: 3, post: async () => Promise.reject(new Error('down')) });
    for (const id of ['a', 'b', 'c', 'd', 'e']) {
      counter.start(id, 'vi');
      counter.end();
    }
    await counter.flush();
    expect(counter.pendingCount).toBe(3);
    expect(counter.dropped).toBe(2);
  });
});
