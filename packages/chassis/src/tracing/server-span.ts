import {
  type Context,
  isSpanContextValid,
  ROOT_CONTEXT,
  SamplingDecision,
  type Span,
  type SpanContext,
  SpanKind,
  TraceFlags,
  type Tracer,
  trace,
} from '@opentelemetry/api';
import type { Sampler } from '@opentelemetry/sdk-trace-base';
import type { PooledIdGenerator } from './ids.js';

const SERVER = Object.freeze({ kind: SpanKind.SERVER });
const NO_ATTRIBUTES = Object.freeze({});
const NO_LINKS: [] = [];

/** `GET /users/:id`; the method alone when no route matched. */
export function serverSpanName(method: string, route: string | undefined): string {
  return route === undefined ? method : `${method} ${route}`;
}

/**
 * Starts a request's SERVER span, asking the SDK's own sampler first. With ratio sampling most
 * requests are not recorded, and for those the SDK's `Tracer.startSpan` still builds a links
 * array, sanitizes attributes, records self-metrics and wraps ids it could have skipped; here a
 * dropped span is the same non-recording span (same ids from the same generator, same sampler
 * decision, the parent's trace state), made directly. Recorded spans are started by the SDK, with
 * the trace id the decision was made on.
 */
export class ServerSpanStarter {
  readonly #tracer: Tracer;
  readonly #sampler: Sampler;
  readonly #ids: PooledIdGenerator;
  /** TraceIdRatioBasedSampler's bound for new traces, when the sampler is a ratio one. */
  readonly #rootBound: number | undefined;

  constructor(tracer: Tracer, sampler: Sampler, ids: PooledIdGenerator, rootRatio?: number) {
    this.#tracer = tracer;
    this.#sampler = sampler;
    this.#ids = ids;
    this.#rootBound =
      rootRatio === undefined ? undefined : rootRatio >= 1 ? 0x100000000 : Math.floor(rootRatio * 0xffffffff);
  }

  /** The SERVER span of a `method` request to `route`; its name is only built when the SDK needs it. */
  start(method: string, route: string | undefined, parent: Context): Span {
    const parentIds = parent === ROOT_CONTEXT ? undefined : trace.getSpanContext(parent);
    const child = parentIds !== undefined && isSpanContextValid(parentIds);
    const ids = this.#ids;
    const traceId = child ? parentIds.traceId : ids.generateTraceId();
    const bound = this.#rootBound;
    // a new trace under a ratio sampler: the sampler's own test, on the id's random words
    const recorded =
      !child && bound !== undefined
        ? ids.lastTraceIdXor < bound
        : this.#sampler.shouldSample(
            parent,
            traceId,
            serverSpanName(method, route),
            SpanKind.SERVER,
            NO_ATTRIBUTES,
            NO_LINKS,
          ).decision !== SamplingDecision.NOT_RECORD;
    if (!recorded) {
      const span: SpanContext = { traceId, spanId: ids.generateSpanId(), traceFlags: TraceFlags.NONE };
      // the built-in samplers set no trace state of their own: the parent's carries on
      if (child && parentIds.traceState !== undefined) span.traceState = parentIds.traceState;
      return trace.wrapSpanContext(span);
    }
    if (child) return this.#tracer.startSpan(serverSpanName(method, route), SERVER, parent);
    ids.reuseTraceId(traceId);
    const span = this.#tracer.startSpan(serverSpanName(method, route), SERVER, parent);
    // not left for another trace should the SDK not have asked for an id
    ids.reuseTraceId(undefined);
    return span;
  }
}
