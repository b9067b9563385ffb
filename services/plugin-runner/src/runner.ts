/**
 * The runner of one replica: every tick it looks for due instances, takes the lease of those it
 * has room for, and runs them. A run polls the plugin page by page; each page's events are
 * produced to Kafka BEFORE the page's cursor is committed (fenced by the lease's token), so a crash
 * in between replays the page and never skips one. Leases are renewed while the run lasts; a
 * replica that cannot renew stops the run before it produces anything more.
 */
import type { Flags, ProduceMessage } from '@fleet/chassis';
import { type CircuitPolicy, circuitAfterRun } from './circuit.js';
import {
  ConfigValidationError,
  errorKind,
  errorMessage,
  LeaseLostError,
  ProduceError,
  RateLimitedError,
  RunAbortedError,
  RunTimeoutError,
  storeCall,
} from './errors.js';
import { createHttpClient, type HttpPolicy, jitteredBackoff, type RateLimitState } from './http.js';
import type { RunnerMetrics } from './metrics.js';
import { type Logger, type Plugin, preparePage } from './plugin.js';
import { parseSchedule } from './schedule.js';
import { resolveSecrets, type SecretPolicy } from './secrets.js';
import type { Lease, RunErrorInfo, Store } from './store.js';

export interface RunnerSettings {
  replicaId: string;
  topic: string;
  tickMs: number;
  leaseTtlMs: number;
  maxConcurrentRuns: number;
  maxRunMs: number;
  maxPagesPerRun: number;
  maxEventsPerPage: number;
  produceBatchSize: number;
  /** On shutdown, how long running runs may take to reach a page boundary before they are aborted. */
  shutdownGraceMs: number;
  http: HttpPolicy;
  failureBackoff: { baseMs: number; maxMs: number };
  circuit: CircuitPolicy;
  keepRuns: number;
  secrets: SecretPolicy;
}

/** Where pages go: the chassis Kafka producer (idempotent, acks=all) in production. */
export interface EventSink {
  send(topic: string, messages: ProduceMessage[]): Promise<unknown>;
}

export type RunOutcome = 'success' | 'failed' | 'rate_limited' | 'lease_lost' | 'paused' | 'aborted';

export interface RunInfo {
  instanceId: string;
  plugin: string;
  replica: string;
  token: number;
  outcome: RunOutcome;
  pages: number;
  events: number;
  startedAt: number;
  finishedAt: number;
  cursorBefore: unknown;
  cursorAfter: unknown;
  error?: RunErrorInfo;
  /** More pages were pending when the run stopped at maxPagesPerRun: the next run is due at once. */
  more: boolean;
}

export interface RunnerDeps {
  store: Store;
  plugins: ReadonlyMap<string, Plugin>;
  settings: RunnerSettings;
  log: Logger;
  metrics: RunnerMetrics;
  flags: Flags;
  sink: EventSink;
}

interface RunningRun {
  instanceId: string;
  plugin: string;
  token: number;
  startedAt: number;
  controller: AbortController;
  done: Promise<void>;
}

const MAX_RECENT_ERRORS = 10;

export function pluginFlag(plugin: string): string {
  return `plugins.${plugin}.enabled`;
}

export function instanceFlag(id: string): string {
  return `plugins.instance.${id}.enabled`;
}

/** Wait for `promise`, or reject with the signal's reason as soon as it aborts. */
function abortable<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  // The promise may still settle after we stopped waiting: its rejection is not news
  promise.catch(() => {});
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (err) => {
        signal.removeEventListener('abort', onAbort);
        reject(err);
      },
    );
  });
}

export class Runner {
  readonly replicaId: string;
  readonly #deps: RunnerDeps;
  readonly #running = new Map<string, RunningRun>();
  readonly #rateLimits = new Map<string, RateLimitState>();
  readonly #definedFlags = new Set<string>();
  readonly #warned = new Set<string>();
  readonly #listeners = new Set<(info: RunInfo) => void>();
  #timer: NodeJS.Timeout | undefined;
  #ticking = false;
  /** The tick in progress: stop() waits for it, so no run starts behind its back. */
  #tickDone: Promise<void> = Promise.resolve();
  #again = false;
  #started = false;
  #stopped = false;
  #lastSnapshot = 0;
  #stopping: Promise<void> | undefined;

