/**
 * The Forwarder wires ALF onto a chassis service: Kafka consumer → pipeline → HEC delivery, the
 * dead-letter topic, flags, rules reloads, readiness, metrics and the admin API.
 */
import { type FSWatcher, readFileSync, watch } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { basename, dirname } from 'node:path';
import type { ConsumerHandle, HandlerContext, KafkaMessage, Service } from '@fleet/chassis';
import type { Batch } from './batch.js';
import { type AlfConfig, splitList } from './config.js';
import { type DialFlags, Dials } from './dials.js';
import { DeadLetters } from './dlq.js';
import { HecClient } from './hec/client.js';
import { Delivery } from './hec/delivery.js';
import { AlfMetrics } from './metrics.js';
import { Pipeline, parseIndexedFields } from './pipeline.js';
import { parseRulesText, type Rules, RulesError } from './rules.js';
import { ServiceRegistry } from './services.js';
import type { FastifyInstance, Logger } from './types.js';

export interface ForwarderOptions {
  /** Flags client (default: `service.flags` when the chassis provides it). */
  flags?: DialFlags;
}

export interface ReloadResult {
  ok: boolean;
  rules: { changed: boolean; generation: number; problems?: string[] };
  token: { changed: boolean; source: 'config' | 'file'; problem?: string };
}

export class Forwarder {
  readonly service: Service<AlfConfig>;
  readonly config: AlfConfig;
  readonly metrics = new AlfMetrics();
  readonly services: ServiceRegistry;
  readonly dials: Dials;
  readonly pipeline: Pipeline;
  readonly delivery: Delivery;
  readonly deadLetters: DeadLetters;
  readonly client: HecClient;
  consumer: ConsumerHandle | undefined;
  #token: string;
  #rulesText: string;
  #watcher: FSWatcher | undefined;
  #pollTimer: NodeJS.Timeout | undefined;
  #evictTimer: NodeJS.Timeout | undefined;
  #closed = false;
  #lastReloadError: string[] | undefined;

