/**
 * Issue 14's idle-traffic goal, small: a real server and a real agent in two network namespaces joined by a shaped
 * veth (bench/lib/field-link.ts), the bytes on the veth over whole health send periods. The goal, ≤ 3 MB a month at
 * a 300 s health interval, is 3 000 000 B ÷ 8 640 samples ≈ 347 B of everything on the link per sample taken; here
 * samples are taken every 5 s and sent 6 at a time (AGENT_HEALTH_SEND_INTERVAL_S=30), and the bytes per sample must
 * stay under that budget. One publish per sample (≈ 580 B on the veth each, before batching) does not.
 * The full-size figure (10 minutes and more, extrapolated) is `npm run bench -- --only field`, in docs/performance.md.
 */
import { describe, expect, it } from 'vitest';
import { fieldLinkUnavailable } from '../bench/lib/field-link.js';
import { runFieldIdle } from '../bench/scenarios/field.js';

const unavailable = fieldLinkUnavailable();
if (unavailable) console.warn(`tests/field-idle.test.ts skipped: ${unavailable}`);
const log = process.env.FIELD_LOG ? (line: string) => console.log(line) : () => {};

/** 3 MB a month at one sample every 300 s, per sample. */
const BUDGET_BYTES_PER_SAMPLE = Math.floor(3_000_000 / ((30 * 86_400) / 300));

describe.skipIf(unavailable !== null)('field idle traffic (root: network namespaces, veth, tc)', () => {
  it('an idle kiosk costs at most the month budget per health sample on the veth (batched sends, no pings, no ARP)', async () => {
    const { runs } = await runFieldIdle({
      intervalsS: [5],
      windowS: 30,
      wholeSends: true,
      agentEnv: { AGENT_HEALTH_SEND_INTERVAL_S: '30' },
      log,
    });
    const run = runs[0];
    log(`  field idle test: ${JSON.stringify(run)}`);
    expect(run?.samples).toBeGreaterThanOrEqual(5);
    // Whole frames, both directions, everything on the link (the MQTT connection and anything else).
    const perSample = (run?.bytes ?? Number.POSITIVE_INFINITY) / (run?.samples ?? 0);
    expect(perSample).toBeLessThanOrEqual(BUDGET_BYTES_PER_SAMPLE);
    // Nothing but the MQTT connection spoke: no ARP, no IPv6 discovery, no other connection.
    expect(run?.otherPackets).toBe(0);
  }, 150_000);
});
