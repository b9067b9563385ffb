import type { MetricsRegistry } from '@fleet/chassis';

export interface InstanceSnapshot {
  id: string;
  plugin: string;
  newestEventAt: Date | null;
  leaseHolder: string | null;
  leaseExpiresAt: Date | null;
  circuitOpenUntil: Date | null;
  consecutiveFailures: number;
}

/** The runner's metrics. Gauges about every instance read the latest database snapshot at scrape time. */
export class RunnerMetrics {
  readonly runs;
  readonly events;
  readonly pages;
  readonly errors;
  readonly duration;
  readonly leaseHeld;
  readonly httpRequests;
  readonly httpRetries;
  readonly duplicates;
  snapshot: InstanceSnapshot[] = [];
  /** Reloads `snapshot` (set by the runner); scrapes call it when the snapshot is older than a second. */
  refresh: (() => Promise<void>) | undefined;
  #refreshedAt = 0;
  #refreshing: Promise<void> | undefined;

  /** A fresh enough snapshot for a scrape; a failing reload keeps the previous one. */
  fresh(): Promise<void> {
    if (!this.refresh || Date.now() - this.#refreshedAt < 1000) return Promise.resolve();
    this.#refreshing ??= this.refresh()
      .catch(() => {})
      .finally(() => {
        this.#refreshedAt = Date.now();
        this.#refreshing = undefined;
      });
    return this.#refreshing;
  }

  /** The runner reloaded the snapshot itself. */
  markRefreshed(): void {
    this.#refreshedAt = Date.now();
  }

  constructor(metrics: MetricsRegistry, replica: string) {
    this.runs = metrics.counter({
      name: 'plugin_runner_runs_total',
      help: 'Runs by plugin, instance and outcome (success, failed, rate_limited, lease_lost, paused, aborted)',
      labelNames: ['plugin', 'instance', 'outcome'] as const,
    });
    this.events = metrics.counter({
      name: 'plugin_runner_events_produced_total',
      help: 'Events produced to Kafka',
      labelNames: ['plugin', 'instance'] as const,
    });
    this.pages = metrics.counter({
      name: 'plugin_runner_pages_total',
      help: 'Pages delivered and committed',
      labelNames: ['plugin', 'instance'] as const,
    });
    this.errors = metrics.counter({
      name: 'plugin_runner_errors_total',
      help: 'Failed runs by kind (config, plugin, malformed_page, upstream, network, rate_limited, produce, lease_lost, timeout, store)',
      labelNames: ['plugin', 'instance', 'kind'] as const,
    });
    this.duration = metrics.histogram({
      name: 'plugin_runner_run_duration_seconds',
      help: 'Run duration',
      labelNames: ['plugin', 'outcome'] as const,
      buckets: [0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300, 900],
    });
    this.leaseHeld = metrics.gauge({
      name: 'plugin_runner_lease_held',
      help: 'Instances whose lease this replica holds (1) or not (0)',
      labelNames: ['plugin', 'instance'] as const,
    });
    this.httpRequests = metrics.counter({
      name: 'plugin_runner_http_requests_total',
      help: 'Upstream HTTP responses by plugin and status',
      labelNames: ['plugin', 'status'] as const,
    });
    this.httpRetries = metrics.counter({
      name: 'plugin_runner_http_retries_total',
      help: 'Upstream HTTP waits before another attempt, by reason (network, server, rate_limit)',
      labelNames: ['plugin', 'reason'] as const,
    });
    this.duplicates = metrics.counter({
      name: 'plugin_runner_duplicate_events_dropped_total',
      help: 'Events dropped because their id appeared earlier in the same page',
      labelNames: ['plugin', 'instance'] as const,
    });
    const self = this;
    metrics.gauge({
      name: 'plugin_runner_cursor_lag_seconds',
      help: 'Now minus the newest delivered event time, per instance',
      labelNames: ['plugin', 'instance'] as const,
      async collect() {
        await self.fresh();
        this.reset();
        const now = Date.now();
        for (const s of self.snapshot)
          if (s.newestEventAt)
            this.set(
              { plugin: s.plugin, instance: s.id },
              Math.max(0, (now - s.newestEventAt.getTime()) / 1000),
            );
      },
    });
    metrics.gauge({
      name: 'plugin_runner_lease_holder',
      help: 'Current lease holder of each instance with a live lease (value 1)',
      labelNames: ['plugin', 'instance', 'holder'] as const,
      async collect() {
        await self.fresh();
        this.reset();
        const now = Date.now();
        for (const s of self.snapshot)
          if (s.leaseHolder && s.leaseExpiresAt && s.leaseExpiresAt.getTime() > now)
            this.set({ plugin: s.plugin, instance: s.id, holder: s.leaseHolder }, 1);
      },
    });
    metrics.gauge({
      name: 'plugin_runner_circuit_open',
      help: 'Instances paused by an open circuit (1) after repeated failures',
      labelNames: ['plugin', 'instance'] as const,
      async collect() {
        await self.fresh();
        this.reset();
        const now = Date.now();
        for (const s of self.snapshot)
          this.set(
            { plugin: s.plugin, instance: s.id },
            s.circuitOpenUntil && s.circuitOpenUntil.getTime() > now ? 1 : 0,
          );
      },
    });
    metrics.gauge({
      name: 'plugin_runner_consecutive_failures',
      help: 'Failed runs in a row per instance',
      labelNames: ['plugin', 'instance'] as const,
      async collect() {
        await self.fresh();
        this.reset();
        for (const s of self.snapshot) this.set({ plugin: s.plugin, instance: s.id }, s.consecutiveFailures);
      },
    });
    metrics
      .gauge({
        name: 'plugin_runner_replica_info',
        help: 'This replica',
        labelNames: ['replica'] as const,
      })
      .set({ replica }, 1);
  }
}