  constructor(service: Service<AlfConfig>, options: ForwarderOptions = {}) {
    this.service = service;
    const config = service.config as unknown as AlfConfig;
    this.config = config;
    const log = service.log.child({ component: 'alf' });
    this.#token = config.hec.token.trim();
    const rulesOrigin = config.alf.rulesFile || 'ALF_RULES';
    this.#rulesText = config.alf.rulesFile ? readFileSync(config.alf.rulesFile, 'utf8') : config.alf.rules;
    const rules = parseRulesText(this.#rulesText, rulesOrigin);

    this.services = new ServiceRegistry({
      maxServices: config.alf.maxServices,
      maxLabels: config.alf.maxServiceLabels,
    });
    const flags: DialFlags | undefined = options.flags ?? service.flags;
    this.dials = new Dials(flags);
    if (!flags) log.warn('no flags client: the alf.drop.* kill switches are not available');

    this.deadLetters = new DeadLetters({
      topic: config.alf.dlqTopic,
      groupId: config.alf.groupId,
      produce: (topic, messages) => service.kafka.produce(topic, messages),
      log,
      onWritten: (reason, n) => this.metrics.deadLettered.add(reason, n),
    });

    this.client = new HecClient({
      urls: splitList(config.hec.url),
      eventPath: config.hec.path,
      token: () => this.#token,
      connections: config.hec.connections,
      timeoutMs: config.hec.timeoutMs,
      connectTimeoutMs: config.hec.connectTimeoutMs,
      gzip: config.hec.gzip,
      ejectAfter: config.hec.eject.after,
      ejectBaseMs: config.hec.eject.baseMs,
      ejectMaxMs: config.hec.eject.maxMs,
      tls: config.hec.tls,
    });

    const metrics = this.metrics;
    let pipeline: Pipeline | undefined;
    this.delivery = new Delivery({
      client: this.client,
      log,
      gzip: config.hec.gzip,
      gzipLevel: config.hec.gzipLevel,
      retry: config.hec.retry,
      ack: config.hec.ack,
      partialAccepted: config.hec.partialBatch === 'index-preceding',
      delivered: (events, from, to, at) => pipeline!.delivered(events, from, to, at),
      deadLetter: (event, reason, detail) => pipeline!.refused(event, reason, detail),
      recycle: (buf) => pipeline!.batcher.recycle(buf),
      observe: {
        request: (endpoint, code, seconds) => metrics.hecRequest(endpoint, code, seconds),
        batch: (events, bytes) => metrics.batch(events, bytes),
        retried: (reason, n) => metrics.retried.add(reason, n),
        possibleDuplicates: (n) => {
          metrics.possibleDuplicates += n;
        },
        incorrectIndex: (n) => {
          metrics.incorrectIndex += n;
        },
        stalled: (stall) => metrics.stalled(stall ? stall.reason : null),
        endpoint: (label, up) => metrics.endpoint(label, up),
      },
    });

    pipeline = new Pipeline(
      {
        topics: splitList(config.alf.topics),
        maxEventBytes: config.alf.maxEventBytes,
        serviceHeader: config.alf.headers.service,
        levelHeader: config.alf.headers.level,
        indexedFields: parseIndexedFields(splitList(config.alf.indexedFields)).fields,
        maxInFlightBytes: config.alf.maxInFlightBytes,
        batch: config.hec.batch,
      },
      rules,
      {
        log,
        metrics,
        services: this.services,
        dials: this.dials,
        sink: (batch: Batch) => this.delivery.submit(batch),
        deadLetter: (message, reason, detail, done) => this.deadLetters.add(message, reason, detail, done),
      },
    );
    this.pipeline = pipeline;

    metrics.register(service.metrics, this.services, {
      state: () => ({
        batches_queued: this.delivery.queued,
        batches_sending: this.delivery.sending,
        batches_pending: this.delivery.pendingBatches,
        batches_awaiting_ack: this.delivery.awaitingAcks,
        dead_letters_pending: this.deadLetters.pending,
      }),
    });
    for (const e of this.client.endpoints) metrics.endpoint(e.label, true);

    service.health.addCheck('alf:hec', () => {
      const stall = this.delivery.stall;
      if (stall)
        throw new Error(
          `HEC refuses ALF since ${stall.since}: ${stall.reason} problem, HTTP ${stall.status} code ${stall.code} (${stall.text})`,
        );
      return {
        endpoints: this.client.endpoints.filter((e) => !e.ejected).length,
        of: this.client.endpoints.length,
      };
    });
    service.onShutdown('alf', () => this.close());
    this.#log = log;
  }

  readonly #log: Logger;

  /** Start consuming (and watching the rules file). */
  start(): ConsumerHandle {
    const c = this.config.alf.consumer;
    this.consumer = this.service.kafka.consume({
      topics: splitList(this.config.alf.topics),
      groupId: this.config.alf.groupId,
      batch: true,
      maxBatchSize: c.maxBatchSize,
      concurrency: c.concurrency,
      maxInFlight: Math.max(c.maxInFlight, c.maxBatchSize),
      // The handler only fails when shutdown abandons it: such records stay uncommitted
      retry: { attempts: 2, baseMs: 10, maxMs: 10 },
      dlqTopic: this.config.alf.dlqTopic,
      handler: (messages, context) => this.handle(messages, context),
    });
    this.#watchRules();
    this.#evictTimer = setInterval(
      () => this.services.evictIdle(Math.floor(Date.now() / 1000) - 600),
      60_000,
    );
    this.#evictTimer.unref();
    return this.consumer;
  }

  /** The consumer's batch handler: resolves when every record is delivered, dead-lettered or dropped. */
  async handle(messages: KafkaMessage[], context: HandlerContext): Promise<void> {
    const admitted = this.pipeline.admit();
    if (admitted) await abortable(admitted, context.signal);
    const chunk = this.pipeline.ingest(messages);
    if (chunk.settled) return;
    await abortable(chunk.promise, context.signal, (err) => chunk.abandon(err));
  }

