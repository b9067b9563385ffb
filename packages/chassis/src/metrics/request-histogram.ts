import type { Metric, Registry } from 'prom-client';
import { ByRouteMethodStatus } from '../response/by-route.js';
import { LATENCY_BUCKETS } from './registry.js';

type Labels = { method: string; route: string; status_code: string };

interface Series {
  readonly labels: Labels;
  /** Non-cumulative counts per bucket; the last one is +Inf. */
  readonly counts: Float64Array;
  sum: number;
  count: number;
}

interface Value {
  labels: Record<string, string | number>;
  value: number;
  metricName: string;
}

/**
 * `http_server_request_duration_seconds{method,route,status_code}`, built for one observation per
 * request: series are found through nested maps keyed by the (interned) route template, method
 * and numeric status, and an observation is three array/number increments. prom-client's own
 * `Histogram.observe` validates and hashes the labels and looks buckets up by float keys on every
 * call, which costs more than the rest of the metrics concern put together.
 *
 * Exposed through prom-client's registry like any other metric (same text format as a
 * prom-client Histogram with these labels).
 */
export class RequestDurationHistogram {
  readonly name: string;
  readonly help: string;
  readonly type = 'histogram';
  readonly aggregator = 'sum';
  readonly labelNames = ['method', 'route', 'status_code'] as const;
  readonly #bounds: readonly number[];
  readonly #series = new ByRouteMethodStatus<Series>();

  constructor(options: { name: string; help: string; buckets?: readonly number[]; registry: Registry }) {
    this.name = options.name;
    this.help = options.help;
    this.#bounds = [...(options.buckets ?? LATENCY_BUCKETS)].sort((a, b) => a - b);
    options.registry.registerMetric(this as unknown as Metric);
  }

  /** Record one request. */
  observe(method: string, route: string, status: number, seconds: number): void {
    let series = this.#series.get(route, method, status);
    if (series === undefined) {
      series = {
        labels: { method, route, status_code: String(status) },
        counts: new Float64Array(this.#bounds.length + 1),
        sum: 0,
        count: 0,
      };
      this.#series.set(route, method, status, series);
    }
    const bounds = this.#bounds;
    let i = 0;
    while (i < bounds.length && seconds > (bounds[i] as number)) i++;
    series.counts[i] = (series.counts[i] as number) + 1;
    series.sum += seconds;
    series.count++;
  }

  /** prom-client's metric interface: the samples, as a prom-client Histogram reports them. */
  async get(): Promise<{ name: string; help: string; type: string; values: Value[]; aggregator: string }> {
    const values: Value[] = [];
    const bucketName = `${this.name}_bucket`;
    for (const series of this.#series.values()) {
      let cumulative = 0;
      for (let i = 0; i < series.counts.length; i++) {
        cumulative += series.counts[i] as number;
        const le = i < this.#bounds.length ? (this.#bounds[i] as number) : '+Inf';
        values.push({ labels: { le, ...series.labels }, value: cumulative, metricName: bucketName });
      }
      values.push({ labels: { ...series.labels }, value: series.sum, metricName: `${this.name}_sum` });
      values.push({ labels: { ...series.labels }, value: series.count, metricName: `${this.name}_count` });
    }
    return { name: this.name, help: this.help, type: this.type, values, aggregator: this.aggregator };
  }

  reset(): void {
    this.#series.clear();
  }
}
