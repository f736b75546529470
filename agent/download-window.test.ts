import { describe, expect, it } from 'vitest';
import { inDownloadWindow, msUntilWindow } from './download-window.js';

const at = (h: number, m: number): Date => new Date(2026, 10, 23, h, m, 0, 0);

describe('download window', () => {
  it('handles a plain window and one that wraps midnight', () => {
    expect(inDownloadWindow('01:00-05:00', at(3, 0))).toBe(true);
    expect(inDownloadWindow('01:00-05:00', at(5, 0))).toBe(false);
    expect(inDownloadWindow('22:00-05:00', at(23, 30))).toBe(true);
    expect(inDownloadWindow('22:00-05:00', at(4, 59))).toBe(true);
    expect(inDownloadWindow('22:00-05:00', at(12, 0))).toBe(false);
    expect(inDownloadWindow(null, at(12, 0))).toBe(true);
  });
  it('says how long until the window opens', () => {
    expect(msUntilWindow('22:00-05:00', at(21, 30))).toBe(30 * 60_000);
    expect(msUntilWindow('01:00-05:00', at(6, 0))).toBe(19 * 3_600_000);
    expect(msUntilWindow('01:00-05:00', at(2, 0))).toBe(0);
  });
});