  /** Reload the rules (file or inline config) and the token file. */
  async reload(): Promise<ReloadResult> {
    const result: ReloadResult = {
      ok: true,
      rules: { changed: false, generation: this.pipeline.generation },
      token: { changed: false, source: this.config.hec.tokenFile ? 'file' : 'config' },
    };
    if (this.config.alf.rulesFile) {
      try {
        const text = await readFile(this.config.alf.rulesFile, 'utf8');
        const applied = this.#applyRules(text, this.config.alf.rulesFile);
        result.rules.changed = applied.changed;
        if (applied.problems) {
          result.ok = false;
          result.rules.problems = applied.problems;
        }
      } catch (err) {
        result.ok = false;
        result.rules.problems = [`cannot read ${this.config.alf.rulesFile}: ${(err as Error).message}`];
        this.metrics.reload('rejected');
      }
    }
    result.rules.generation = this.pipeline.generation;
    if (this.config.hec.tokenFile) {
      try {
        const token = (await readFile(this.config.hec.tokenFile, 'utf8')).trim();
        if (token === '') throw new Error('the token file is empty');
        if (token !== this.#token) {
          this.#token = token;
          result.token.changed = true;
          this.#log.info('HEC token reloaded from its file');
        }
      } catch (err) {
        result.ok = false;
        result.token.problem = `cannot read ${this.config.hec.tokenFile}: ${(err as Error).message}`;
      }
    }
    // A stalled sender probes at once with what was just loaded
    this.delivery.kick();
    return result;
  }

  #applyRules(text: string, origin: string): { changed: boolean; problems?: string[] } {
    if (text === this.#rulesText) return { changed: false };
    let rules: Rules;
    try {
      rules = parseRulesText(text, origin);
    } catch (err) {
      const problems = err instanceof RulesError ? err.problems : [(err as Error).message];
      if (JSON.stringify(problems) !== JSON.stringify(this.#lastReloadError)) {
        this.#log.error({ problems }, 'rules reload refused: keeping the previous rules');
        this.metrics.reload('rejected');
      }
      this.#lastReloadError = problems;
      return { changed: false, problems };
    }
    this.#rulesText = text;
    this.#lastReloadError = undefined;
    this.pipeline.setRules(rules);
    this.metrics.reload('ok');
    this.#log.info(
      { generation: this.pipeline.generation, routes: rules.routes.length, limits: rules.limits.length },
      'rules reloaded',
    );
    return { changed: true };
  }

