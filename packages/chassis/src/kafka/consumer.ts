import { EventEmitter } from 'node:events';
import { context, type Span } from '@opentelemetry/api';
import type {
  Consumer,
  EachBatchPayload,
  IHeaders,
  Kafka,
  KafkaMessage as KafkaJsMessage,
  Message,
} from 'kafkajs';
import type { Logger } from 'pino';
import { backoffDelay, sleep } from '../resilience/retry.js';
import { clientRetry, decodeHeaders } from './client.js';
import type { KafkaConfig } from './config.js';
import type { KafkaMetrics } from './metrics.js';
import { OffsetTracker } from './offsets.js';
import { endSpan, errorMessage, extractContext, startConsumerSpan } from './tracing.js';
import type {
  BatchHandler,
  ConsumeOptions,
  ConsumerEvents,
  ConsumerHandle,
  ConsumerState,
  HandlerContext,
  KafkaMessage,
  MessageHandler,
  TopicPartition,
} from './types.js';

export interface ConsumerDeps {
  kafka: Kafka;
  config: KafkaConfig;
  serviceName: string;
  log: Logger;
  metrics: KafkaMetrics;
  /** Publish records to a dead-letter topic (the service's producer). */
  deadLetter: (topic: string, messages: Message[]) => Promise<unknown>;
  onStateChange: () => void;
}

interface Settings {
  topics: string[];
  groupId: string;
  batch: boolean;
  handler: MessageHandler | BatchHandler;
  concurrency: number;
  maxInFlight: number;
  maxBatchSize: number;
  retry: { attempts: number; baseMs: number; maxMs: number };
  dlqTopic: (topic: string) => string;
  fromBeginning: boolean;
}

/** Consecutive messages of one partition handed to the handler together (one in per-message mode). */
interface WorkItem {
  messages: KafkaJsMessage[];
}

/** Runs the work of one partition, at most `concurrency` items at a time, in offset order. */
class Lane {
  readonly #queue: WorkItem[] = [];
  #running = 0;
  #idle: Array<() => void> = [];

  constructor(
    private readonly concurrency: number,
    private readonly run: (item: WorkItem) => Promise<void>,
  ) {}

  push(item: WorkItem): void {
    this.#queue.push(item);
    this.#pump();
  }

  /** Drop work not started yet (it stays uncommitted and is redelivered). */
  clear(): void {
    this.#queue.length = 0;
    this.#notify();
  }

  /** Resolves when nothing runs and nothing waits. */
  idle(): Promise<void> {
    if (this.#running === 0 && this.#queue.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idle.push(resolve));
  }

  #pump(): void {
    while (this.#running < this.concurrency && this.#queue.length > 0) {
      const item = this.#queue.shift()!;
      this.#running++;
      this.run(item)
        .catch(() => {})
        .finally(() => {
          this.#running--;
          this.#pump();
          this.#notify();
        });
    }
  }

  #notify(): void {
    if (this.#running > 0 || this.#queue.length > 0) return;
    for (const resolve of this.#idle.splice(0)) resolve();
  }
}

class PartitionState {
  readonly key: string;
  readonly tracker = new OffsetTracker();
  /** Aborted when the partition is revoked or the consumer stops: no new attempts, no backoff waits. */
  readonly abort = new AbortController();
  readonly lane: Lane;
  paused = false;
  revoked = false;
  lastCommitted = -1;
  highWatermark = -1;

  constructor(
    readonly topic: string,
    readonly partition: number,
    concurrency: number,
    run: (state: PartitionState, item: WorkItem) => Promise<void>,
  ) {
    this.key = partitionKey(topic, partition);
    this.lane = new Lane(concurrency, (item) => run(this, item));
  }

