import type { Admin, Kafka } from 'kafkajs';
import type { Logger } from 'pino';
import type { HealthRegistry } from '../health/registry.js';
import type { MetricsRegistry } from '../metrics/registry.js';
import { withTimeout } from '../resilience/timeout.js';
import { brokerList, createKafkaClient, validateKafkaConfig } from './client.js';
import type { KafkaConfig } from './config.js';
import { KafkaConsumer } from './consumer.js';
import { KafkaMetrics } from './metrics.js';
import { KafkaProducer } from './producer.js';
import {
  type ConsumeOptions,
  type ConsumerHandle,
  type KafkaService,
  KafkaUnavailableError,
  type ProducedOffset,
  type ProduceMessage,
  type ProducerHandle,
} from './types.js';

export interface KafkaModuleOptions {
  config: KafkaConfig;
  serviceName: string;
  log: Logger;
  metrics: MetricsRegistry;
  health: HealthRegistry;
}

/** How long one cluster probe result is reused by readiness checks. */
const PROBE_TTL_MS = 1000;
/** Longest a scrape waits for fresh high watermarks. */
const LAG_REFRESH_MS = 1000;

/**
 * `service.kafka`: owns the kafkajs client, the producer and the consumers of one service, their
 * readiness checks (`kafka:producer`, `kafka:consumer:<groupId>`), metrics and shutdown order.
 */
export class KafkaModule implements KafkaService {
  readonly configured: boolean;
  readonly #options: KafkaModuleOptions;
  readonly #log: Logger;
  readonly #kafka: Kafka | undefined;
  readonly #metrics: KafkaMetrics | undefined;
  readonly #consumers: KafkaConsumer[] = [];
  #producer: KafkaProducer | undefined;
  #admin: Admin | undefined;
  #adminConnecting: Promise<Admin> | undefined;
  #probe: { at: number; error?: Error } | undefined;
  #probing: Promise<void> | undefined;
  #stoppingConsumers: Promise<void> | undefined;
  #closed: Promise<void> | undefined;
  /** Set once the consumers are down and the producer goes: no more sends. */
  #producerClosing = false;
  readonly #checkNames = new Set<string>();

