import type {
  CounterConfiguration,
  GaugeConfiguration,
  HistogramConfiguration,
  SummaryConfiguration,
} from 'prom-client';
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry, Summary } from 'prom-client';

/** Default latency buckets (seconds): sub-millisecond to 10 s. */
export const LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/**
 * A service's metrics: one prom-client registry per service (never the global one, so several
 * services can live in one process, e.g. in tests), with typed factories that reuse a metric
 * registered twice under the same name.
 */
export class MetricsRegistry {
  readonly registry = new Registry();

  constructor(defaultLabels: Record<string, string> = {}, collectDefaults = true) {
    this.registry.setDefaultLabels(defaultLabels);
    if (collectDefaults) collectDefaultMetrics({ register: this.registry });
  }

  counter<L extends string = string>(config: Omit<CounterConfiguration<L>, 'registers'>): Counter<L> {
    return this.#existing(config.name) ?? new Counter<L>({ ...config, registers: [this.registry] });
  }

  gauge<L extends string = string>(config: Omit<GaugeConfiguration<L>, 'registers'>): Gauge<L> {
    return this.#existing(config.name) ?? new Gauge<L>({ ...config, registers: [this.registry] });
  }

  histogram<L extends string = string>(config: Omit<HistogramConfiguration<L>, 'registers'>): Histogram<L> {
    return (
      this.#existing(config.name) ??
      new Histogram<L>({ buckets: LATENCY_BUCKETS, ...config, registers: [this.registry] })
    );
  }

  summary<L extends string = string>(config: Omit<SummaryConfiguration<L>, 'registers'>): Summary<L> {
    return this.#existing(config.name) ?? new Summary<L>({ ...config, registers: [this.registry] });
  }

  /** Prometheus text exposition of every metric. */
  expose(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  #existing<M>(name: string): M | undefined {
    return this.registry.getSingleMetric(name) as M | undefined;
  }
}
