import type { Counter, Gauge, Histogram } from 'prom-client';
import type { MetricsRegistry } from '../metrics/registry.js';

/** The Kafka metrics, registered on the service's registry. */
export class KafkaMetrics {
  readonly consumed: Counter<'topic'>;
  readonly produced: Counter<'topic'>;
  readonly failed: Counter<'topic'>;
  readonly deadLettered: Counter<'topic'>;
  readonly handlerDuration: Histogram<'topic'>;
  readonly lag: Gauge<'topic' | 'partition' | 'group'>;
  readonly rebalances: Counter<'group'>;
  readonly connectionState: Gauge<'client'>;

  /** Called on each scrape before the lag gauge is read (the module refreshes high watermarks). */
  onLagCollect: (() => Promise<void>) | undefined;

  constructor(metrics: MetricsRegistry) {
    this.consumed = metrics.counter({
      name: 'kafka_messages_consumed_total',
      help: 'Messages handled successfully',
      labelNames: ['topic'],
    });
    this.produced = metrics.counter({
      name: 'kafka_messages_produced_total',
      help: 'Messages produced (acknowledged by the brokers)',
      labelNames: ['topic'],
    });
    this.failed = metrics.counter({
      name: 'kafka_messages_failed_total',
      help: 'Failed handler attempts, retries included (per message)',
      labelNames: ['topic'],
    });
    this.deadLettered = metrics.counter({
      name: 'kafka_messages_dead_lettered_total',
      help: 'Messages sent to a dead-letter topic, by source topic',
      labelNames: ['topic'],
    });
    this.handlerDuration = metrics.histogram({
      name: 'kafka_handler_duration_seconds',
      help: 'Duration of one handler attempt',
      labelNames: ['topic'],
    });
    this.lag = metrics.gauge({
      name: 'kafka_consumer_lag',
      help: 'High watermark minus the first unfinished offset, per assigned partition',
      labelNames: ['topic', 'partition', 'group'],
      collect: async () => {
        await this.onLagCollect?.();
      },
    });
    this.rebalances = metrics.counter({
      name: 'kafka_rebalances_total',
      help: 'Group joins of this service (each rebalance, the first join included)',
      labelNames: ['group'],
    });
    this.connectionState = metrics.gauge({
      name: 'kafka_connection_state',
      help: 'Kafka client connected (1) or not (0)',
      labelNames: ['client'],
    });
  }
}
