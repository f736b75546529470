/** The summary table `npm run bench` prints (and docs/performance.md copies). */
// biome-ignore lint/suspicious/noExplicitAny: the results are read loosely here; a missing field prints as "—".
type Any = Record<string, any>;

const f = (n: unknown, digits = 0) => (typeof n === 'number' && Number.isFinite(n) ? n.toFixed(digits) : String(n ?? '—'));

/** What the server saw of the same window (bench/lib/server-side.ts), when the window scraped its /metrics. */
const inside = (s: Any | undefined) =>
  s
    ? `; inside the server: read → committed p99 ≤ ${f(s.ingestP99BoundMs)} ms, a batch's commit + fsync p99 ≤ ${f(s.commitP99BoundMs)} ms, event-loop lag p99 ${f(s.eventLoopLagP99Ms)} / max ${f(s.eventLoopLagMaxMs)} ms, GC ${f(s.gcPausePercent, 1)} %, WAL restarts ${f(s.walRestarts)}`
    : '';

export function renderTable(results: Any): string {
  const rows: Array<[string, string]> = [];
  const fleet = results.fleet as Any | undefined;
  if (fleet?.error) rows.push(['fleet scenarios', `FAILED: ${fleet.error}`]);
  for (const s of (fleet?.connectStorm as Any[] | undefined) ?? []) {
    rows.push([
      `1. connect storm, ${s.devices} devices`,
      `${s.allOnline ? `all online in ${f(s.secondsToAllOnline, 1)} s` : `${s.onlineAtEnd}/${s.devices} online after ${f(s.secondsToAllOnline)} s (cap)`} (${f(s.connectsPerSecond)} connects/s); server RSS ${f(s.serverRssMiB)} MiB (${f(s.rssPerConnectionKiB, 1)} KiB/conn); server CPU ${f(s.serverCpuSeconds, 1)} s, generator CPU ${f(s.generatorCpuSeconds, 1)} s`,
    ]);
  }
  const storm = results.storm as Any | undefined;
  if (storm?.error) rows.push(['connect storms', `FAILED: ${storm.error}`]);
  for (const s of (storm?.connectStorm as Any[] | undefined) ?? []) {
    rows.push([
      `1. connect storm over ${s.transport}, ${s.devices} devices`,
      `${s.allOnline ? `all online in ${f(s.secondsToAllOnline, 1)} s` : `${s.onlineAtEnd}/${s.devices} online after ${f(s.secondsToAllOnline)} s (cap)`} (${f(s.connectsPerSecond)} connects/s); server RSS ${f(s.serverRssMiB)} MiB (${f(s.rssPerConnectionKiB, 1)} KiB/conn); server CPU ${f(s.serverCpuSeconds, 1)} s, generator CPU ${f(s.generatorCpuSeconds, 1)} s`,
    ]);
  }
  const ing = fleet?.sustainedIngest as Any | undefined;
  if (ing) {
    const n = ing.nominal;
    rows.push([
      `2a. ingest, ${ing.devices} devices × 1 sample/30 s`,
      `${f(n.ackedPerSecond)} samples/s committed; sample→PUBACK p50 ${f(n.latencyP50Ms, 1)} ms, p99 ${f(n.latencyP99Ms, 1)} ms; server CPU ${f(n.serverCpuPercent)} %`,
    ]);
    rows.push([
      '2b. ingest closed-loop probe (1 outstanding per device)',
      `${f(ing.probe.ackedPerSecond)} samples/s; p99 ${f(ing.probe.latencyP99Ms)} ms; server CPU ${f(ing.probe.serverCpuPercent)} %`,
    ]);
    if (Array.isArray(ing.steps))
      rows.push([
        `2b. open-loop bisection (${f(ing.steps[0]?.seconds)} s steps, p99 < ${f(ing.p99LimitMs)} ms)`,
        (ing.steps as Any[])
          .map(
            (x) =>
              `${f(x.targetPerSecond)}/s ${x.held ? 'held' : 'NOT held'} (p99 ${f(x.latencyP99Ms)} ms, CPU ${f(x.serverCpuPercent)} %, load ${f(x.load1m, 1)})`,
          )
          .join('; '),
      ]);
    const h = ing.held;
    rows.push([
      `2c. highest rate held ${h ? f(h.seconds) : '?'} s, zero loss`,
      h
        ? `${f(h.targetPerSecond)} samples/s (achieved ${f(h.ackedPerSecond)} in ${f(h.messagesPerSecond)} msg/s${ing.failedAt ? `; ${f(ing.failedAt)}/s failed` : '; no failed rate above it'}); p50 ${f(h.latencyP50Ms, 1)} ms, p99 ${f(h.latencyP99Ms, 1)} ms; server CPU ${f(h.serverCpuPercent)} %, RSS ${f(h.serverRssMiB)} MiB; generator CPU ${f(h.generatorCpuPercent)} % (busiest worker ${f(h.generatorMaxWorkerCpuPercent)} %); load ${f(h.load1m, 1)}${inside(h.server)}`
        : `no tried rate was held: ${JSON.stringify(((ing.steps as Any[]) ?? []).map((x) => x.targetPerSecond))}`,
    ]);
  }
  const rs = fleet?.reconnectStorm as Any | undefined;
  if (rs)
    rows.push([
      `3. reconnect storm, ${rs.devices} devices, server down ${rs.downSeconds} s`,
      `all back in ${f(rs.secondsUntilAllBack, 1)} s; ${rs.bufferedSamples} buffered samples all committed in ${f(rs.secondsUntilAllCommitted, 1)} s (${rs.allCommitted ? 'yes' : 'NO'})`,
    ]);
  const kd = fleet?.killDrill as Any | undefined;
  if (kd)
    rows.push([
      `drill: SIGKILL under ${kd.loadPerSecond} samples/s`,
      `${kd.allBack ? 'all back' : 'NOT all back'} in ${f(kd.secondsUntilAllBack, 1)} s, backlog ${kd.bufferedSamples} ${kd.allCommitted ? 'committed' : 'NOT all committed'} in ${f(kd.secondsUntilAllCommitted, 1)} s (lost/duplicated: the zero-loss check below)`,
    ]);
  const zl = fleet?.zeroLossCheck as Any | undefined;
  if (zl)
    rows.push([
      'zero-loss check (whole fleet run)',
      `${zl.ackedSamples} acknowledged samples: lost ${zl.lost}, duplicated ${zl.duplicated}, unknown ${zl.unknown} (${zl.rows} rows)`,
    ]);
  const b = results.broker as Any | undefined;
  if (b?.error) rows.push(['4. broker alone', `FAILED: ${b.error}`]);
  else if (b) {
    for (const k of ['aedes', 'mosquitto', 'server']) {
      const x = b[k] as Any | undefined;
      if (!x) continue;
      const h = x.held as Any | null;
      rows.push([
        `4. ${k === 'server' ? 'server, whole path' : `${k} alone`}, ${x.publishers} publishers, highest rate held ${f(b.stepSeconds)} s`,
        x.error
          ? `FAILED: ${x.error}`
          : h
            ? `${f(x.heldPerSecond)} msg/s${x.failedAt ? ` (${f(x.failedAt)}/s failed)` : ' (no failed rate above it: a lower bound)'}; p99 ${f(h.latencyP99Ms, 1)} ms; ${k === 'server' ? `zero-loss check: lost ${x.zeroLossCheck?.lost}, duplicated ${x.zeroLossCheck?.duplicated}` : `lost ${h.lost}`}; broker CPU ${f(h.brokerCpuPercent)} % (${f(h.brokerCpuUsPerMessage, 1)} µs/msg); generator CPU ${f(h.generatorCpuPercent)} % (busiest worker ${f(h.generatorMaxWorkerCpuPercent)} %)${x.generatorLimited ? ' — GENERATOR-LIMITED (a worker at ≥ 90 % of a core): add --workers' : ''}; load ${f(h.load1m, 1)}${inside(h.server)}`
            : `no tried rate was held: ${JSON.stringify(((x.steps as Any[]) ?? []).map((s) => s.targetPerSecond))}`,
      ]);
    }
    rows.push([
      '4. ratios of highest rates held',
      `server/aedes ${f(b.ratioServerToAedes, 2)}, server/Mosquitto ${f(b.ratioServerToMosquitto, 2)}`,
    ]);
  }
  const pr = results.profile as Any | undefined;
  if (pr?.error) rows.push(['profile', `FAILED: ${pr.error}`]);
  else if (pr)
    rows.push([
      `profile: server at ${pr.devices} kiosks, ${pr.ratePerSecond} msg/s for ${pr.seconds} s`,
      `${f(pr.serverCpuUsPerMessage, 1)} µs CPU/msg (load ${f(pr.load1m, 1)}): ${(pr.stages as Any[]).map((s) => `${s.stage} ${f(s.usPerMessage, 1)}`).join('; ')}`,
    ]);
  const c = results.coverage as Any | undefined;
  if (c?.error) rows.push(['5. coverage/dashboard', `FAILED: ${c.error}`]);
  else if (c && !c.wired) rows.push(['5. coverage (via bench/coverage.ts)', String(c.output).split('\n').slice(-4).join(' | ')]);
  else if (c)
    for (const k of [
      'coverage',
      'coverageAsOf',
      'communes',
      'trend',
      'sitesFirstPage',
      'sitesByProblems',
      'alerts',
      'alertsOfflinePage',
      'map',
      'dashboardFirstPage',
    ])
      rows.push([
        `5. ${k} (${c.sites} sites, ${c.devices} devices)`,
        c[k]?.error
          ? `FAILED: ${c[k].error}`
          : `p50 ${f(c[k]?.p50Ms, 1)} ms, p99 ${f(c[k]?.p99Ms, 1)} ms (${c[k]?.requests} requests, ${f((c[k]?.bytes ?? 0) / 1024)} KiB)`,
      ]);
  const ct = results.content as Any | undefined;
  if (ct?.error) rows.push(['6. content sync', `FAILED: ${ct.error}`]);
  else if (ct)
    rows.push([
      `6. content sync, ${ct.devices} devices × ${f(ct.updateBytes / 1048576)} MiB`,
      `${f(ct.totalSeconds, 1)} s (${f(ct.aggregateMBps)} MB/s); server CPU ${f(ct.serverCpuSeconds, 1)} s (${f(ct.serverCpuPercent)} %); sent/needed ${f(ct.sentOverNeeded, 4)} (${ct.linkCutsResumed} cut links resumed, ${ct.hashChecked} hash-checked, ${ct.hashMismatches} bad)`,
    ]);
  const width = Math.max(7, ...rows.map(([k]) => k.length));
  return [
    `| ${'measure'.padEnd(width)} | result |`,
    `|${'-'.repeat(width + 2)}|---|`,
    ...rows.map(([k, v]) => `| ${k.padEnd(width)} | ${v} |`),
  ].join('\n');
}
