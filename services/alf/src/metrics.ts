/**
 * ALF's metrics. Per-event counts are plain numbers on the hot path and reach Prometheus at scrape
 * time (`collect`), so no label hashing happens per event; per-request and per-batch metrics use
 * prom-client directly. The service label is bounded (see ServiceRegistry: beyond maxLabels
 * services share `other`).
 */
import type { MetricsRegistry } from '@fleet/chassis';
import { LEVEL_COUNT, LEVELS } from './levels.js';
import { DROP_REASONS, type ServiceRegistry, type ServiceState } from './services.js';
import type { Counter, Gauge, Histogram } from './types.js';

/** End-to-end latency buckets, seconds. */
export const LATENCY_BUCKETS = [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 1800];
const BATCH_EVENT_BUCKETS = [1, 10, 50, 100, 250, 500, 1000, 2500, 5000];
const BATCH_BYTE_BUCKETS = [1024, 16_384, 65_536, 262_144, 524_288, 1_048_576, 4_194_304, 16_777_216];

/**
 * A histogram observed in bulk on the hot path (a bucket increment, no label hashing) and exposed
 * to the prom-client registry as a regular histogram.
 */
export class BulkHistogram {
  readonly type = 'histogram';
  readonly aggregator = 'sum';
  readonly counts: Float64Array;
  sum = 0;
  count = 0;

  constructor(
    readonly name: string,
    readonly help: string,
    readonly buckets: readonly number[],
  ) {
    this.counts = new Float64Array(buckets.length + 1);
  }

  observe(value: number): void {
    const b = this.buckets;
    let i = 0;
    while (i < b.length && value > b[i]!) i++;
    this.counts[i]! += 1;
    this.sum += value;
    this.count++;
  }

  /** Value at quantile q (0..1), by linear interpolation inside the bucket (for tests and the bench). */
  quantile(q: number): number {
    if (this.count === 0) return Number.NaN;
    const target = q * this.count;
    let seen = 0;
    for (let i = 0; i < this.counts.length; i++) {
      const c = this.counts[i]!;
      if (seen + c >= target && c > 0) {
        const lo = i === 0 ? 0 : this.buckets[i - 1]!;
        const hi = i < this.buckets.length ? this.buckets[i]! : lo * 2;
        return lo + ((hi - lo) * (target - seen)) / c;
      }
      seen += c;
    }
    return this.buckets[this.buckets.length - 1]!;
  }

  reset(): void {
    this.counts.fill(0);
    this.sum = 0;
    this.count = 0;
  }

  get(): {
    name: string;
    help: string;
    type: string;
    aggregator: string;
    values: Array<{ labels: Record<string, string | number>; value: number; metricName: string }>;
  } {
    const values: Array<{ labels: Record<string, string | number>; value: number; metricName: string }> = [];
    let cumulative = 0;
    for (let i = 0; i < this.buckets.length; i++) {
      cumulative += this.counts[i]!;
      values.push({ labels: { le: this.buckets[i]! }, value: cumulative, metricName: `${this.name}_bucket` });
    }
    cumulative += this.counts[this.buckets.length]!;
    values.push({ labels: { le: '+Inf' }, value: cumulative, metricName: `${this.name}_bucket` });
    values.push({ labels: {}, value: this.sum, metricName: `${this.name}_sum` });
    values.push({ labels: {}, value: this.count, metricName: `${this.name}_count` });
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values };
  }
}

/** Counts keyed by one label value, published as deltas at scrape time. */
class KeyedCounts {
  readonly counts = new Map<string, number>();
  readonly #published = new Map<string, number>();

  add(key: string, n = 1): void {
    this.counts.set(key, (this.counts.get(key) ?? 0) + n);
  }

  get(key: string): number {
    return this.counts.get(key) ?? 0;
  }

  total(): number {
    let t = 0;
    for (const v of this.counts.values()) t += v;
    return t;
  }