  get tp(): TopicPartition {
    return { topic: this.topic, partition: this.partition };
  }
}

const partitionKey = (topic: string, partition: number) => `${topic}\u0000${partition}`;

function groupByTopic(states: PartitionState[]): Array<{ topic: string; partitions: number[] }> {
  const byTopic = new Map<string, number[]>();
  for (const s of states) {
    const list = byTopic.get(s.topic) ?? [];
    list.push(s.partition);
    byTopic.set(s.topic, list);
  }
  return [...byTopic].map(([topic, partitions]) => ({ topic, partitions }));
}

function toMessage(topic: string, partition: number, m: KafkaJsMessage): KafkaMessage {
  return {
    topic,
    partition,
    offset: Number(m.offset),
    key: m.key ?? null,
    value: m.value ?? null,
    headers: decodeHeaders(m.headers as IHeaders | undefined),
    timestamp: Number(m.timestamp),
  };
}

const MAX_ERROR_HEADER = 1024;

/**
 * One consumer group member. kafkajs fetches; eachBatch only hands messages to per-partition
 * lanes (up to the in-flight budget, pausing the partition beyond it) and returns, so a slow
 * partition never holds up the others and heartbeats keep flowing. Offsets are committed by this
 * class, never by kafkajs: the committable offset of a partition is its first unfinished message.
 */
export class KafkaConsumer extends EventEmitter implements ConsumerHandle {
  readonly groupId: string;
  readonly topics: readonly string[];
  readonly clientLabel: string;
  readonly #deps: ConsumerDeps;
  readonly #settings: Settings;
  readonly #consumer: Consumer;
  readonly #log: Logger;
  readonly #partitions = new Map<string, PartitionState>();
  readonly #stopping = new AbortController();
  /** Given to handlers: aborted when the drain deadline passes during stop. */
  readonly #drain = new AbortController();
  readonly #everyLane = new Set<Lane>();
  #state: ConsumerState = 'connecting';
  #memberId: string | undefined;
  #epoch = 0;
  #joinedOnce = false;
  #joinWaiters: Array<{ resolve: () => void; reject: (err: Error) => void }> = [];
  #lastError: Error | undefined;
  #commitTimer: NodeJS.Timeout | undefined;
  #commitChain: Promise<void> = Promise.resolve();
  #commitQueued: Promise<void> | undefined;
  #restartTimer: NodeJS.Timeout | undefined;
  /** consumer.run() until the first join (or crash). */
  #joining: Promise<void> | undefined;
  #stopped: Promise<void> | undefined;

  constructor(deps: ConsumerDeps, options: ConsumeOptions) {
    super();
    this.#deps = deps;
    this.#settings = resolveSettings(deps, options);
    this.groupId = this.#settings.groupId;
    this.topics = Object.freeze([...this.#settings.topics]);
    this.clientLabel = `consumer:${this.groupId}`;
    this.#log = deps.log.child({ component: 'kafka', group: this.groupId });
    const c = deps.config.consumer;
    this.#consumer = deps.kafka.consumer({
      groupId: this.groupId,
      sessionTimeout: c.sessionTimeoutMs,
      heartbeatInterval: c.heartbeatIntervalMs,
      rebalanceTimeout: c.rebalanceTimeoutMs,
      maxBytes: c.maxBytes,
      maxBytesPerPartition: c.maxBytesPerPartition,
      maxWaitTimeInMs: c.maxWaitTimeMs,
      retry: clientRetry(deps.config),
    });
    const { GROUP_JOIN, REBALANCING, CRASH } = this.#consumer.events;
    this.#consumer.on(GROUP_JOIN, (e) => this.#onJoin(e.payload.memberId, e.payload.memberAssignment));
    this.#consumer.on(REBALANCING, () => this.#onRebalancing());
    this.#consumer.on(CRASH, (e) => this.#onCrash(e.payload.error, e.payload.restart));
  }

  get state(): ConsumerState {
    return this.#state;
  }

  get lastError(): Error | undefined {
    return this.#lastError;
  }

  /** Joined (or rejoining) its group: the consumer is working. */
  get connected(): boolean {
    return this.#state === 'joined' || this.#state === 'rebalancing';
  }

