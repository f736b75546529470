/**
 * Issue 14, a kiosk with a wrong clock over TLS, as in the field: the server in this process on the true clock with a
 * certificate issued now, a whole agent process under Debian's `faketime` with its wall clock −1 day (behind the
 * certificate's notBefore, as right after a renewal) and in 1970 (a dead RTC battery). Over https + mqtts with the CA
 * pinned by `#ca=` (bench/scenarios/field-drills.ts runClockDrills, TLS mode): pairing claimable, a command over MQTTS
 * runs, the manifest and the paced download over HTTPS arrive. Before the links judged the certificate on the agent's
 * time estimate (protocol/tls-identity.ts tlsPeerRefusal), OpenSSL refused "certificate is not yet valid" and the kiosk
 * never paired. tests/tls-clock.test.ts covers the refusals (another CA, expired at the estimate) in-process.
 */
import { describe, expect, it } from 'vitest';
import { CLOCK_ERRORS, faketimeUnavailable, runClockDrills } from '../bench/scenarios/field-drills.js';

const unavailable = faketimeUnavailable();
if (unavailable) console.warn(`tests/tls-clock-faketime.test.ts skipped: ${unavailable}`);
const log = process.env.FIELD_LOG ? (line: string) => console.log(line) : () => {};
const BEHIND = CLOCK_ERRORS.filter((e) => e.name === '-1 day' || e.name === '1970');

describe.skipIf(unavailable !== null)(
  `TLS with the kiosk's clock behind, under faketime (${unavailable ?? 'faketime present'})`,
  () => {
    it('wall clock −1 day and 1970: pairing, MQTTS command and HTTPS download work over TLS with the CA pinned', async () => {
      const r = await runClockDrills({
        errors: BEHIND,
        downloadBytes: 32 * 1024,
        bandwidthBytesPerS: 64 * 1024,
        watchPairingMs: 500,
        pairingPollMs: 200,
        tls: true,
        log,
      });
      expect(r.failures).toEqual([]);
      expect(r.runs.map((x) => x.error)).toEqual(['-1 day', '1970']);
      for (const run of r.runs) {
        expect(Math.sign(run.agentWallOffsetH), 'the agent really ran with its clock behind').toBe(-1);
        expect(run.paired).toBe(true);
        expect(run.commandStatus).toBe('succeeded');
        expect(run.downloadSeconds).not.toBeNull();
      }
    }, 120_000);
  },
);
