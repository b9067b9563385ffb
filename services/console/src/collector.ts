/**
 * Polls every service of the fleet on a timer, concurrently, each request with its own timeout,
 * and keeps the latest snapshot per service plus ten minutes of chart series. Never throws: a
 * service that does not answer is shown as down with the error.
 */
import type { Service } from '@fleet/chassis';
import type { ServiceKind, ServiceTarget } from './config.js';
import { type FetchResult, fetchService } from './fetch-json.js';
import {
  histogramBuckets,
  parsePrometheus,
  quantileOfDelta,
  type Sample,
  sumBy,
  sumOf,
} from './prometheus.js';
import { RingSeries } from './series.js';

export const SERIES_WINDOW_MS = 10 * 60 * 1000;
/** Request rate shown per service: averaged over this window. */
export const RATE_WINDOW_MS = 10_000;
/** p99 latency shown per service: over the requests of this window. */
export const LATENCY_WINDOW_MS = 60_000;
/** Versions rarely change: /admin/info is read this often (and after the service was down). */
export const INFO_REFRESH_MS = 30_000;

const REQUEST_METRIC = 'http_server_request_duration_seconds';
/** The console's own probes (and other scrapers') are not the service's traffic. */
const isTraffic = (labels: Record<string, string>) =>
  !/^\/(health|metrics|admin)(\/|$)/.test(labels.route ?? '');

export interface CheckView {
  status: string;
  critical: boolean;
  duration_ms: number | null;
  error: string | null;
  details: unknown;
}

export interface AlfView {
  totals: {
    events_in: number;
    forwarded: number;
    dropped: number;
    dropped_by_reason: Record<string, number>;
  };
  rates: { events_in_per_s: number | null; forwarded_per_s: number | null; dropped_per_s: number | null };
  top: AlfTopRow[];
  top_window_seconds: number | null;
  status: Record<string, unknown> | null;
}

export interface AlfTopRow {
  service: string;
  events_per_s: number;
  bytes_per_s: number;
  dropped_per_s: number;
  drop_flag: string;
  drop_basis_points: number;
}

export interface IndexView {
  name: string;
  cluster: string;
  owner: string;
  datatype: string;
  disabled: boolean;
  retention_days: number | null;
  max_total_data_size_mb: number | null;
}

export interface DeploymentView {
  id: string;
  cluster: string;
  status: string;
  requested_by: string;
  created_at: string | null;
  finished_at: string | null;
  error: string | null;
}

export interface PluginInstanceView {
  id: string;
  plugin: string;
  enabled: boolean;
  running: boolean;
  paused_by_flag: boolean;
  cursor: unknown;
  cursor_seq: number | null;
  cursor_updated_at: string | null;
  lag_seconds: number | null;
  circuit: string | null;
  last_success_at: string | null;
}

export interface ServiceSnapshot {
  name: string;
  url: string;
  kind: ServiceKind;
  /** The process answers /health/live. */
  live: boolean;
  ready: boolean;
  /** Why it is down (no answer to /health/live), else null. */
  error: string | null;
  readiness: { status: string | null; reason: string | null; checks: Record<string, CheckView> };
  version: string | null;
  chassis_version: string | null;
  node_version: string | null;
  uptime_s: number | null;
  log_level: string | null;
  log_levels: string[];
  requests: { rate_per_s: number | null; p99_ms: number | null; window_requests: number | null };
  /** Errors of individual reads (admin routes, kind-specific routes), by what was read. */
  problems: Record<string, string>;
  polled_at: string | null;
  alf?: AlfView;
  indexes?: IndexView[];
  deployments?: DeploymentView[];
  plugin_instances?: PluginInstanceView[];
}

export interface SeriesView {
  window_ms: number;
  poll_ms: number;
  alf: { t: number[]; events_in: number[]; forwarded: number[]; dropped: number[] };
  requests: Record<string, { t: number[]; v: number[] }>;
}

export interface CollectorOptions {
  services: readonly ServiceTarget[];
  token: string;
  pollMs: number;
  requestTimeoutMs: number;
  log: Service['log'];
}

