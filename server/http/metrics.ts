/**
 * The server's Prometheus metrics, with prom-client: its default process and event-loop metrics
 * (`process_cpu_seconds_total`, `nodejs_eventloop_lag_seconds`, …) plus ours, every one defined here, in one
 * registry per server (tests run several servers in one process). docs/server.md, "Metrics", lists them;
 * deploy/monitoring/ has the Grafana dashboard and alert rules built on them.
 */
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';

/** A gauge whose value is read when scraped (connected clients, DB size, queue depth). */
export function scrapeGauge(registry: Registry, name: string, help: string, read: () => number): Gauge {
  return new Gauge({
    name,
    help,
    registers: [registry],
    collect() {
      this.set(read());
    },
  });
}

/** What the scrape-time gauges read; create-server.ts points them at the running parts. */
export interface MetricSources {
  devicesConnected: () => number;
  ingestQueueDepth: () => number;
  dbSizeBytes: () => number;
  dataDirFreeBytes: () => number;
  dataDirSizeBytes: () => number;
  /** The server certificate's notAfter (ms), or 0 when none is known. */
  tlsNotAfterMs: () => number;
}

/** The metrics the server keeps. */
export function createServerMetrics() {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const registers = [registry];
  const sources: MetricSources = {
    devicesConnected: () => 0,
    ingestQueueDepth: () => 0,
    dbSizeBytes: () => 0,
    dataDirFreeBytes: () => 0,
    dataDirSizeBytes: () => 0,
    tlsNotAfterMs: () => 0,
  };
  scrapeGauge(registry, 'fleet_devices_connected', 'Devices connected to the broker now', () => sources.devicesConnected());
  scrapeGauge(registry, 'fleet_ingest_queue_depth', 'Samples waiting for a group commit', () => sources.ingestQueueDepth());
  scrapeGauge(registry, 'fleet_db_size_bytes', 'SQLite database file size plus its WAL', () => sources.dbSizeBytes());
  scrapeGauge(registry, 'fleet_data_dir_free_bytes', 'Bytes free for the server on the file system of DATA_DIR', () =>
    sources.dataDirFreeBytes(),
  );
  scrapeGauge(registry, 'fleet_data_dir_filesystem_size_bytes', 'Size of the file system of DATA_DIR', () =>
    sources.dataDirSizeBytes(),
  );
  scrapeGauge(
    registry,
    'fleet_tls_certificate_expiry_timestamp_seconds',
    'When the server certificate in use expires (Unix time)',
    () => sources.tlsNotAfterMs() / 1000,
  );
  return {
    registry,
    sources,
    messagesIn: new Counter({
      name: 'fleet_mqtt_messages_in_total',
      help: 'MQTT messages received from devices, by topic kind',
      labelNames: ['kind'],
      registers,
    }),
    badPayloads: new Counter({
      name: 'fleet_mqtt_bad_payloads_total',
      help: 'Device payloads dropped as invalid, by topic kind and reason',
      labelNames: ['kind', 'reason'],
      registers,
    }),
    refused: new Counter({
      name: 'fleet_mqtt_refused_total',
      help: 'Connections, publishes and subscriptions refused, by what',
      labelNames: ['what'],
      registers,
    }),
    throttled: new Counter({
      name: 'fleet_mqtt_throttled_total',
      help: 'Times the broker stopped reading a device that had too many publishes waiting for their commit or PUBACKs',
      registers,
    }),
    dbErrors: new Counter({
      name: 'fleet_db_errors_total',
      help: 'Database operations that failed, by operation and SQLite code',
      labelNames: ['op', 'code'],
      registers,
    }),
    ingestLatency: new Histogram({
      name: 'fleet_ingest_latency_seconds',
      help: 'From a device publish read by the broker to its write committed (when its PUBACK may go out)',
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    }),
    ingestBatchSamples: new Histogram({
      name: 'fleet_ingest_batch_samples',
      help: 'Health samples per group-commit transaction',
      buckets: [1, 10, 50, 100, 250, 500, 1000, 2500, 5000],
      registers,
    }),
    ingestCommitSeconds: new Histogram({
      name: 'fleet_ingest_commit_seconds',
      help: 'Time from the start of a group-commit transaction until it is durable (written, committed, fsynced)',
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1],
      registers,
    }),
    checkpointHolds: new Histogram({
      name: 'fleet_ingest_checkpoint_hold_seconds',
      help: 'How long the group commit held its batches for the checkpoint that lets the WAL restart; complete: it did',
      labelNames: ['complete'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25],
      registers,
    }),
    samplesCommitted: new Counter({
      name: 'fleet_ingest_samples_committed_total',
      help: 'Health samples committed (duplicates included)',
      registers,
    }),
    loginPasswordChecks: new Counter({
      name: 'fleet_login_password_checks_total',
      help: 'Login attempts admitted by the limiter, so a password hash was computed',
      registers,
    }),
    loginRefused: new Counter({
      name: 'fleet_login_refused_total',
      help: 'Login attempts refused by the limiter before any hashing, by the limit that refused (user, address, global)',
      labelNames: ['reason'],
      registers,
    }),
    backupLastSuccess: new Gauge({
      name: 'fleet_backup_last_success_timestamp_seconds',
      help: 'When the last backup that passed its checks finished (Unix time); 0 = none yet',
      registers,
    }),
    backupLastDuration: new Gauge({
      name: 'fleet_backup_last_duration_seconds',
      help: 'How long the last backup took, checks included (successful or not)',
      registers,
    }),
    backupLastBytes: new Gauge({
      name: 'fleet_backup_last_size_bytes',
      help: 'Bytes written by the last successful backup (content hard-linked from the previous one not counted)',
      registers,
    }),
    backupFailures: new Counter({
      name: 'fleet_backup_failures_total',
      help: 'Backups that failed or did not pass their checks',
      registers,
    }),
  };
}
export type ServerMetrics = ReturnType<typeof createServerMetrics>;

/** The text a scrape gets, and its content type. */
export async function renderMetrics(metrics: ServerMetrics): Promise<{ text: string; contentType: string }> {
  return { text: await metrics.registry.metrics(), contentType: metrics.registry.contentType };
}
