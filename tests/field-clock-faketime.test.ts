/**
 * Issue 14, clock drills on a whole agent process under Debian's `faketime` (bench/scenarios/field-drills.ts): the
 * server in this process on the true clock, the agent child with its wall clock −1 day, +1 day, +1 year and in 1970.
 * Pairing claimable (one code across the polls), a command with a 5 min TTL runs, a download paced by its
 * bandwidthLimit takes about size / limit and its item (valid six hours around the server's now) is on the page, no
 * warning flood. Small sizes here; `npm run bench -- --only field` runs
 * them larger.
 */
import { describe, expect, it } from 'vitest';
import { CLOCK_ERRORS, faketimeUnavailable, runClockDrills } from '../bench/scenarios/field-drills.js';

const unavailable = faketimeUnavailable();
if (unavailable) console.warn(`tests/field-clock-faketime.test.ts skipped: ${unavailable}`);
const log = process.env.FIELD_LOG ? (line: string) => console.log(line) : () => {};

describe.skipIf(unavailable !== null)(`clock drills under faketime (${unavailable ?? 'faketime present'})`, () => {
  it('wall clock −1 day, +1 day, +1 year, 1970: pairing claimable, a 5 min command runs, downloads paced, no warning flood', async () => {
    const r = await runClockDrills({
      downloadBytes: 96 * 1024,
      bandwidthBytesPerS: 48 * 1024,
      watchPairingMs: 2000,
      pairingPollMs: 200,
      log,
    });
    expect(r.failures).toEqual([]);
    expect(r.runs.map((x) => x.error)).toEqual(CLOCK_ERRORS.map((e) => e.name));
    // The agent really ran on the wrong clock (pino's `time` of its first line, hours from the true clock).
    expect(r.runs.map((x) => Math.sign(x.agentWallOffsetH))).toEqual([-1, 1, 1, -1]);
    for (const run of r.runs) {
      expect(run.pairingCodes).toBe(1);
      expect(run.commandStatus).toBe('succeeded');
      expect(run.downloadSeconds).toBeGreaterThanOrEqual(0.7 * run.expectedDownloadSeconds);
      expect(run.downloadSeconds).toBeLessThan(run.expectedDownloadSeconds * 4 + 20);
      expect(run.warnings).toBeLessThanOrEqual(3);
    }
  }, 240_000);
});