interface RequestSample {
  at: number;
  count: number;
  buckets: Map<number, number>;
}

interface AlfSample {
  at: number;
  in: number;
  forwarded: number;
  dropped: number;
}

interface ServiceState {
  target: ServiceTarget;
  snapshot: ServiceSnapshot;
  requestSamples: RequestSample[];
  alfPrevious: AlfSample | null;
  requestSeries: RingSeries;
  /** Latest per-interval ALF rates, summed across ALF instances into the fleet series. */
  alfRates: { in: number; forwarded: number; dropped: number } | null;
  /** When /admin/info last answered (0: never, or the service was down since). */
  infoAt: number;
}

function emptySnapshot(target: ServiceTarget): ServiceSnapshot {
  return {
    name: target.name,
    url: target.url,
    kind: target.kind,
    live: false,
    ready: false,
    error: 'not polled yet',
    readiness: { status: null, reason: null, checks: {} },
    version: null,
    chassis_version: null,
    node_version: null,
    uptime_s: null,
    log_level: null,
    log_levels: [],
    requests: { rate_per_s: null, p99_ms: null, window_requests: null },
    problems: {},
    polled_at: null,
  };
}

function str(value: unknown): string | null {
  return typeof value === 'string' ? value : null;
}

function num(value: unknown): number | null {
  return typeof value === 'number' && Number.isFinite(value) ? value : null;
}

function record(value: unknown): Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : {};
}

function list(value: unknown): Record<string, unknown>[] {
  return Array.isArray(value) ? value.map(record) : [];
}

function round(n: number, digits = 2): number {
  const f = 10 ** digits;
  return Math.round(n * f) / f;
}

export class Collector {
  readonly #options: CollectorOptions;
  readonly #states = new Map<string, ServiceState>();
  readonly #capacity: number;
  readonly #alfSeries: { in: RingSeries; forwarded: RingSeries; dropped: RingSeries };
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<void> | undefined;
  #stopped = false;

