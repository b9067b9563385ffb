import type { Logger } from 'pino';

/**
 * The chassis's own Kafka types. No client library type appears here, so the client underneath
 * (kafkajs today) can be replaced without touching services.
 */

/** A consumed message. */
export interface KafkaMessage {
  readonly topic: string;
  readonly partition: number;
  /** Offset in the partition (int64 in Kafka; exact below 2^53). */
  readonly offset: number;
  readonly key: Buffer | null;
  readonly value: Buffer | null;
  /** Headers decoded as UTF-8; a repeated header gives its last value. */
  readonly headers: Readonly<Record<string, string>>;
  /** Record timestamp, ms since the epoch. */
  readonly timestamp: number;
}

/** What a handler gets besides the message(s). */
export interface HandlerContext {
  /** 1 on the first attempt, then 2, 3... up to the retry policy's attempts. */
  readonly attempt: number;
  /** Aborted when the consumer stops and its drain deadline has passed: give up cooperatively. */
  readonly signal: AbortSignal;
  /** The service logger with topic, partition and offset bound (and the trace id when tracing is on). */
  readonly log: Logger;
}

/** Handles one message; throwing (or rejecting) fails the attempt. */
export type MessageHandler = (message: KafkaMessage, context: HandlerContext) => unknown;

/** Handles consecutive messages of one partition; throwing fails the attempt for all of them. */
export type BatchHandler = (messages: KafkaMessage[], context: HandlerContext) => unknown;

export interface RetryPolicy {
  /** Attempts in all, the first included (default config kafka.retry.attempts). */
  attempts?: number;
  /** Base of the full-jitter exponential backoff, ms (default config kafka.retry.baseMs). */
  baseMs?: number;
  /** Largest delay, ms (default config kafka.retry.maxMs). */
  maxMs?: number;
}

interface ConsumeOptionsBase {
  topics: string | string[];
  /** Consumer group (default config kafka.consumer.groupId, else the service name). */
  groupId?: string;
  /** Handler calls running at once per partition (default config kafka.consumer.concurrency; 1 keeps order). */
  concurrency?: number;
  /** Messages taken but not finished, per partition, before the partition is paused (default config). */
  maxInFlight?: number;
  retry?: RetryPolicy;
  /** Dead-letter topic, or a function of the source topic (default `<topic>` + config kafka.dlq.suffix). */
  dlqTopic?: string | ((topic: string) => string);
  /** A group without committed offsets starts at the earliest offset (default config, else latest). */
  fromBeginning?: boolean;
}

export interface MessageConsumeOptions extends ConsumeOptionsBase {
  batch?: false;
  handler: MessageHandler;
}

export interface BatchConsumeOptions extends ConsumeOptionsBase {
  batch: true;
  handler: BatchHandler;
  /** Most messages per handler call (default config kafka.consumer.maxBatchSize). */
  maxBatchSize?: number;
}

export type ConsumeOptions = MessageConsumeOptions | BatchConsumeOptions;

export interface TopicPartition {
  topic: string;
  partition: number;
}

/** Events of a consumer, for observability and tests. */
export interface ConsumerEvents {
  /** The group assigned these partitions to this member (every rebalance). */
  assigned: [partitions: TopicPartition[]];
  /** These partitions were taken away (rebalance, crash or stop). */
  revoked: [partitions: TopicPartition[]];
  /** The partition's in-flight budget is used up: fetching it stops. */
  paused: [partition: TopicPartition & { inFlight: number }];
  /** The partition drained below half its budget: fetching it resumes. */
  resumed: [partition: TopicPartition & { inFlight: number }];
  /** Offsets committed to the group (offset = next offset to read). */
  committed: [offsets: Array<TopicPartition & { offset: number }>];
  /** A message went to the dead-letter topic. */
  deadLettered: [message: KafkaMessage, info: { dlqTopic: string; error: string; attempts: number }];
  /** The client failed; `restart` says whether it reconnects on its own. */
  crashed: [info: { error: Error; restart: boolean }];
}

export type ConsumerState = 'connecting' | 'joined' | 'rebalancing' | 'crashed' | 'stopping' | 'stopped';

/** A running consumer (see `service.kafka.consume`). */
export interface ConsumerHandle {
  readonly groupId: string;
  readonly topics: readonly string[];
  readonly state: ConsumerState;
  /** Partitions currently assigned to this member. */
  assignments(): TopicPartition[];
  /** Partitions currently paused by backpressure. */
  paused(): TopicPartition[];
  /** Messages taken from Kafka and not finished yet, all partitions together. */
  inFlight(): number;
  /** Resolves once the consumer has joined its group (its assignment may be empty); rejects on timeout. */
  ready(timeoutMs?: number): Promise<void>;
  on<E extends keyof ConsumerEvents>(event: E, listener: (...args: ConsumerEvents[E]) => void): this;
  off<E extends keyof ConsumerEvents>(event: E, listener: (...args: ConsumerEvents[E]) => void): this;
  /**
   * Stop fetching, let running handlers finish (messages not yet started are left for redelivery),
   * commit what is done, leave the group and disconnect. Idempotent; the service's stop() calls it.
   */
  stop(): Promise<void>;
}

/** A message to produce. */
export interface ProduceMessage {
  key?: string | Buffer | null;
  value: string | Buffer | null;
  headers?: Record<string, string | Buffer>;
  /** Explicit partition (default: by key hash, round-robin without key). */
  partition?: number;
  /** Record timestamp, ms since the epoch (default: now). */
  timestamp?: number;
}

/**
 * Where a produce call wrote: one entry per partition written. `baseOffset` is the offset of the
 * call's first message in that partition; the call's other messages for the partition follow it
 * consecutively, in the order given.
 */
export interface ProducedOffset {
  topic: string;
  partition: number;
  baseOffset: number;
}

/** The service's producer (idempotent, acks=all). */
export interface ProducerHandle {
  /** True once connected (the readiness check `kafka:producer` also probes the cluster). */
  readonly connected: boolean;
  send(topic: string, messages: ProduceMessage | ProduceMessage[]): Promise<ProducedOffset[]>;
}

/** `service.kafka`. */
export interface KafkaService {
  /** False when config kafka.brokers is empty: every other call then throws. */
  readonly configured: boolean;
  /** The service's producer, created and connected on first use. */
  producer(): ProducerHandle;
  /** `producer().send(...)`. */
  produce(topic: string, messages: ProduceMessage | ProduceMessage[]): Promise<ProducedOffset[]>;
  /** Start a consumer; it connects in the background (readiness check `kafka:consumer:<groupId>`). */
  consume(options: ConsumeOptions): ConsumerHandle;
  /** Consumers started by this service. */
  readonly consumers: readonly ConsumerHandle[];
}

/** Thrown by `service.kafka` calls when Kafka is not configured, or after shutdown. */
export class KafkaUnavailableError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'KafkaUnavailableError';
  }
}
