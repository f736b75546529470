/**
 * A small Prometheus registry (text exposition format 0.0.4): counters with labels, gauges read at scrape
 * time, and histograms. Hand-written because the project has no metrics library and needs only these three.
 */
type Labels = Record<string, string>;

function labelText(labels: Labels): string {
  const entries = Object.entries(labels);
  if (entries.length === 0) return '';
  return `{${entries.map(([k, v]) => `${k}="${v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')}"`).join(',')}}`;
}

interface Metric {
  render(): string;
}

export class Counter implements Metric {
  private readonly values = new Map<string, { labels: Labels; value: number }>();
  constructor(
    readonly name: string,
    readonly help: string,
  ) {}
  inc(labels: Labels = {}, by = 1): void {
    const key = labelText(labels);
    const entry = this.values.get(key);
    if (entry) entry.value += by;
    else this.values.set(key, { labels, value: by });
  }
  get(labels: Labels = {}): number {
    return this.values.get(labelText(labels))?.value ?? 0;
  }
  render(): string {
    const lines = [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} counter`];
    if (this.values.size === 0) lines.push(`${this.name} 0`);
    for (const { labels, value } of this.values.values()) lines.push(`${this.name}${labelText(labels)} ${value}`);
    return lines.join('\n');
  }
}

/** A gauge whose value is read when scraped (connected clients, DB size, queue depth). */
export class Gauge implements Metric {
  constructor(
    readonly name: string,
    readonly help: string,
    private readonly read: () => number,
  ) {}
  render(): string {
    return [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} gauge`, `${this.name} ${this.read()}`].join('\n');
  }
}

export class Histogram implements Metric {
  private readonly counts: number[];
  private sum = 0;
  private count = 0;
  constructor(
    readonly name: string,
    readonly help: string,
    private readonly buckets: number[],
  ) {
    this.counts = buckets.map(() => 0);
  }
  observe(value: number): void {
    this.sum += value;
    this.count++;
    for (let i = 0; i < this.buckets.length; i++)
      if (value <= (this.buckets[i] as number)) this.counts[i] = (this.counts[i] as number) + 1;
  }
  render(): string {
    const lines = [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} histogram`];
    this.buckets.forEach((le, i) => {
      lines.push(`${this.name}_bucket{le="${le}"} ${this.counts[i]}`);
    });
    lines.push(
      `${this.name}_bucket{le="+Inf"} ${this.count}`,
      `${this.name}_sum ${this.sum}`,
      `${this.name}_count ${this.count}`,
    );
    return lines.join('\n');
  }
}

export class MetricsRegistry {
  private readonly metrics: Metric[] = [];
  counter(name: string, help: string): Counter {
    return this.add(new Counter(name, help));
  }
  gauge(name: string, help: string, read: () => number): Gauge {
    return this.add(new Gauge(name, help, read));
  }
  histogram(name: string, help: string, buckets: number[]): Histogram {
    return this.add(new Histogram(name, help, buckets));
  }
  render(): string {
    return `${this.metrics.map((m) => m.render()).join('\n')}\n`;
  }
  private add<M extends Metric>(metric: M): M {
    this.metrics.push(metric);
    return metric;
  }
}

/** The metrics the core server keeps; other modules may register their own on `registry`. */
export function createServerMetrics() {
  const registry = new MetricsRegistry();
  return {
    registry,
    messagesIn: registry.counter('fleet_mqtt_messages_in_total', 'MQTT messages received from devices, by topic kind'),
    badPayloads: registry.counter(
      'fleet_mqtt_bad_payloads_total',
      'Device payloads dropped as invalid, by topic kind and reason',
    ),
    refused: registry.counter('fleet_mqtt_refused_total', 'Connections, publishes and subscriptions refused, by what'),
    throttled: registry.counter(
      'fleet_mqtt_throttled_total',
      'Times the broker stopped reading a device that had too many publishes waiting for their commit or PUBACKs',
    ),
    dbErrors: registry.counter('fleet_db_errors_total', 'Database operations that failed, by operation and SQLite code'),
    ingestBatchSamples: registry.histogram(
      'fleet_ingest_batch_samples',
      'Health samples per group-commit transaction',
      [1, 10, 50, 100, 250, 500, 1000, 2500, 5000],
    ),
    ingestCommitSeconds: registry.histogram(
      'fleet_ingest_commit_seconds',
      'Time to write and commit one group-commit transaction',
      [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1],
    ),
    samplesCommitted: registry.counter('fleet_ingest_samples_committed_total', 'Health samples committed (duplicates included)'),
  };
}
export type ServerMetrics = ReturnType<typeof createServerMetrics>;