  constructor(options: CollectorOptions) {
    this.#options = options;
    // Ten minutes of points at the poll interval (bounded for very short intervals).
    this.#capacity = Math.min(6000, Math.ceil(SERIES_WINDOW_MS / Math.max(1, options.pollMs)) + 1);
    this.#alfSeries = {
      in: new RingSeries(this.#capacity),
      forwarded: new RingSeries(this.#capacity),
      dropped: new RingSeries(this.#capacity),
    };
    for (const target of options.services) this.addTarget(target);
  }

  /** Watch one more service (the console adds itself once it listens); a known name is ignored. */
  addTarget(target: ServiceTarget): void {
    if (this.#states.has(target.name)) return;
    this.#states.set(target.name, {
      target,
      snapshot: emptySnapshot(target),
      requestSamples: [],
      alfPrevious: null,
      requestSeries: new RingSeries(this.#capacity),
      alfRates: null,
      infoAt: 0,
    });
  }

  /** Poll now, then every pollMs (a slow poll delays the next one rather than overlapping it). */
  start(): void {
    this.#stopped = false;
    const tick = async () => {
      await this.poll();
      if (this.#stopped) return;
      this.#timer = setTimeout(tick, this.#options.pollMs);
      this.#timer.unref();
    };
    void tick();
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    await this.#running;
  }

  target(name: string): ServiceTarget | undefined {
    return this.#states.get(name)?.target;
  }

  snapshots(): ServiceSnapshot[] {
    return [...this.#states.values()].map((s) => s.snapshot);
  }

  series(): SeriesView {
    const since = Date.now() - SERIES_WINDOW_MS;
    const inPoints = this.#alfSeries.in.points(since);
    const requests: SeriesView['requests'] = {};
    for (const [name, state] of this.#states) requests[name] = state.requestSeries.points(since);
    return {
      window_ms: SERIES_WINDOW_MS,
      poll_ms: this.#options.pollMs,
      alf: {
        t: inPoints.t,
        events_in: inPoints.v,
        forwarded: this.#alfSeries.forwarded.points(since).v,
        dropped: this.#alfSeries.dropped.points(since).v,
      },
      requests,
    };
  }

  /** One round over every service; concurrent polls share the round in progress. */
  poll(): Promise<void> {
    this.#running ??= (async () => {
      try {
        await Promise.all([...this.#states.values()].map((state) => this.#pollService(state)));
        this.#recordAlfSeries();
      } catch (err) {
        // #pollService handles its own failures; this is a bug guard, not a code path
        this.#options.log.error({ err }, 'console poll failed');
      } finally {
        this.#running = undefined;
      }
    })();
    return this.#running;
  }

  /** A fresh round after the one in progress (which may have read the state before a change). */
  async pollAgain(): Promise<void> {
    await this.#running;
    await this.poll();
  }

  #get<T = unknown>(state: ServiceState, path: string, auth = true): Promise<FetchResult<T>> {
    return fetchService<T>(`${state.target.url}${path}`, {
      timeoutMs: this.#options.requestTimeoutMs,
      ...(auth ? { token: this.#options.token } : {}),
    });
  }

  async #pollService(state: ServiceState): Promise<void> {
    const { target } = state;
    const readInfo = Date.now() - state.infoAt >= INFO_REFRESH_MS;
    const [live, ready, metrics, info, level, extra] = await Promise.all([
      this.#get(state, '/health/live', false),
      this.#get<Record<string, unknown>>(state, '/health/ready', false),
      this.#get(state, '/metrics', false),
      readInfo ? this.#get<Record<string, unknown>>(state, '/admin/info') : null,
      this.#get<Record<string, unknown>>(state, '/admin/log-level'),
      this.#pollKind(state),
    ]);
    const now = Date.now();
    const previous = state.snapshot;
    const problems: Record<string, string> = { ...extra.problems };
    const snapshot: ServiceSnapshot = {
      ...emptySnapshot(target),
      live: live.ok,
      error: live.ok ? null : (live.error ?? 'not live'),
      polled_at: new Date(now).toISOString(),
    };

    // Readiness: the body carries per-check detail on 200 and 503 alike.
    if (ready.body) {
      const body = record(ready.body);
      const checks: Record<string, CheckView> = {};
      for (const [name, raw] of Object.entries(record(body.checks))) {
        const c = record(raw);
        checks[name] = {
          status: str(c.status) ?? 'unknown',
          critical: c.critical !== false,
          duration_ms: num(c.duration_ms),
          error: str(c.error),
          details: c.details ?? null,
        };
      }
      snapshot.readiness = { status: str(body.status), reason: str(body.reason), checks };
    } else if (ready.error) problems.ready = ready.error;
    snapshot.ready = ready.status === 200;

    if (info?.ok && info.body) {
      const body = record(info.body);
      snapshot.version = str(body.version);
      snapshot.chassis_version = str(body.chassis_version);
      snapshot.node_version = str(body.node_version);
      snapshot.uptime_s = num(body.uptime_s);
      state.infoAt = now;
    } else if (live.ok) {
      // Not read this time (or the admin route failed): keep what we knew, the uptime moves on.
      if (info) problems.info = info.error ?? 'unexpected answer (not JSON)';
      snapshot.version = previous.version;
      snapshot.chassis_version = previous.chassis_version;
      snapshot.node_version = previous.node_version;
      snapshot.uptime_s =
        previous.uptime_s === null || previous.polled_at === null
          ? null
          : Math.round(previous.uptime_s + (now - Date.parse(previous.polled_at)) / 1000);
    } else if (info) problems.info = info.error ?? 'unexpected answer (not JSON)';
    // A service that was down may have been redeployed: read its versions again next time.
    if (!live.ok) state.infoAt = 0;
    if (level.ok && level.body) {
      const body = record(level.body);
      snapshot.log_level = str(body.level);
      snapshot.log_levels = Array.isArray(body.levels)
        ? body.levels.filter((l) => typeof l === 'string')
        : [];
    } else problems.log_level = level.error ?? 'unexpected answer (not JSON)';

    if (metrics.ok) {
      const samples = parsePrometheus(metrics.text);
      snapshot.requests = this.#requestStats(state, samples, now);
      if (target.kind === 'alf') snapshot.alf = this.#alfView(state, samples, now, extra);
    } else {
      problems.metrics = metrics.error ?? 'no answer';
      state.requestSamples = [];
      state.alfPrevious = null;
      state.alfRates = null;
      if (target.kind === 'alf') snapshot.alf = this.#alfView(state, [], now, extra);
    }
    if (extra.indexes) snapshot.indexes = extra.indexes;
    if (extra.deployments) snapshot.deployments = extra.deployments;
    if (extra.instances) snapshot.plugin_instances = extra.instances;
    snapshot.problems = problems;
    state.snapshot = snapshot;
  }

  /** Request rate (last RATE_WINDOW_MS) and p99 (last LATENCY_WINDOW_MS) from counter deltas. */
  #requestStats(state: ServiceState, samples: Sample[], now: number): ServiceSnapshot['requests'] {
    const current: RequestSample = {
      at: now,
      count: sumOf(samples, `${REQUEST_METRIC}_count`, isTraffic),
      buckets: histogramBuckets(samples, REQUEST_METRIC, isTraffic),
    };
    const history = state.requestSamples;
    const last = history[history.length - 1];
    // A counter that went down: the service restarted; its history no longer applies.
    if (last && current.count < last.count) history.length = 0;
    const newest = history[history.length - 1];
    if (newest)
      state.requestSeries.push(now, round((current.count - newest.count) / ((now - newest.at) / 1000)));
    history.push(current);
    while (history.length > 1 && (history[0] as RequestSample).at < now - LATENCY_WINDOW_MS) history.shift();

    const oldest = history[0] as RequestSample;
    if (oldest === current) return { rate_per_s: null, p99_ms: null, window_requests: null };
    const rateBase = history.find((s) => s.at >= now - RATE_WINDOW_MS && s !== current) ?? oldest;
    const seconds = (now - rateBase.at) / 1000;
    const p99 = quantileOfDelta(0.99, current.buckets, oldest.buckets);
    return {
      rate_per_s: seconds > 0 ? round((current.count - rateBase.count) / seconds) : null,
      p99_ms: p99 === null ? null : round(p99 * 1000),
      window_requests: current.count - oldest.count,
    };
  }

  #alfView(state: ServiceState, samples: Sample[], now: number, extra: KindResult): AlfView {
    const totals = {
      events_in: sumOf(samples, 'alf_events_consumed_total'),
      forwarded: sumOf(samples, 'alf_events_delivered_total'),
      dropped: sumOf(samples, 'alf_events_dropped_total'),
      dropped_by_reason: sumBy(samples, 'alf_events_dropped_total', 'reason'),
    };
    const current: AlfSample = {
      at: now,
      in: totals.events_in,
      forwarded: totals.forwarded,
      dropped: totals.dropped,
    };
    const prev = state.alfPrevious;
    let rates: AlfView['rates'] = { events_in_per_s: null, forwarded_per_s: null, dropped_per_s: null };
    state.alfRates = null;
    if (samples.length > 0) {
      if (
        prev &&
        current.in >= prev.in &&
        current.forwarded >= prev.forwarded &&
        current.dropped >= prev.dropped
      ) {
        const s = (now - prev.at) / 1000;
        const r = {
          in: round((current.in - prev.in) / s),
          forwarded: round((current.forwarded - prev.forwarded) / s),
          dropped: round((current.dropped - prev.dropped) / s),
        };
        state.alfRates = r;
        rates = { events_in_per_s: r.in, forwarded_per_s: r.forwarded, dropped_per_s: r.dropped };
      }
      state.alfPrevious = current;
    }
    return {
      totals,
      rates,
      top: extra.top ?? [],
      top_window_seconds: extra.topWindow ?? null,
      status: extra.alfStatus ?? null,
    };
  }

  /** One point per poll: the fleet's ALF rates, summed over every ALF instance that reported. */
  #recordAlfSeries(): void {
    let any = false;
    const sum = { in: 0, forwarded: 0, dropped: 0 };
    for (const state of this.#states.values()) {
      if (!state.alfRates) continue;
      any = true;
      sum.in += state.alfRates.in;
      sum.forwarded += state.alfRates.forwarded;
      sum.dropped += state.alfRates.dropped;
    }
    if (!any) return;
    const now = Date.now();
    this.#alfSeries.in.push(now, round(sum.in));
    this.#alfSeries.forwarded.push(now, round(sum.forwarded));
    this.#alfSeries.dropped.push(now, round(sum.dropped));
  }

  /** The reads only some kinds of service have (response shapes from their route handlers). */
  async #pollKind(state: ServiceState): Promise<KindResult> {
    const problems: Record<string, string> = {};
    switch (state.target.kind) {
      case 'alf': {
        const [top, status] = await Promise.all([
          this.#get<Record<string, unknown>>(state, '/admin/alf/top?limit=20&window=10'),
          this.#get<Record<string, unknown>>(state, '/admin/alf/status'),
        ]);
        if (!top.ok) problems.alf_top = top.error ?? 'no answer';
        if (!status.ok) problems.alf_status = status.error ?? 'no answer';
        const report = record(top.body);
        return {
          problems,
          top: top.ok
            ? list(report.services).map((r) => ({
                service: String(r.service ?? ''),
                events_per_s: num(r.events_per_s) ?? 0,
                bytes_per_s: num(r.bytes_per_s) ?? 0,
                dropped_per_s: num(r.dropped_per_s) ?? 0,
                drop_flag: String(r.drop_flag ?? ''),
                drop_basis_points: num(r.drop_basis_points) ?? 0,
              }))
            : [],
          topWindow: num(report.window_seconds),
          alfStatus: status.ok ? record(status.body) : null,
        };
      }
      case 'index-provisioner': {
        const [indexes, deployments] = await Promise.all([
          this.#get<Record<string, unknown>>(state, '/v1/indexes?limit=200'),
          this.#get<Record<string, unknown>>(state, '/v1/deployments?limit=10'),
        ]);
        if (!indexes.ok) problems.indexes = indexes.error ?? 'no answer';
        if (!deployments.ok) problems.deployments = deployments.error ?? 'no answer';
        return {
          problems,
          indexes: list(record(indexes.body).items).map((i) => ({
            name: String(i.name ?? ''),
            cluster: String(i.cluster ?? ''),
            owner: String(i.owner ?? ''),
            datatype: String(i.datatype ?? ''),
            disabled: i.disabled === true,
            retention_days: num(record(i.retention).days),
            max_total_data_size_mb: num(i.maxTotalDataSizeMB),
          })),
          deployments: list(record(deployments.body).items).map((d) => ({
            id: String(d.id ?? ''),
            cluster: String(d.cluster ?? ''),
            status: String(d.status ?? ''),
            requested_by: String(d.requestedBy ?? ''),
            created_at: str(d.createdAt),
            finished_at: str(d.finishedAt),
            error: str(d.error),
          })),
        };
      }
      case 'plugin-runner': {
        const instances = await this.#get<Record<string, unknown>>(state, '/v1/instances');
        if (!instances.ok) problems.instances = instances.error ?? 'no answer';
        return {
          problems,
          instances: list(record(instances.body).instances).map((i) => {
            const s = record(i.status);
            return {
              id: String(i.id ?? ''),
              plugin: String(i.plugin ?? ''),
              enabled: i.enabled === true,
              running: s.running === true,
              paused_by_flag: s.paused_by_flag === true,
              cursor: s.cursor ?? null,
              cursor_seq: num(s.cursor_seq),
              cursor_updated_at: str(s.cursor_updated_at),
              lag_seconds: num(s.lag_seconds),
              circuit: str(record(s.circuit).state),
              last_success_at: str(s.last_success_at),
            };
          }),
        };
      }
      default:
        return { problems };
    }
  }
}

interface KindResult {
  problems: Record<string, string>;
  top?: AlfTopRow[];
  topWindow?: number | null;
  alfStatus?: Record<string, unknown> | null;
  indexes?: IndexView[];
  deployments?: DeploymentView[];
  instances?: PluginInstanceView[];
}
