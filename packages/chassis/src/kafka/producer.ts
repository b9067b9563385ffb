import { type Context, context } from '@opentelemetry/api';
import type { CompressionTypes, Kafka, Message, Producer } from 'kafkajs';
import type { Logger } from 'pino';
import { backoffDelay, sleep } from '../resilience/retry.js';
import { clientRetry } from './client.js';
import type { KafkaConfig } from './config.js';
import { kafkajs } from './kafkajs.js';
import type { KafkaMetrics } from './metrics.js';
import { endSpan, errorMessage, injectHeaders, startProducerSpan } from './tracing.js';
import {
  KafkaUnavailableError,
  type ProducedOffset,
  type ProduceMessage,
  type ProducerHandle,
} from './types.js';

export interface ProducerDeps {
  kafka: Kafka;
  config: KafkaConfig;
  log: Logger;
  metrics: KafkaMetrics;
  onStateChange: () => void;
}

/**
 * The service's producer: idempotent (no duplicates from the client's own retries), acks from all
 * in-sync replicas, optional gzip. Connects in the background, retrying until it succeeds; a send
 * before the first connection waits for it (up to the request timeout).
 */
export class KafkaProducer implements ProducerHandle {
  readonly #deps: ProducerDeps;
  readonly #producer: Producer;
  readonly #compression: CompressionTypes;
  readonly #closing = new AbortController();
  readonly #inflight = new Set<Promise<unknown>>();
  readonly #connectedOnce: Promise<void>;
  #connected = false;
  #lastError: Error | undefined;

  constructor(deps: ProducerDeps) {
    this.#deps = deps;
    const { CompressionTypes, Partitioners } = kafkajs();
    this.#compression =
      deps.config.producer.compression === 'gzip' ? CompressionTypes.GZIP : CompressionTypes.None;
    this.#producer = deps.kafka.producer({
      idempotent: true,
      // kafkajs keeps sequence numbers right only with one request in flight per broker
      maxInFlightRequests: 1,
      // The idempotent producer refuses to run without retries
      retry: { ...clientRetry(deps.config), retries: Math.max(1, deps.config.clientRetry.retries) },
      createPartitioner: Partitioners.DefaultPartitioner,
    });
    this.#producer.on(this.#producer.events.DISCONNECT, () => this.#setConnected(false));
    this.#connectedOnce = this.#connectLoop();
  }

  get connected(): boolean {
    return this.#connected;
  }

  get lastError(): Error | undefined {
    return this.#lastError;
  }

  send(topic: string, messages: ProduceMessage | ProduceMessage[]): Promise<ProducedOffset[]> {
    const list = Array.isArray(messages) ? messages : [messages];
    return this.#send(topic, list.length, (ctx) =>
      list.map((m) => {
        const headers: Record<string, string | Buffer> = { ...m.headers };
        injectHeaders(ctx, headers);
        return {
          key: m.key ?? null,
          value: m.value,
          headers,
          ...(m.partition !== undefined ? { partition: m.partition } : {}),
          ...(m.timestamp !== undefined ? { timestamp: String(m.timestamp) } : {}),
        };
      }),
    );
  }

  /** Send records as they are (dead-lettering keeps the original headers, trace context included). */
  sendRaw(topic: string, messages: Message[]): Promise<ProducedOffset[]> {
    return this.#send(topic, messages.length, () => messages);
  }

  /** Wait for sends in flight, then disconnect. */
  async close(): Promise<void> {
    this.#closing.abort();
    await Promise.allSettled([...this.#inflight]);
    try {
      await this.#producer.disconnect();
    } catch (err) {
      this.#deps.log.warn({ err }, 'kafka producer disconnect failed');
    }
    this.#setConnected(false);
  }

  async #send(topic: string, count: number, build: (ctx: Context) => Message[]): Promise<ProducedOffset[]> {
    // the caller's context, taken before any await (with tracing's `request` propagation mode it
    // is only active synchronously, inside `context.with(request.traceContext(), ...)`)
    const parent = context.active();
    if (this.#closing.signal.aborted) throw new KafkaUnavailableError('the Kafka producer is closed');
    if (count === 0) return [];
    if (!this.#connected) await this.#waitConnected();
    const { span, ctx } = startProducerSpan(topic, count, parent);
    const sending = this.#producer.send({
      topic,
      messages: build(ctx),
      acks: -1,
      compression: this.#compression,
    });
    this.#inflight.add(sending);
    try {
      const written = await sending;
      this.#deps.metrics.produced.inc({ topic }, count);
      endSpan(span);
      return written.map((r) => ({
        topic: r.topicName,
        partition: r.partition,
        baseOffset: Number(r.baseOffset ?? r.offset ?? -1),
      }));
    } catch (err) {
      endSpan(span, err);
      throw err;
    } finally {
      this.#inflight.delete(sending);
    }
  }

  async #waitConnected(): Promise<void> {
    const timeoutMs = this.#deps.config.requestTimeoutMs;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        const cause = this.#lastError ? `: ${this.#lastError.message}` : '';
        reject(
          new KafkaUnavailableError(`the Kafka producer is not connected after ${timeoutMs} ms${cause}`),
        );
      }, timeoutMs);
    });
    try {
      await Promise.race([this.#connectedOnce, timeout]);
    } finally {
      clearTimeout(timer);
    }
    if (this.#closing.signal.aborted) throw new KafkaUnavailableError('the Kafka producer is closed');
  }

  async #connectLoop(): Promise<void> {
    const { clientRetry: retry } = this.#deps.config;
    for (let attempt = 1; !this.#closing.signal.aborted; attempt++) {
      try {
        await this.#producer.connect();
        if (this.#closing.signal.aborted) {
          await this.#producer.disconnect().catch(() => {});
          return;
        }
        this.#lastError = undefined;
        this.#setConnected(true);
        this.#deps.log.info('kafka producer connected');
        return;
      } catch (err) {
        this.#lastError = err as Error;
        const delay = Math.max(retry.initialMs, backoffDelay(attempt, retry.initialMs, retry.maxMs));
        this.#deps.log.warn(
          { err: { message: errorMessage(err) }, attempt, retry_in_ms: delay },
          'kafka producer cannot connect; retrying',
        );
        await sleep(delay, this.#closing.signal).catch(() => {});
      }
    }
  }

  #setConnected(connected: boolean): void {
    if (this.#connected === connected) return;
    this.#connected = connected;
    this.#deps.onStateChange();
  }
}
