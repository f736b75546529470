/**
 * What the server itself saw during a bench window, from two scrapes of its /metrics: where a message's
 * latency was spent inside the server (publish read → committed, `fleet_ingest_latency_seconds`), how late its
 * event loop ran (prom-client's `nodejs_eventloop_lag_*`, reset by each scrape, so the second scrape covers
 * the window), its garbage collector's pauses (`nodejs_gc_duration_seconds` by kind), a group-commit batch's own
 * start → durable time (`fleet_ingest_commit_seconds`: the SQL, the COMMIT and the fsync wait, so the rest of
 * read → committed is queueing) and the checkpointer's WAL-restart holds (`fleet_ingest_checkpoint_hold_seconds`).
 * Put beside the
 * generator's publish → PUBACK latency, it tells the server's share of a tail from the generator's and the
 * sockets' (docs/performance.md, "Where the tail is").
 */

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** The samples of Prometheus text format (comments skipped; label values without escaped quotes suffice here). */
export function parsePrometheusText(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    const m = /^([A-Za-z_:][\w:]*)(?:\{([^}]*)\})? (\S+)/.exec(line);
    if (!m) continue;
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(/(\w+)="([^"]*)"/g)) labels[l[1] as string] = l[2] as string;
    samples.push({ name: m[1] as string, labels, value: Number(m[3]) });
  }
  return samples;
}

function pick(samples: Sample[], name: string, where: Record<string, string> = {}): Sample[] {
  return samples.filter((s) => s.name === name && Object.entries(where).every(([k, v]) => s.labels[k] === v));
}

export function total(samples: Sample[], name: string, where?: Record<string, string>): number {
  return pick(samples, name, where).reduce((n, s) => n + s.value, 0);
}

/**
 * The upper bound of the bucket holding quantile `q` of what a histogram observed between two scrapes
 * (Infinity past its last bucket, NaN when it observed nothing).
 */
export function histogramQuantileBound(before: Sample[], after: Sample[], name: string, q: number): number {
  const bucket = (samples: Sample[]) =>
    new Map(pick(samples, `${name}_bucket`).map((s) => [Number(s.labels.le === '+Inf' ? Infinity : s.labels.le), s.value]));
  const b0 = bucket(before);
  const b1 = [...bucket(after)].sort(([a], [b]) => a - b);
  const count = (b1.at(-1)?.[1] ?? 0) - (b0.get(Infinity) ?? 0);
  if (count <= 0) return Number.NaN;
  for (const [le, cumulative] of b1) if (cumulative - (b0.get(le) ?? 0) >= q * count) return le;
  return Infinity;
}

export interface ServerSide {
  /** Bucket bound (ms) of the server's own publish-read → committed p99. */
  ingestP99BoundMs: number;
  /** Bucket bound (ms) of the p99 of a batch's transaction start → fsync returned (per batch, not per message). */
  commitP99BoundMs: number;
  /** WAL-restart holds in the window: completed (the next commit restarted the WAL), not completed, and their time. */
  walRestarts: number;
  walRestartsIncomplete: number;
  walHoldMs: number;
  eventLoopLagP99Ms: number;
  eventLoopLagMaxMs: number;
  /** Share of the window the garbage collector paused the main thread, and the major collections' count. */
  gcPausePercent: number;
  gcMajorCount: number;
  gcMajorMs: number;
}

/** All NaN when either scrape failed (''). */
export function serverSide(beforeText: string, afterText: string, seconds: number): ServerSide {
  if (!beforeText || !afterText) {
    const n = Number.NaN;
    return {
      ingestP99BoundMs: n,
      commitP99BoundMs: n,
      walRestarts: n,
      walRestartsIncomplete: n,
      walHoldMs: n,
      eventLoopLagP99Ms: n,
      eventLoopLagMaxMs: n,
      gcPausePercent: n,
      gcMajorCount: n,
      gcMajorMs: n,
    };
  }
  const before = parsePrometheusText(beforeText);
  const after = parsePrometheusText(afterText);
  const gc = (kind?: string) => {
    const where = kind ? { kind } : undefined;
    return {
      seconds: total(after, 'nodejs_gc_duration_seconds_sum', where) - total(before, 'nodejs_gc_duration_seconds_sum', where),
      count: total(after, 'nodejs_gc_duration_seconds_count', where) - total(before, 'nodejs_gc_duration_seconds_count', where),
    };
  };
  const major = gc('major');
  const delta = (name: string, where?: Record<string, string>) => total(after, name, where) - total(before, name, where);
  const holds = 'fleet_ingest_checkpoint_hold_seconds';
  return {
    ingestP99BoundMs: histogramQuantileBound(before, after, 'fleet_ingest_latency_seconds', 0.99) * 1000,
    commitP99BoundMs: histogramQuantileBound(before, after, 'fleet_ingest_commit_seconds', 0.99) * 1000,
    walRestarts: delta(`${holds}_count`, { complete: 'true' }),
    walRestartsIncomplete: delta(`${holds}_count`, { complete: 'false' }),
    walHoldMs: delta(`${holds}_sum`) * 1000,
    eventLoopLagP99Ms: total(after, 'nodejs_eventloop_lag_p99_seconds') * 1000,
    eventLoopLagMaxMs: total(after, 'nodejs_eventloop_lag_max_seconds') * 1000,
    gcPausePercent: (gc().seconds / seconds) * 100,
    gcMajorCount: major.count,
    gcMajorMs: major.seconds * 1000,
  };
}