  constructor(deps: RunnerDeps) {
    this.#deps = deps;
    this.replicaId = deps.settings.replicaId;
    deps.metrics.refresh = () => this.refreshSnapshot();
    for (const name of deps.plugins.keys())
      this.#defineFlag(pluginFlag(name), `Runs of plugin ${name} (off: paused)`);
  }

  get settings(): RunnerSettings {
    return this.#deps.settings;
  }

  /** Instances running on this replica right now. */
  running(): Array<{ instanceId: string; plugin: string; token: number; startedAt: number }> {
    return [...this.#running.values()].map(({ instanceId, plugin, token, startedAt }) => ({
      instanceId,
      plugin,
      token,
      startedAt,
    }));
  }

  /** Called after every run of this replica (tests, observability). Returns an unsubscribe function. */
  onRun(listener: (info: RunInfo) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Whether the flags let this instance run (plugin and instance switches both on). */
  enabled(plugin: string, instanceId: string): boolean {
    this.#defineFlags(plugin, instanceId);
    const flags = this.#deps.flags;
    return flags.isAvailable(pluginFlag(plugin)) && flags.isAvailable(instanceFlag(instanceId));
  }

  /** The two switches of an instance (defined on first use, default on), without evaluating them. */
  flagState(plugin: string, instanceId: string): { plugin: boolean; instance: boolean } {
    this.#defineFlags(plugin, instanceId);
    const flags = this.#deps.flags;
    return {
      plugin: flags.value(pluginFlag(plugin)) > 0,
      instance: flags.value(instanceFlag(instanceId)) > 0,
    };
  }

  #defineFlags(plugin: string, instanceId: string): void {
    this.#defineFlag(pluginFlag(plugin), `Runs of plugin ${plugin} (off: paused)`);
    this.#defineFlag(instanceFlag(instanceId), `Runs of plugin instance ${instanceId} (off: paused)`);
  }

  start(): void {
    if (this.#started || this.#stopped) return;
    this.#started = true;
    this.#schedule(0);
  }

  /** Look for due instances now (after an API change) instead of at the next tick. */
  kick(): void {
    if (!this.#started || this.#stopped) return;
    if (this.#ticking) {
      this.#again = true;
      return;
    }
    this.#schedule(0);
  }

  /**
   * Stop taking work and stop the running runs: a page whose delivery has begun is finished and
   * committed (waiting up to the grace), the others are left to the next holder; leases are released
   * with the instance due at once, so another replica continues without waiting for the TTL.
   */
  stop(): Promise<void> {
    this.#stopping ??= (async () => {
      this.#stopped = true;
      clearTimeout(this.#timer);
      await this.#tickDone.catch(() => {});
      const runs = [...this.#running.values()];
      if (runs.length === 0) return;
      const all = Promise.allSettled(runs.map((r) => r.done));
      const grace = new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, this.#deps.settings.shutdownGraceMs);
        void all.then(() => {
          clearTimeout(timer);
          resolve();
        });
      });
      for (const run of runs) run.controller.abort(new RunAbortedError('shutdown'));
      await grace;
    })();
    return this.#stopping;
  }

  #defineFlag(name: string, description: string): void {
    if (this.#definedFlags.has(name)) return;
    this.#definedFlags.add(name);
    try {
      this.#deps.flags.define(name, { default: true, description, owner: 'plugin-runner' });
    } catch (err) {
      this.#deps.log.warn({ err, flag: name }, 'cannot define flag');
    }
  }

  #schedule(delayMs: number): void {
    clearTimeout(this.#timer);
    if (this.#stopped) return;
    this.#timer = setTimeout(() => void this.#loop(), delayMs);
    this.#timer.unref();
  }

  async #loop(): Promise<void> {
    if (this.#stopped) return;
    this.#ticking = true;
    try {
      this.#tickDone = this.#tick();
      await this.#tickDone;
    } catch (err) {
      this.#deps.log.warn({ err }, 'scheduler tick failed');
    } finally {
      this.#ticking = false;
    }
    const tick = this.#deps.settings.tickMs;
    if (this.#again) {
      this.#again = false;
      this.#schedule(0);
    } else {
      // Jitter keeps replicas from polling the database in lockstep
      this.#schedule(Math.round(tick * (0.8 + Math.random() * 0.4)));
    }
  }

  async #tick(): Promise<void> {
    const { store, settings } = this.#deps;
    if (Date.now() - this.#lastSnapshot >= Math.max(settings.tickMs, 1000)) await this.refreshSnapshot();
    const free = settings.maxConcurrentRuns - this.#running.size;
    if (free <= 0) return;
    // Instances switched off entirely are left out of the query, so they cannot crowd out the others
    const off = this.#switchedOff();
    const plugins = [...this.#deps.plugins.keys()].filter((name) => !off.plugins.has(name));
    const due = await store.due(free * 2 + 2, [...this.#running.keys(), ...off.instances], plugins);
    for (const candidate of due) {
      if (this.#stopped || this.#running.size >= settings.maxConcurrentRuns) break;
      // Partly on (a percentage): evaluated per candidate
      if (!this.enabled(candidate.plugin, candidate.id)) continue;
      const lease = await store.acquire(candidate.id, this.replicaId, settings.leaseTtlMs);
      if (!lease) continue;
      this.#start(candidate.plugin, lease);
    }
  }

  /** Reload the per-instance view behind the gauges and the readiness check. */
  async refreshSnapshot(): Promise<void> {
    this.#lastSnapshot = Date.now();
    const snapshot = await this.#deps.store.snapshot();
    this.#deps.metrics.snapshot = snapshot;
    this.#deps.metrics.markRefreshed();
    for (const s of snapshot) {
      const key = `${s.id}/${s.plugin}`;
      if (this.#deps.plugins.has(s.plugin) || this.#warned.has(key)) continue;
      this.#warned.add(key);
      this.#deps.log.warn(
        { instance: s.id, plugin: s.plugin },
        'instance of a plugin this replica does not have: left to replicas that have it',
      );
    }
  }

  /** Plugins and instances whose flag is at 0 (fully off). */
  #switchedOff(): { plugins: Set<string>; instances: string[] } {
    const plugins = new Set<string>();
    const instances: string[] = [];
    for (const flag of this.#deps.flags.list()) {
      if (flag.value > 0 || !flag.name.startsWith('plugins.') || !flag.name.endsWith('.enabled')) continue;
      const middle = flag.name.slice('plugins.'.length, -'.enabled'.length);
      if (middle.startsWith('instance.')) instances.push(middle.slice('instance.'.length));
      else plugins.add(middle);
    }
    return { plugins, instances };
  }

  #start(plugin: string, lease: Lease): void {
    const controller = new AbortController();
    const run: RunningRun = {
      instanceId: lease.instanceId,
      plugin,
      token: lease.token,
      startedAt: Date.now(),
      controller,
      done: Promise.resolve(),
    };
    this.#running.set(lease.instanceId, run);
    this.#deps.metrics.leaseHeld.set({ plugin, instance: lease.instanceId }, 1);
    run.done = this.#execute(plugin, lease, controller)
      .catch((err) => this.#deps.log.error({ err, instance: lease.instanceId }, 'run bookkeeping failed'))
      .finally(() => {
        this.#running.delete(lease.instanceId);
        this.#deps.metrics.leaseHeld.set({ plugin, instance: lease.instanceId }, 0);
        this.kick();
      });
  }

  async #execute(pluginName: string, lease: Lease, controller: AbortController): Promise<void> {
    const { store, settings, metrics } = this.#deps;
    const { instanceId: id, token } = lease;
    const signal = controller.signal;
    const startedAt = Date.now();
    const t0 = performance.now();
    const log = this.#deps.log.child({ instance: id, plugin: pluginName, fencing_token: token });
    let outcome: RunOutcome = 'success';
    let failure: unknown;
    let pages = 0;
    let events = 0;
    let more = false;
    let cursor: unknown = lease.cursor;
    let seq = lease.cursorSeq;
    let lastRenewal = performance.now();
    let iterator: AsyncIterator<unknown> | undefined;
    let scheduleSpec: unknown;

    const renew = async (): Promise<void> => {
      // The database sets the new expiry when it gets the request: count from when it was sent
      const sentAt = performance.now();
      let ok: boolean;
      try {
        ok = await storeCall(store.renew(id, this.replicaId, token, settings.leaseTtlMs));
      } catch (err) {
        // Cannot tell whether we still hold it: past the TTL we must assume we do not
        if (performance.now() - lastRenewal > settings.leaseTtlMs)
          controller.abort(new LeaseLostError(`lease not renewed within its TTL: ${errorMessage(err)}`));
        throw err;
      }
      if (!ok) {
        controller.abort(new LeaseLostError());
        throw new LeaseLostError();
      }
      lastRenewal = Math.max(lastRenewal, sentAt);
    };
    const renewer = setInterval(
      () => {
        // A lease not confirmed within its TTL may be someone else's by now (the renewal may hang)
        if (performance.now() - lastRenewal > settings.leaseTtlMs)
          controller.abort(new LeaseLostError('lease not confirmed within its TTL'));
        void renew().catch(() => {});
      },
      Math.max(10, Math.floor(settings.leaseTtlMs / 3)),
    );
    const deadline = setTimeout(
      () => controller.abort(new RunTimeoutError(settings.maxRunMs)),
      settings.maxRunMs,
    );

    let runId: number | undefined;
    try {
      runId = await storeCall(store.insertRun(id, this.replicaId, token, cursor));
      const instance = await storeCall(store.get(id));
      if (!instance) throw new LeaseLostError('instance deleted');
      scheduleSpec = instance.schedule;
      const plugin = this.#deps.plugins.get(instance.plugin);
      if (!plugin)
        throw new ConfigValidationError([
          { path: '/plugin', message: `unknown plugin '${instance.plugin}'` },
        ]);
      const config = plugin.validateConfig(resolveSecrets(instance.config, settings.secrets));
      let rate = this.#rateLimits.get(id);
      if (!rate) {
        rate = {};
        this.#rateLimits.set(id, rate);
      }
      const http = createHttpClient(settings.http, signal, rate, {
        onResponse: (status) => metrics.httpRequests.inc({ plugin: pluginName, status: String(status) }),
        onRetry: (reason) => metrics.httpRetries.inc({ plugin: pluginName, reason }),
      });
      const iterable = plugin.poll({
        cursor: cursor === null ? undefined : cursor,
        config,
        http,
        log,
        signal,
        instance: { id, plugin: pluginName },
      });
      iterator = iterable[Symbol.asyncIterator]();
      const compare = plugin.compareCursors?.bind(plugin) as ((a: unknown, b: unknown) => number) | undefined;
      for (;;) {
        signal.throwIfAborted();
        const next = await abortable(Promise.resolve(iterator.next()), signal);
        if (next.done) break;
        const page = preparePage(next.value, {
          instance: id,
          plugin: pluginName,
          maxEvents: settings.maxEventsPerPage,
          current: cursor,
          compare,
        });
        if (page.duplicates > 0)
          metrics.duplicates.inc({ plugin: pluginName, instance: id }, page.duplicates);
        if (page.events.length > 0) {
          // Confirm the lease right before producing: a replica that lost it must not add to the topic
          signal.throwIfAborted();
          await renew();
          signal.throwIfAborted();
          await this.#produce(pluginName, id, token, page.events);
        }
        if (page.events.length > 0 || page.cursorJson !== JSON.stringify(cursor)) {
          const committed = await storeCall(
            store.commitCursor(id, token, seq, page.cursorJson, page.newestMs, page.events.length),
          );
          if (!committed)
            throw new LeaseLostError('cursor commit fenced off: another replica holds a newer lease');
          seq++;
          cursor = page.cursor;
        }
        pages++;
        events += page.events.length;
        metrics.pages.inc({ plugin: pluginName, instance: id });
        if (page.events.length > 0)
          metrics.events.inc({ plugin: pluginName, instance: id }, page.events.length);
        if (!this.enabled(pluginName, id)) {
          outcome = 'paused';
          log.info('paused by flag: run stops after the committed page');
          break;
        }
        if (signal.aborted) throw signal.reason;
        if (pages >= settings.maxPagesPerRun) {
          more = true;
          break;
        }
      }
    } catch (err) {
      const reason = signal.aborted && !(err instanceof LeaseLostError) ? signal.reason : err;
      failure = reason;
      if (reason instanceof RunAbortedError) outcome = reason.reason === 'shutdown' ? 'aborted' : 'paused';
      else if (errorKind(reason) === 'lease_lost') outcome = 'lease_lost';
      else if (reason instanceof RateLimitedError) outcome = 'rate_limited';
      else outcome = 'failed';
    } finally {
      clearInterval(renewer);
      clearTimeout(deadline);
      if (iterator?.return) {
        const it = iterator;
        // Let the plugin clean up (finally blocks); a plugin stuck in a request is not waited for
        void Promise.resolve()
          .then(() => it.return?.())
          .catch(() => {});
      }
    }

    const finishedAt = Date.now();
    const errorInfo: RunErrorInfo | undefined =
      failure !== undefined && outcome !== 'aborted' && outcome !== 'paused'
        ? {
            at: new Date(finishedAt).toISOString(),
            kind: errorKind(failure),
            message: errorMessage(failure).slice(0, 1000),
          }
        : undefined;
    const seconds = (performance.now() - t0) / 1000;
    metrics.runs.inc({ plugin: pluginName, instance: id, outcome });
    metrics.duration.observe({ plugin: pluginName, outcome }, seconds);
    if (errorInfo) metrics.errors.inc({ plugin: pluginName, instance: id, kind: errorInfo.kind });

    const logFields = {
      outcome,
      pages,
      events,
      duration_ms: Math.round(seconds * 1000),
      ...(errorInfo ? { failure: errorInfo } : {}),
    };
    if (outcome === 'failed') log.warn(logFields, 'run failed');
    else if (outcome === 'lease_lost' || outcome === 'rate_limited')
      log.warn(logFields, `run stopped: ${outcome}`);
    else log.info(logFields, 'run finished');

    if (outcome !== 'lease_lost') {
      const now = Date.now();
      const failed = outcome === 'failed';
      const previous = { failures: lease.consecutiveFailures, opens: lease.circuitOpens, openUntil: null };
      const circuit =
        outcome === 'success' || failed
          ? circuitAfterRun(previous, !failed, now, settings.circuit)
          : previous;
      let next: number;
      if (outcome === 'aborted') next = now;
      else if (failure instanceof RateLimitedError) next = Math.max(now, failure.resetAt);
      else if (circuit.openUntil !== null) next = circuit.openUntil;
      else {
        let regular: number;
        try {
          regular = parseSchedule(scheduleSpec).next(new Date(now)).getTime();
        } catch {
          regular = now + settings.failureBackoff.maxMs;
        }
        if (failed)
          next = Math.min(
            regular,
            now +
              jitteredBackoff(
                circuit.failures,
                settings.failureBackoff.baseMs,
                settings.failureBackoff.maxMs,
              ),
          );
        else next = more ? now : regular;
      }
      if (circuit.openUntil !== null && failed)
        log.error(
          { failures: circuit.failures, open_until: new Date(circuit.openUntil).toISOString() },
          'circuit opened: instance paused after repeated failures',
        );
      try {
        await store.release(id, token, {
          nextRunAt: new Date(next),
          consecutiveFailures: circuit.failures,
          circuitOpens: circuit.opens,
          circuitOpenUntil: circuit.openUntil === null ? null : new Date(circuit.openUntil),
          succeeded: outcome === 'success',
          recentErrors: errorInfo
            ? [errorInfo, ...lease.recentErrors].slice(0, MAX_RECENT_ERRORS)
            : lease.recentErrors,
          lastRun: {
            replica: this.replicaId,
            fencing_token: token,
            started_at: new Date(startedAt).toISOString(),
            finished_at: new Date(finishedAt).toISOString(),
            duration_ms: finishedAt - startedAt,
            outcome,
            pages,
            events,
            ...(errorInfo ? { error: errorInfo } : {}),
          },
        });
      } catch (err) {
        log.warn({ err }, 'cannot release the lease: it expires on its own');
      }
    }
    if (runId !== undefined)
      await store
        .finishRun(runId, outcome, pages, events, cursor, errorInfo, settings.keepRuns)
        .catch((err) => log.warn({ err }, 'cannot record the run'));
    const info: RunInfo = {
      instanceId: id,
      plugin: pluginName,
      replica: this.replicaId,
      token,
      outcome,
      pages,
      events,
      startedAt,
      finishedAt,
      cursorBefore: lease.cursor,
      cursorAfter: cursor,
      more,
      ...(errorInfo ? { error: errorInfo } : {}),
    };
    for (const listener of this.#listeners) {
      try {
        listener(info);
      } catch (err) {
        log.warn({ err }, 'run listener failed');
      }
    }
  }

  async #produce(
    plugin: string,
    instance: string,
    token: number,
    events: ReturnType<typeof preparePage>['events'],
  ): Promise<void> {
    const { sink, settings } = this.#deps;
    const messages: ProduceMessage[] = events.map((e) => ({
      key: e.key,
      value: e.value,
      headers: {
        'event-id': e.key,
        service: e.service,
        level: e.level,
        plugin,
        instance,
        'fencing-token': String(token),
        'content-type': 'application/json',
      },
    }));
    for (let i = 0; i < messages.length; i += settings.produceBatchSize) {
      try {
        await sink.send(settings.topic, messages.slice(i, i + settings.produceBatchSize));
      } catch (err) {
        throw new ProduceError(err);
      }
    }
  }
}