  #watchRules(): void {
    const file = this.config.alf.rulesFile;
    const check = async () => {
      if (this.#closed) return;
      if (file) {
        try {
          this.#applyRules(await readFile(file, 'utf8'), file);
        } catch {
          // unreadable for a moment (being replaced): the next check sees it
        }
      }
      // A refused token: pick up a rotated token file by itself
      if (this.delivery.stall?.reason === 'token' && this.config.hec.tokenFile) {
        try {
          const token = (await readFile(this.config.hec.tokenFile, 'utf8')).trim();
          if (token && token !== this.#token) {
            this.#token = token;
            this.#log.info('HEC token file changed: retrying');
            this.delivery.kick();
          }
        } catch {
          // keep the current token
        }
      }
    };
    this.#pollTimer = setInterval(() => void check(), this.config.alf.rulesPollMs);
    this.#pollTimer.unref();
    if (!file) return;
    try {
      let debounce: NodeJS.Timeout | undefined;
      this.#watcher = watch(dirname(file), { persistent: false }, (_event, name) => {
        if (name && name !== basename(file) && !name.startsWith('..')) return;
        clearTimeout(debounce);
        debounce = setTimeout(() => void check(), 25);
      });
      this.#watcher.on('error', () => this.#watcher?.close());
    } catch {
      // no watcher: polling only
    }
  }

  /** GET /admin/alf/status */
  status(): Record<string, unknown> {
    const now = Date.now();
    return {
      state: this.delivery.stall ? 'stalled' : 'delivering',
      stall: this.delivery.stall,
      endpoints: this.client.endpoints.map((e) => ({
        endpoint: e.label,
        in_rotation: e.ejectedUntil <= now,
        ejected_until: e.ejectedUntil > now ? new Date(e.ejectedUntil).toISOString() : null,
        consecutive_failures: e.consecutiveFailures,
        last_error: e.lastError || null,
      })),
      in_flight: {
        events: this.metrics.inFlightEvents,
        bytes: this.metrics.inFlightBytes,
        max_bytes: this.config.alf.maxInFlightBytes,
      },
      batches: {
        queued: this.delivery.queued,
        sending: this.delivery.sending,
        pending: this.delivery.pendingBatches,
        awaiting_ack: this.delivery.awaitingAcks,
      },
      dead_letters_pending: this.deadLetters.pending,
      rules: {
        generation: this.pipeline.generation,
        source: this.config.alf.rulesFile || (this.config.alf.rules ? 'ALF_RULES' : 'none'),
        routes: this.pipeline.rules.routes.length,
        limits: this.pipeline.rules.limits.length,
        budget: this.pipeline.rules.budget,
        last_reload_error: this.#lastReloadError ?? null,
      },
      budget_tokens: this.pipeline.limiter.budgetStatus(now),
      flags: {
        enabled: this.dials.enabled,
        level_drop_basis_points: Object.fromEntries(
          ['trace', 'debug', 'info', 'warn', 'error', 'fatal'].map((l, i) => [
            l,
            this.dials.levelBasisPoints[i],
          ]),
        ),
        service_dials: Object.fromEntries(this.dials.serviceDials()),
      },
      consumer: this.consumer
        ? {
            state: this.consumer.state,
            assigned: this.consumer.assignments(),
            paused: this.consumer.paused(),
            in_flight: this.consumer.inFlight(),
          }
        : null,
      counts: {
        delivered: this.metrics.delivered,
        dead_lettered: this.metrics.deadLettered.total(),
        dropped: this.metrics.droppedTotal(this.services),
        retried: this.metrics.retried.total(),
        possible_duplicates: this.metrics.possibleDuplicates,
      },
    };
  }

  /** Admin routes (admin scope). */
  routes(app: FastifyInstance): void {
    const auth = { scopes: [this.service.config.admin.scope] };
    app.get<{ Querystring: { limit?: number; by?: 'events' | 'bytes'; window?: number } }>(
      '/admin/alf/top',
      {
        auth,
        schema: {
          querystring: {
            type: 'object',
            additionalProperties: false,
            properties: {
              limit: { type: 'integer', minimum: 1, maximum: 1000 },
              by: { type: 'string', enum: ['events', 'bytes'] },
              window: { type: 'integer', minimum: 1, maximum: 59 },
            },
          },
        },
      },
      async (request) => {
        const { limit, by, window } = request.query;
        const report = this.pipeline.top({
          ...(limit !== undefined ? { limit } : {}),
          ...(by !== undefined ? { by } : {}),
          ...(window !== undefined ? { windowSec: window } : {}),
        });
        return {
          ...report,
          throttle:
            'PUT /admin/flags/<drop_flag> {"value": 10000} drops all of a service\'s events (2500: a quarter)',
        };
      },
    );
    app.get('/admin/alf/status', { auth }, async () => this.status());
    app.get('/admin/alf/rules', { auth }, async () => ({
      generation: this.pipeline.generation,
      rules: this.pipeline.rules.document,
    }));
    app.post('/admin/alf/reload', { auth }, async (_request, reply) => {
      const result = await this.reload();
      return reply.code(result.ok ? 200 : 422).send(result);
    });
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#pollTimer);
    clearInterval(this.#evictTimer);
    this.#watcher?.close();
    this.pipeline.close();
    this.dials.close();
    this.deadLetters.close();
    await this.delivery.close();
  }
}

/** One real listener per signal, however many handlers wait on it (no listener-leak warnings). */
const abortCallbacks = new WeakMap<AbortSignal, Set<() => void>>();

function onAbort(signal: AbortSignal, callback: () => void): () => void {
  let set = abortCallbacks.get(signal);
  if (!set) {
    const callbacks = new Set<() => void>();
    set = callbacks;
    abortCallbacks.set(signal, callbacks);
    signal.addEventListener(
      'abort',
      () => {
        for (const cb of [...callbacks]) cb();
        callbacks.clear();
      },
      { once: true },
    );
  }
  set.add(callback);
  return () => set.delete(callback);
}

/** Wait for `promise`, or reject when `signal` aborts (calling `abandon` first). */
function abortable<T>(promise: Promise<T>, signal: AbortSignal, abandon?: (err: Error) => void): Promise<T> {
  const fail = () => {
    const err = new Error('abandoned at the shutdown deadline');
    abandon?.(err);
    return err;
  };
  if (signal.aborted) return Promise.reject(fail());
  return new Promise<T>((resolve, reject) => {
    const off = onAbort(signal, () => reject(fail()));
    promise.then(
      (v) => {
        off();
        resolve(v);
      },
      (err) => {
        off();
        reject(err);
      },
    );
  });
}