  /** Throws ConfigError when the kafka config is inconsistent (only checked when brokers are set). */
  constructor(options: KafkaModuleOptions) {
    this.#options = options;
    this.#log = options.log.child({ component: 'kafka' });
    this.configured = brokerList(options.config).length > 0;
    if (!this.configured) return;
    validateKafkaConfig(options.config);
    this.#kafka = createKafkaClient(
      options.config,
      options.config.clientId || options.serviceName,
      options.log,
    );
    this.#metrics = new KafkaMetrics(options.metrics);
    this.#metrics.onLagCollect = () => this.#refreshLag();
  }

  get consumers(): readonly ConsumerHandle[] {
    return this.#consumers;
  }

  producer(): ProducerHandle {
    return this.#producerImpl();
  }

  produce(topic: string, messages: ProduceMessage | ProduceMessage[]): Promise<ProducedOffset[]> {
    try {
      return this.#producerImpl().send(topic, messages);
    } catch (err) {
      return Promise.reject(err);
    }
  }

  consume(options: ConsumeOptions): ConsumerHandle {
    const kafka = this.#usable();
    if (this.#stoppingConsumers) throw new KafkaUnavailableError('the service is stopping: no new consumers');
    const consumer = new KafkaConsumer(
      {
        kafka,
        config: this.#options.config,
        serviceName: this.#options.serviceName,
        log: this.#options.log,
        metrics: this.#metrics!,
        deadLetter: (topic, records) => this.#producerImpl().sendRaw(topic, records),
        onStateChange: () => this.#updateConnectionMetrics(),
      },
      options,
    );
    this.#consumers.push(consumer);
    let name = `kafka:${consumer.clientLabel}`;
    for (let n = 2; this.#checkNames.has(name); n++) name = `kafka:${consumer.clientLabel}#${n}`;
    this.#checkNames.add(name);
    this.#options.health.addCheck(name, async () => {
      if (!consumer.connected) {
        const cause = consumer.lastError ? `: ${consumer.lastError.message}` : '';
        throw new Error(`consumer ${consumer.state}${cause}`);
      }
      await this.#probeCluster();
      return {
        state: consumer.state,
        assigned: consumer.assignments().length,
        paused: consumer.paused().length,
      };
    });
    // The dead-letter path must not discover a connection problem only when a message fails
    this.#producerImpl();
    this.#updateConnectionMetrics();
    consumer.start();
    return consumer;
  }

  /** Shutdown, first step: stop every consumer (drain, commit, leave, disconnect). */
  stopConsumers(): Promise<void> {
    this.#stoppingConsumers ??= Promise.allSettled(this.#consumers.map((c) => c.stop())).then(() => {});
    return this.#stoppingConsumers;
  }

  /** Shutdown, last step: consumers (if not yet), then the producer is flushed and disconnected. */
  close(): Promise<void> {
    this.#closed ??= (async () => {
      await this.stopConsumers();
      this.#producerClosing = true;
      await this.#producer?.close();
      if (this.#admin) await this.#admin.disconnect().catch(() => {});
      this.#updateConnectionMetrics();
    })();
    return this.#closed;
  }

  #usable(): Kafka {
    if (!this.#kafka)
      throw new KafkaUnavailableError('Kafka is not configured: set kafka.brokers (KAFKA_BROKERS)');
    if (this.#producerClosing) throw new KafkaUnavailableError('the Kafka module is closed');
    return this.#kafka;
  }

  #producerImpl(): KafkaProducer {
    if (this.#producer) {
      if (this.#producerClosing) throw new KafkaUnavailableError('the Kafka module is closed');
      return this.#producer;
    }
    const kafka = this.#usable();
    const producer = new KafkaProducer({
      kafka,
      config: this.#options.config,
      log: this.#log,
      metrics: this.#metrics!,
      onStateChange: () => this.#updateConnectionMetrics(),
    });
    this.#producer = producer;
    this.#options.health.addCheck('kafka:producer', async () => {
      if (!producer.connected) {
        const cause = producer.lastError ? `: ${producer.lastError.message}` : '';
        throw new Error(`producer not connected${cause}`);
      }
      await this.#probeCluster();
    });
    this.#updateConnectionMetrics();
    return producer;
  }

  /**
   * Is the cluster answering? A metadata request through a dedicated admin client that does not
   * retry; one result serves every check for a second.
   */
  #probeCluster(): Promise<void> {
    const last = this.#probe;
    if (last && Date.now() - last.at < PROBE_TTL_MS)
      return last.error ? Promise.reject(last.error) : Promise.resolve();
    this.#probing ??= (async () => {
      try {
        const admin = await this.#connectedAdmin();
        await admin.describeCluster();
        this.#probe = { at: Date.now() };
      } catch (err) {
        this.#probe = {
          at: Date.now(),
          error: new Error(`Kafka cluster unreachable: ${(err as Error).message}`),
        };
        throw this.#probe.error;
      } finally {
        this.#probing = undefined;
        this.#updateConnectionMetrics();
      }
    })();
    return this.#probing;
  }

  /**
   * Before the lag gauge is scraped, fetch the high watermarks of the assigned topics: lag from
   * fetched batches alone would freeze while a partition is paused. Bounded by LAG_REFRESH_MS; on
   * failure the last values stay.
   */
  async #refreshLag(): Promise<void> {
    const consumers = this.#consumers.filter((c) => c.connected);
    const topics = new Set(consumers.flatMap((c) => c.assignments().map((tp) => tp.topic)));
    if (topics.size === 0 || this.#probe?.error) return;
    try {
      const fetched = await withTimeout(LAG_REFRESH_MS, async () => {
        const admin = await this.#connectedAdmin();
        return Promise.all(
          [...topics].map(async (topic) => ({ topic, offsets: await admin.fetchTopicOffsets(topic) })),
        );
      });
      for (const { topic, offsets } of fetched) {
        const watermarks = offsets.map((o) => ({ partition: o.partition, high: Number(o.high) }));
        for (const c of consumers) c.updateHighWatermarks(topic, watermarks);
      }
    } catch (err) {
      this.#log.debug({ err: { message: (err as Error).message } }, 'kafka lag refresh failed');
    }
  }

  /** The admin client of probes and lag refreshes: no retries, so an outage shows at once. */
  #connectedAdmin(): Promise<Admin> {
    this.#adminConnecting ??= (async () => {
      this.#admin ??= this.#kafka!.admin({ retry: { retries: 0 } });
      await this.#admin.connect();
      return this.#admin;
    })().catch((err: unknown) => {
      this.#adminConnecting = undefined;
      throw err;
    });
    return this.#adminConnecting;
  }

  #updateConnectionMetrics(): void {
    const gauge = this.#metrics?.connectionState;
    if (!gauge) return;
    const reachable = !this.#probe?.error;
    if (this.#producer) gauge.set({ client: 'producer' }, this.#producer.connected && reachable ? 1 : 0);
    for (const c of this.#consumers) gauge.set({ client: c.clientLabel }, c.connected && reachable ? 1 : 0);
  }
}