  publish(inc: (key: string, delta: number) => void): void {
    for (const [key, value] of this.counts) {
      const delta = value - (this.#published.get(key) ?? 0);
      if (delta > 0) {
        inc(key, delta);
        this.#published.set(key, value);
      }
    }
  }
}

/** What ALF counts. Hot-path fields are plain numbers. */
export class AlfMetrics {
  readonly consumed = new KeyedCounts();
  delivered = 0;
  timestampFallbacks = 0;
  readonly deadLettered = new KeyedCounts();
  readonly retried = new KeyedCounts();
  possibleDuplicates = 0;
  incorrectIndex = 0;
  inFlightBytes = 0;
  inFlightEvents = 0;
  readonly latency = new BulkHistogram(
    'alf_end_to_end_latency_seconds',
    'From the event timestamp to its acceptance by HEC (acknowledgement when acks are on)',
    LATENCY_BUCKETS,
  );
  #hecDuration: Histogram | undefined;
  #batchEvents: Histogram | undefined;
  #batchBytes: Histogram | undefined;
  #endpointUp: Gauge | undefined;
  #stalled: Gauge | undefined;
  #reloads: Counter | undefined;
  #dropsTotal = 0;

  /** Publish into the service's registry. */
  register(
    metrics: MetricsRegistry,
    services: ServiceRegistry,
    extra: { state?: () => Record<string, number> } = {},
  ): void {
    const self = this;
    let publishedDelivered = 0;
    let publishedFallbacks = 0;
    let publishedDuplicates = 0;
    let publishedIncorrect = 0;
    metrics.counter({
      name: 'alf_events_consumed_total',
      help: 'Records read from Kafka',
      labelNames: ['topic'] as const,
      collect() {
        self.consumed.publish((topic, d) => this.inc({ topic }, d));
      },
    });
    metrics.counter({
      name: 'alf_events_delivered_total',
      help: 'Events accepted by HEC (acknowledged, when acks are on)',
      collect() {
        const d = self.delivered - publishedDelivered;
        if (d > 0) this.inc(d);
        publishedDelivered += d;
      },
    });
    const dropped = metrics.counter({
      name: 'alf_events_dropped_total',
      help: 'Events dropped on purpose: flags (flag_level, flag_service), drop routes, rate limits, the global budget',
      labelNames: ['reason', 'service', 'level'] as const,
      collect() {
        for (const state of services.all()) self.#publishDrops(state, this);
        self.#publishDrops(services.overflow, this);
      },
    });
    services.onEvict = (state) => {
      self.#publishDrops(state, dropped);
      for (const v of state.dropCounts) self.#dropsTotal += v;
    };
    metrics.counter({
      name: 'alf_events_dead_lettered_total',
      help: 'Records written to the dead-letter topic, by reason',
      labelNames: ['reason'] as const,
      collect() {
        self.deadLettered.publish((reason, d) => this.inc({ reason }, d));
      },
    });
    metrics.counter({
      name: 'alf_events_retried_total',
      help: 'Events sent to HEC again, by reason (busy, throttled, server_error, timeout, connection, ack_timeout, partial, split)',
      labelNames: ['reason'] as const,
      collect() {
        self.retried.publish((reason, d) => this.inc({ reason }, d));
      },
    });
    metrics.counter({
      name: 'alf_events_possible_duplicates_total',
      help: 'Events resent after an answer was lost (timeout, reset, ack timeout): HEC may hold them twice',
      collect() {
        const d = self.possibleDuplicates - publishedDuplicates;
        if (d > 0) this.inc(d);
        publishedDuplicates += d;
      },
    });
    metrics.counter({
      name: 'alf_hec_incorrect_index_total',
      help: 'Events HEC refused with code 7 (incorrect index): a routing rule names an index the token may not use. Alert on it.',
      collect() {
        const d = self.incorrectIndex - publishedIncorrect;
        if (d > 0) this.inc(d);
        publishedIncorrect += d;
      },
    });
    metrics.counter({
      name: 'alf_timestamp_fallbacks_total',
      help: 'Records without a readable timestamp (the Kafka record time was used)',
      collect() {
        const d = self.timestampFallbacks - publishedFallbacks;
        if (d > 0) this.inc(d);
        publishedFallbacks += d;
      },
    });
    metrics.gauge({
      name: 'alf_in_flight_bytes',
      help: 'Record bytes taken from Kafka and not yet delivered or dead-lettered',
      collect() {
        this.set(self.inFlightBytes);
      },
    });
    metrics.gauge({
      name: 'alf_in_flight_events',
      help: 'Events taken from Kafka and not yet delivered or dead-lettered',
      collect() {
        this.set(self.inFlightEvents);
      },
    });
    metrics.gauge({
      name: 'alf_services_tracked',
      help: 'Originating services tracked (for limits and the top view)',
      collect() {
        this.set(services.size);
      },
    });
    if (extra.state) {
      const read = extra.state;
      metrics.gauge({
        name: 'alf_pipeline_state',
        help: 'Delivery internals: batches queued, sending, pending (all stages), awaiting acks; dead-letter records pending',
        labelNames: ['what'] as const,
        collect() {
          for (const [what, v] of Object.entries(read())) this.set({ what }, v);
        },
      });
    }
    if (!metrics.registry.getSingleMetric(this.latency.name))
      metrics.registry.registerMetric(
        this.latency as unknown as Parameters<typeof metrics.registry.registerMetric>[0],
      );
    this.#hecDuration = metrics.histogram({
      name: 'alf_hec_request_duration_seconds',
      help: 'HEC requests by endpoint and answer (HEC code, http_<status>, timeout, connection)',
      labelNames: ['endpoint', 'code'] as const,
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    });
    this.#batchEvents = metrics.histogram({
      name: 'alf_batch_events',
      help: 'Events per HEC batch',
      buckets: BATCH_EVENT_BUCKETS,
    });
    this.#batchBytes = metrics.histogram({
      name: 'alf_batch_bytes',
      help: 'Serialised (uncompressed) bytes per HEC batch',
      buckets: BATCH_BYTE_BUCKETS,
    });
    this.#endpointUp = metrics.gauge({
      name: 'alf_hec_endpoint_up',
      help: 'HEC endpoint in rotation (1) or ejected after failures (0)',
      labelNames: ['endpoint'] as const,
    });
    this.#stalled = metrics.gauge({
      name: 'alf_hec_stalled',
      help: 'Sending stopped because HEC refuses ALF (token or configuration problem): 1 with the reason',
      labelNames: ['reason'] as const,
    });
    this.#reloads = metrics.counter({
      name: 'alf_config_reloads_total',
      help: 'Rules and token reloads, by result',
      labelNames: ['result'] as const,
    });
  }

  #publishDrops(state: ServiceState, counter: Counter): void {
    const counts = state.dropCounts;
    const published = state.dropPublished;
    for (let i = 0; i < counts.length; i++) {
      const d = counts[i]! - published[i]!;
      if (d <= 0) continue;
      published[i] = counts[i]!;
      counter.inc(
        {
          reason: DROP_REASONS[Math.floor(i / LEVEL_COUNT)]!,
          service: state.label,
          level: LEVELS[i % LEVEL_COUNT]!,
        },
        d,
      );
    }
  }

  hecRequest(endpoint: string, code: string, seconds: number): void {
    this.#hecDuration?.observe({ endpoint, code }, seconds);
  }

  batch(events: number, bytes: number): void {
    this.#batchEvents?.observe(events);
    this.#batchBytes?.observe(bytes);
  }

  endpoint(label: string, up: boolean): void {
    this.#endpointUp?.set({ endpoint: label }, up ? 1 : 0);
  }

  stalled(reason: string | null): void {
    this.#stalled?.reset();
    if (reason) this.#stalled?.set({ reason }, 1);
  }

  reload(result: 'ok' | 'rejected'): void {
    this.#reloads?.inc({ result });
  }

  /** Dropped events counted so far (all services). */
  droppedTotal(services: ServiceRegistry): number {
    let total = this.#dropsTotal;
    for (const state of [...services.all(), services.overflow]) for (const v of state.dropCounts) total += v;
    return total;
  }
}
