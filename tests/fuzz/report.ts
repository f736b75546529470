/** What a fuzz run found and counted, the checks it must pass, and its printout. */

export interface Crash {
  /** ms since the run started. */
  atMs: number;
  exit: string;
  /** Cases in flight when the exit was seen, then those that ended in the 0.4 s before it (latest first). */
  suspects: string[];
  /** The suspect that crashed the restarted server again when replayed alone, if one did. */
  confirmed: string | null;
  reproducer: string | null;
  serverTail: string;
}

export interface Finding {
  kind: '5xx' | 'no_answer';
  caseId: string;
  detail: string;
  reproducer: string;
}

export interface FuzzReport {
  seed: number;
  corpusHash: string;
  durationMs: number;
  rssLimitMiB: number;
  baselineRssMiB: number;
  maxRssMiB: number;
  mqtt: {
    sessions: number;
    outcomes: Record<string, number>;
    connack: Record<string, number>;
    transports: Record<string, number>;
    replies: Record<string, number>;
  };
  http: {
    operations: number;
    requests: number;
    statuses: Record<string, number>;
    outcomes: Record<string, number>;
    drips: { sent: number; answeredWithinBound: number };
  };
  good: { sent: number; acked: number; lost: number[]; maxGapMs: number; gapLimitMs: number };
  crashes: Crash[];
  findings: Finding[];
  /** The server answered /healthz at the end. */
  aliveAtEnd: boolean;
  aborted: boolean;
  /** Cases the harness failed to build (a bug of the harness, not of the server). */
  harnessErrors: string[];
  /** The last error lines the (final) server process logged. */
  serverErrors: string[];
}

export function bump(counts: Record<string, number>, key: string, by = 1): void {
  counts[key] = (counts[key] ?? 0) + by;
}

/** The run's verdict: every broken rule, one line each (empty when the server survived everything). */
export function problems(r: FuzzReport): string[] {
  const out: string[] = [];
  if (r.crashes.length) out.push(`the server process exited ${r.crashes.length} time(s)`);
  if (!r.aliveAtEnd) out.push('the server did not answer /healthz at the end');
  if (r.harnessErrors.length) out.push(`${r.harnessErrors.length} case(s) could not be built by the harness`);
  if (r.aborted) out.push('the run was cut short (too many restarts)');
  if (r.maxRssMiB > r.rssLimitMiB) out.push(`RSS reached ${r.maxRssMiB.toFixed(0)} MiB, over the ${r.rssLimitMiB} MiB bound`);
  const fivexx = r.findings.filter((f) => f.kind === '5xx').length;
  if (fivexx) out.push(`${fivexx} request(s) answered 5xx`);
  if (r.good.lost.length) out.push(`${r.good.lost.length} acknowledged sample(s) of the good device are not in SQLite`);
  if (r.good.acked === 0) out.push('the good device got no PUBACK at all');
  if (r.good.maxGapMs > r.good.gapLimitMs)
    out.push(`the good device waited ${r.good.maxGapMs} ms for a PUBACK (bound ${r.good.gapLimitMs} ms)`);
  return out;
}

const table = (counts: Record<string, number>) =>
  Object.entries(counts)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([k, v]) => `${k}=${v}`)
    .join(' ');

export function formatReport(r: FuzzReport): string {
  const lines = [
    `fuzz run: seed ${r.seed}, corpus ${r.corpusHash}, ${(r.durationMs / 1000).toFixed(1)} s`,
    `  MQTT sessions   ${r.mqtt.sessions} (${table(r.mqtt.transports)})`,
    `    outcomes      ${table(r.mqtt.outcomes)}`,
    `    CONNACK codes ${table(r.mqtt.connack)}`,
    `    replies       ${table(r.mqtt.replies)}`,
    `  HTTP requests   ${r.http.requests} over ${r.http.operations} operations of /api/openapi.json`,
    `    statuses      ${table(r.http.statuses)}`,
    `    outcomes      ${table(r.http.outcomes)}`,
    `    drip bodies   ${r.http.drips.sent} sent, ${r.http.drips.answeredWithinBound} answered or closed before the drip ended`,
    `  server RSS      baseline ${r.baselineRssMiB.toFixed(0)} MiB, max ${r.maxRssMiB.toFixed(0)} MiB (bound ${r.rssLimitMiB} MiB)`,
    `  good device     ${r.good.sent} sent, ${r.good.acked} acknowledged, ${r.good.lost.length} acknowledged but missing, longest wait for a PUBACK ${r.good.maxGapMs} ms (bound ${r.good.gapLimitMs} ms)`,
    `  crashes         ${r.crashes.length}; alive at the end: ${r.aliveAtEnd ? 'yes' : 'NO'}`,
  ];
  for (const c of r.crashes) {
    lines.push(
      `  CRASH at ${(c.atMs / 1000).toFixed(1)} s (${c.exit}); suspects (in flight or just ended): ${c.suspects.slice(0, 12).join(', ') || '(none)'}${c.suspects.length > 12 ? ` … ${c.suspects.length - 12} more` : ''}`,
    );
    lines.push(`    reproduced alone by: ${c.confirmed ?? '(no suspect crashed it again alone)'}`);
    if (c.reproducer) lines.push(`    bytes: ${c.reproducer}`);
    const tail = c.serverTail.split('\n').slice(-8).join('\n      ');
    lines.push(`    server output:\n      ${tail}`);
  }
  for (const e of r.harnessErrors.slice(0, 5)) lines.push(`  HARNESS ERROR ${e}`);
  const shown = r.findings.slice(0, 15);
  for (const f of shown) lines.push(`  ${f.kind.toUpperCase()} ${f.caseId}: ${f.detail}\n    bytes: ${f.reproducer}`);
  if (r.findings.length > shown.length) lines.push(`  … and ${r.findings.length - shown.length} more findings`);
  if (r.serverErrors.length) lines.push(`  last server errors:\n    ${r.serverErrors.join('\n    ')}`);
  const verdict = problems(r);
  lines.push(
    verdict.length
      ? `FAILED: ${verdict.join('; ')}`
      : 'PASSED: alive, bounded, no 5xx, the good device kept being acknowledged and lost nothing',
  );
  lines.push(`  replay one case: npm run fuzz -- --seed ${r.seed} --replay mqtt:<n>|http:<n>`);
  return lines.join('\n');
}