  assignments(): TopicPartition[] {
    return [...this.#partitions.values()].map((s) => s.tp);
  }

  paused(): TopicPartition[] {
    return [...this.#partitions.values()].filter((s) => s.paused).map((s) => s.tp);
  }

  inFlight(): number {
    let n = 0;
    for (const s of this.#partitions.values()) n += s.tracker.inFlight;
    return n;
  }

  ready(timeoutMs = 30_000): Promise<void> {
    if (this.connected) return Promise.resolve();
    if (this.#stopping.signal.aborted) return Promise.reject(new Error('the consumer is stopped'));
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#joinWaiters = this.#joinWaiters.filter((w) => w.resolve !== done);
        reject(new Error(`consumer ${this.groupId} did not join its group within ${timeoutMs} ms`));
      }, timeoutMs);
      const done = () => {
        clearTimeout(timer);
        resolve();
      };
      this.#joinWaiters.push({
        resolve: done,
        reject: (err) => {
          clearTimeout(timer);
          reject(err);
        },
      });
    });
  }

  override on<E extends keyof ConsumerEvents>(
    event: E,
    listener: (...args: ConsumerEvents[E]) => void,
  ): this {
    return super.on(event, listener as (...args: unknown[]) => void);
  }

  override off<E extends keyof ConsumerEvents>(
    event: E,
    listener: (...args: ConsumerEvents[E]) => void,
  ): this {
    return super.off(event, listener as (...args: unknown[]) => void);
  }

  #emit<E extends keyof ConsumerEvents>(event: E, ...args: ConsumerEvents[E]): void {
    try {
      this.emit(event, ...args);
    } catch (err) {
      this.#log.error({ err, event }, 'kafka consumer event listener failed');
    }
  }

  /** Connect, subscribe and run, retrying until it works or the consumer stops. */
  start(): void {
    void this.#startLoop();
  }

  async #startLoop(): Promise<void> {
    const { clientRetry: retry } = this.#deps.config;
    for (let attempt = 1; !this.#stopping.signal.aborted; attempt++) {
      try {
        await this.#consumer.connect();
        await this.#consumer.subscribe({
          topics: [...this.topics],
          fromBeginning: this.#settings.fromBeginning,
        });
        if (this.#stopping.signal.aborted) break;
        this.#joining = this.#consumer
          .run({
            autoCommit: false,
            eachBatchAutoResolve: false,
            eachBatch: (payload) => this.#eachBatch(payload),
          })
          .finally(() => {
            this.#joining = undefined;
          });
        await this.#joining;
        return;
      } catch (err) {
        this.#lastError = err as Error;
        const delay = Math.max(retry.initialMs, backoffDelay(attempt, retry.initialMs, retry.maxMs));
        this.#log.warn(
          { err: { message: errorMessage(err) }, attempt, retry_in_ms: delay },
          'kafka consumer cannot start; retrying',
        );
        await this.#consumer.disconnect().catch(() => {});
        await sleep(delay, this.#stopping.signal).catch(() => {});
      }
    }
    // Stopped while connecting
    await this.#consumer.disconnect().catch(() => {});
  }

  /**
   * Stop fetching, abandon work not started, let running handlers finish (until the drain
   * deadline), commit what finished, then leave the group and disconnect.
   */
  stop(): Promise<void> {
    this.#stopped ??= this.#stop();
    return this.#stopped;
  }

  async #stop(): Promise<void> {
    this.#setState('stopping');
    this.#stopping.abort();
    clearTimeout(this.#restartTimer);
    for (const w of this.#joinWaiters.splice(0)) w.reject(new Error('the consumer is stopped'));
    // kafkajs cannot stop a consumer still joining (it would go on fetching): let the join end
    if (this.#joining) {
      const c = this.#deps.config.consumer;
      const give = new AbortController();
      await Promise.race([
        this.#joining.catch(() => {}),
        sleep(c.rebalanceTimeoutMs + c.sessionTimeoutMs, give.signal).catch(() => {}),
      ]);
      give.abort();
    }
    const states = [...this.#partitions.values()];
    for (const s of states) {
      s.abort.abort();
      s.lane.clear();
    }
    if (states.length > 0) {
      try {
        this.#consumer.pause(groupByTopic(states));
      } catch {
        // not running (crashed or never joined): nothing is fetched anyway
      }
    }
    const drainMs = this.#deps.config.consumer.drainTimeoutMs;
    let deadline: NodeJS.Timeout | undefined;
    const drained = await Promise.race([
      Promise.all([...this.#everyLane].map((lane) => lane.idle())).then(() => true),
      new Promise<boolean>((resolve) => {
        deadline = setTimeout(() => resolve(false), drainMs);
      }),
    ]);
    clearTimeout(deadline);
    if (!drained) {
      this.#log.warn({ drain_timeout_ms: drainMs }, 'kafka handlers still running at the drain deadline');
      this.#drain.abort(new Error('kafka consumer drain deadline passed'));
    }
    clearTimeout(this.#commitTimer);
    await this.#commitNow();
    try {
      await this.#consumer.disconnect();
    } catch (err) {
      this.#log.warn({ err }, 'kafka consumer disconnect failed');
    }
    this.#revoke([...this.#partitions.values()]);
    this.#setState('stopped');
    this.#log.info('kafka consumer stopped');
  }

  // ---- group membership -------------------------------------------------------------------

  #onJoin(memberId: string, assignment: Record<string, number[]>): void {
    // A new member id means the group evicted us in between: what we held may have moved on
    if (this.#memberId !== undefined && memberId !== this.#memberId)
      this.#revoke([...this.#partitions.values()]);
    this.#memberId = memberId;
    this.#epoch++;
    const assigned = new Set<string>();
    for (const [topic, partitions] of Object.entries(assignment)) {
      for (const p of partitions) assigned.add(partitionKey(topic, p));
    }
    this.#revoke([...this.#partitions.values()].filter((s) => !assigned.has(s.key)));
    const retainedPaused: PartitionState[] = [];
    for (const s of this.#partitions.values()) {
      // Commit the retained ones again under the new generation
      s.lastCommitted = -1;
      if (s.paused) retainedPaused.push(s);
    }
    if (retainedPaused.length > 0) this.#consumer.pause(groupByTopic(retainedPaused));
    for (const [topic, partitions] of Object.entries(assignment)) {
      for (const p of partitions) this.#partition(topic, p);
    }
    this.#deps.metrics.rebalances.inc({ group: this.groupId });
    if (this.#stopping.signal.aborted) return;
    this.#setState('joined');
    this.#joinedOnce = true;
    const tps = this.assignments();
    this.#log.info({ member_id: memberId, assigned: tps }, 'kafka consumer joined its group');
    this.#emit('assigned', tps);
    for (const w of this.#joinWaiters.splice(0)) w.resolve();
    this.#scheduleCommit();
  }

  #onRebalancing(): void {
    if (this.#stopping.signal.aborted) return;
    this.#setState('rebalancing');
    this.#log.info('kafka consumer group is rebalancing: committing finished offsets');
    // Commits of the current generation are still accepted while the group prepares the rebalance
    void this.#commitNow();
  }

  #onCrash(error: Error, restart: boolean): void {
    this.#lastError = error;
    this.#revoke([...this.#partitions.values()]);
    this.#memberId = undefined;
    this.#emit('crashed', { error, restart });
    if (this.#stopping.signal.aborted) return;
    this.#setState('crashed');
    this.#log.error({ err: error, restart }, 'kafka consumer crashed');
    if (!restart) {
      // kafkajs gives up on errors it deems fatal; try again from scratch after a while
      const delay = this.#deps.config.clientRetry.maxMs;
      this.#restartTimer = setTimeout(() => {
        if (this.#stopping.signal.aborted) return;
        this.#setState('connecting');
        this.start();
      }, delay);
      this.#restartTimer.unref();
    } else {
      this.#setState('connecting');
    }
  }

  /** Forget partitions: abandon their queued work and never commit for them again. */
  #revoke(states: PartitionState[]): void {
    if (states.length === 0) return;
    this.#epoch++;
    const paused = states.filter((s) => s.paused);
    for (const s of states) {
      s.revoked = true;
      s.abort.abort();
      s.lane.clear();
      void s.lane.idle().then(() => this.#everyLane.delete(s.lane));
      this.#partitions.delete(s.key);
      this.#deps.metrics.lag.remove({ topic: s.topic, partition: String(s.partition), group: this.groupId });
    }
    // kafkajs remembers pauses per partition: a partition assigned again later must not stay paused
    if (paused.length > 0) {
      try {
        this.#consumer.resume(groupByTopic(paused));
      } catch {
        // not running
      }
    }
    this.#emit(
      'revoked',
      states.map((s) => s.tp),
    );
  }

  #partition(topic: string, partition: number): PartitionState {
    const key = partitionKey(topic, partition);
    let state = this.#partitions.get(key);
    if (!state) {
      state = new PartitionState(topic, partition, this.#settings.concurrency, (s, item) =>
        this.#process(s, item),
      );
      this.#partitions.set(key, state);
      this.#everyLane.add(state.lane);
    }
    return state;
  }

  // ---- fetching -----------------------------------------------------------------------------

  async #eachBatch({ batch, resolveOffset, isRunning, isStale, pause }: EachBatchPayload): Promise<void> {
    if (this.#stopping.signal.aborted) {
      // Assigned while stopping: fetching it would only spin until the disconnect
      pause();
      return;
    }
    const s = this.#partition(batch.topic, batch.partition);
    s.highWatermark = Number(batch.highWatermark);
    const { batch: batchMode, maxBatchSize, maxInFlight } = this.#settings;
    let chunk: KafkaJsMessage[] = [];
    const flush = () => {
      if (chunk.length === 0) return;
      s.lane.push({ messages: chunk });
      chunk = [];
    };
    // Per-message costs add up at tens of thousands of records/s: kafkajs's isStale() builds a
    // JSON key, and resolveOffset() converts the offset through Long twice. Neither can change
    // while this loop runs synchronously, except through user code (a handler started by a push),
    // so isStale() is re-checked after each push, and only the last offset taken is resolved
    // (kafkajs keeps just the latest one per partition anyway).
    let stale = isStale();
    let resolved: string | undefined;
    for (const m of batch.messages) {
      if (stale || !isRunning() || s.revoked || this.#stopping.signal.aborted) break;
      const offset = Number(m.offset);
      // Redelivered after a rebalance while still held by this member: already taken
      if (s.tracker.seen(offset)) {
        resolved = m.offset;
        continue;
      }
      if (s.tracker.inFlight >= maxInFlight) {
        // Budget used up: stop fetching this partition. The rest of the batch is not resolved, so
        // kafkajs fetches it again from here once the partition resumes.
        this.#pause(s);
        break;
      }
      s.tracker.take(offset);
      resolved = m.offset;
      if (!batchMode) {
        s.lane.push({ messages: [m] });
        stale = isStale();
      } else {
        chunk.push(m);
        if (chunk.length >= maxBatchSize) {
          flush();
          stale = isStale();
        }
      }
    }
    if (resolved !== undefined) resolveOffset(resolved);
    flush();
    this.#updateLag(s);
  }

  #pause(s: PartitionState): void {
    if (s.paused) return;
    s.paused = true;
    this.#consumer.pause([{ topic: s.topic, partitions: [s.partition] }]);
    this.#log.debug(
      { topic: s.topic, partition: s.partition, in_flight: s.tracker.inFlight },
      'kafka partition paused',
    );
    this.#emit('paused', { ...s.tp, inFlight: s.tracker.inFlight });
  }

  #resume(s: PartitionState): void {
    if (!s.paused) return;
    s.paused = false;
    try {
      this.#consumer.resume([{ topic: s.topic, partitions: [s.partition] }]);
    } catch {
      // not running: the pause goes with the consumer group
    }
    this.#log.debug(
      { topic: s.topic, partition: s.partition, in_flight: s.tracker.inFlight },
      'kafka partition resumed',
    );
    this.#emit('resumed', { ...s.tp, inFlight: s.tracker.inFlight });
  }

  /** High watermarks fetched from the brokers (scrape time): lag stays true while a partition is paused. */
  updateHighWatermarks(topic: string, watermarks: Array<{ partition: number; high: number }>): void {
    for (const { partition, high } of watermarks) {
      const s = this.#partitions.get(partitionKey(topic, partition));
      if (!s || !(high >= s.highWatermark)) continue;
      s.highWatermark = high;
      this.#updateLag(s);
    }
  }

  #updateLag(s: PartitionState): void {
    const committable = s.tracker.committable;
    if (s.revoked || s.highWatermark < 0 || committable === undefined) return;
    this.#deps.metrics.lag.set(
      { topic: s.topic, partition: String(s.partition), group: this.groupId },
      Math.max(0, s.highWatermark - committable),
    );
  }

  // ---- processing ---------------------------------------------------------------------------

  async #process(s: PartitionState, item: WorkItem): Promise<void> {
    if (s.abort.signal.aborted) return;
    const messages = item.messages.map((m) => toMessage(s.topic, s.partition, m));
    const first = messages[0]!;
    const { span, ctx } = startConsumerSpan(
      {
        topic: s.topic,
        partition: s.partition,
        groupId: this.groupId,
        ...(this.#settings.batch ? { count: messages.length } : { offset: first.offset }),
      },
      item.messages.map((m) => extractContext(m.headers as IHeaders | undefined)),
    );
    let finished = false;
    let failure: unknown;
    try {
      const outcome = await context.with(ctx, () => this.#attempts(s, item, messages, span));
      finished = outcome.finished;
      failure = outcome.error;
    } catch (err) {
      failure = err;
      this.#log.error({ err }, 'kafka message processing failed unexpectedly');
    } finally {
      endSpan(span, failure);
    }
    if (!finished) return;
    for (const m of messages) s.tracker.finish(m.offset);
    if (s.revoked) return;
    if (s.paused && s.tracker.inFlight <= Math.floor(this.#settings.maxInFlight / 2)) this.#resume(s);
    this.#updateLag(s);
    this.#scheduleCommit();
  }

  /** Handler attempts with backoff, then the dead-letter topic. `finished`: the messages may be committed. */
  async #attempts(
    s: PartitionState,
    item: WorkItem,
    messages: KafkaMessage[],
    span: Span,
  ): Promise<{ finished: boolean; error?: unknown }> {
    const { attempts, baseMs, maxMs } = this.#settings.retry;
    const { metrics } = this.#deps;
    const labels = { topic: s.topic };
    const first = messages[0]!;
    const log = this.#deps.log.child({
      topic: s.topic,
      partition: s.partition,
      offset: first.offset,
      ...(this.#settings.batch ? { count: messages.length } : {}),
    });
    let lastError: unknown;
    for (let attempt = 1; attempt <= attempts; attempt++) {
      if (s.abort.signal.aborted) return { finished: false };
      const started = performance.now();
      const handlerContext: HandlerContext = { attempt, signal: this.#drain.signal, log };
      try {
        if (this.#settings.batch) await (this.#settings.handler as BatchHandler)(messages, handlerContext);
        else await (this.#settings.handler as MessageHandler)(first, handlerContext);
        metrics.handlerDuration.observe(labels, (performance.now() - started) / 1000);
        metrics.consumed.inc(labels, messages.length);
        return { finished: true };
      } catch (err) {
        metrics.handlerDuration.observe(labels, (performance.now() - started) / 1000);
        metrics.failed.inc(labels, messages.length);
        lastError = err;
        span.addEvent('handler failed', { attempt, 'exception.message': errorMessage(err) });
        if (attempt >= attempts) break;
        const delay = backoffDelay(attempt, baseMs, maxMs);
        log.warn({ err, attempt, attempts, retry_in_ms: delay }, 'kafka handler failed; retrying');
        try {
          await sleep(delay, s.abort.signal);
        } catch {
          return { finished: false, error: err };
        }
      }
    }
    log.error({ err: lastError, attempts }, 'kafka handler failed on every attempt: dead-lettering');
    const sent = await this.#deadLetter(s, item, messages, lastError, attempts, log);
    return { finished: sent, error: lastError };
  }

  async #deadLetter(
    s: PartitionState,
    item: WorkItem,
    messages: KafkaMessage[],
    error: unknown,
    attempts: number,
    log: Logger,
  ): Promise<boolean> {
    const dlqTopic = this.#settings.dlqTopic(s.topic);
    const reason = errorMessage(error).slice(0, MAX_ERROR_HEADER);
    const at = new Date().toISOString();
    const records: Message[] = item.messages.map((m) => ({
      key: m.key,
      value: m.value,
      headers: {
        ...(m.headers as IHeaders | undefined),
        'x-error': reason,
        'x-error-type': error instanceof Error ? error.name : typeof error,
        'x-original-topic': s.topic,
        'x-original-partition': String(s.partition),
        'x-original-offset': String(m.offset),
        'x-original-timestamp': String(m.timestamp),
        'x-attempts': String(attempts),
        'x-consumer-group': this.groupId,
        'x-dead-lettered-at': at,
      },
    }));
    const { baseMs, maxMs } = this.#settings.retry;
    for (let attempt = 1; ; attempt++) {
      if (s.abort.signal.aborted) return false;
      try {
        await this.#deps.deadLetter(dlqTopic, records);
        this.#deps.metrics.deadLettered.inc({ topic: s.topic }, records.length);
        log.warn({ dlq_topic: dlqTopic, attempts }, 'kafka message dead-lettered');
        for (const m of messages) this.#emit('deadLettered', m, { dlqTopic, error: reason, attempts });
        return true;
      } catch (err) {
        const delay = Math.max(baseMs, backoffDelay(attempt, baseMs, maxMs));
        log.error(
          { err, dlq_topic: dlqTopic, retry_in_ms: delay },
          'cannot publish to the dead-letter topic; retrying',
        );
        try {
          await sleep(delay, s.abort.signal);
        } catch {
          return false;
        }
      }
    }
  }

  // ---- commits ------------------------------------------------------------------------------

  #scheduleCommit(): void {
    if (this.#state === 'rebalancing' || this.#state === 'stopping') {
      void this.#commitNow();
      return;
    }
    if (this.#commitTimer) return;
    this.#commitTimer = setTimeout(() => {
      this.#commitTimer = undefined;
      void this.#commitNow();
    }, this.#deps.config.consumer.commitIntervalMs);
  }

  /** Commit what is finished; commits run one at a time, a call waits for one started after it. */
  #commitNow(): Promise<void> {
    if (this.#commitQueued) return this.#commitQueued;
    const queued = this.#commitChain.then(() => {
      this.#commitQueued = undefined;
      return this.#commitOnce();
    });
    this.#commitQueued = queued;
    this.#commitChain = queued.catch(() => {});
    return queued;
  }

  async #commitOnce(): Promise<void> {
    const due: Array<{ state: PartitionState; offset: number }> = [];
    for (const state of this.#partitions.values()) {
      const offset = state.tracker.committable;
      if (offset !== undefined && offset > state.lastCommitted) due.push({ state, offset });
    }
    if (due.length === 0) return;
    const epoch = this.#epoch;
    try {
      await this.#consumer.commitOffsets(
        due.map(({ state, offset }) => ({
          topic: state.topic,
          partition: state.partition,
          offset: String(offset),
        })),
      );
    } catch (err) {
      this.#log.debug({ err: { message: errorMessage(err) } }, 'kafka offset commit failed; will retry');
      if (!this.#stopping.signal.aborted) this.#scheduleCommit();
      return;
    }
    // A crash or rejoin while committing: whether it landed is unknown, so it is redone later
    if (epoch !== this.#epoch) return;
    for (const { state, offset } of due) state.lastCommitted = Math.max(state.lastCommitted, offset);
    this.#emit(
      'committed',
      due.map(({ state, offset }) => ({ ...state.tp, offset })),
    );
  }

  #setState(state: ConsumerState): void {
    if (this.#state === state) return;
    // Terminal states stay
    if (this.#state === 'stopped' || (this.#state === 'stopping' && state !== 'stopped')) return;
    this.#state = state;
    this.#deps.onStateChange();
  }

  /** True once the consumer has joined its group at least once. */
  get joinedOnce(): boolean {
    return this.#joinedOnce;
  }
}

function resolveSettings(deps: ConsumerDeps, options: ConsumeOptions): Settings {
  const { config } = deps;
  const topics = (Array.isArray(options.topics) ? options.topics : [options.topics]).filter(Boolean);
  if (topics.length === 0) throw new TypeError('consume: topics must name at least one topic');
  if (typeof options.handler !== 'function') throw new TypeError('consume: handler must be a function');
  const int = (name: string, value: number | undefined, fallback: number): number => {
    const v = value ?? fallback;
    if (!Number.isInteger(v) || v < 1) throw new RangeError(`consume: ${name} must be an integer >= 1`);
    return v;
  };
  const concurrency = int('concurrency', options.concurrency, config.consumer.concurrency);
  const maxInFlight = Math.max(
    concurrency,
    int('maxInFlight', options.maxInFlight, config.consumer.maxInFlight),
  );
  const dlq = options.dlqTopic;
  return {
    topics,
    groupId: options.groupId || config.consumer.groupId || deps.serviceName,
    batch: options.batch === true,
    handler: options.handler,
    concurrency,
    maxInFlight,
    maxBatchSize: int(
      'maxBatchSize',
      options.batch === true ? options.maxBatchSize : undefined,
      config.consumer.maxBatchSize,
    ),
    retry: {
      attempts: int('retry.attempts', options.retry?.attempts, config.retry.attempts),
      baseMs: options.retry?.baseMs ?? config.retry.baseMs,
      maxMs: options.retry?.maxMs ?? config.retry.maxMs,
    },
    dlqTopic:
      typeof dlq === 'function'
        ? dlq
        : typeof dlq === 'string' && dlq
          ? () => dlq
          : (topic) => config.dlq.topic || `${topic}${config.dlq.suffix}`,
    fromBeginning: options.fromBeginning ?? config.consumer.fromBeginning,
  };
}
