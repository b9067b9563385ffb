import {
  type Context,
  context,
  INVALID_TRACEID,
  propagation,
  ROOT_CONTEXT,
  type Span,
  type SpanContext,
  SpanKind,
  SpanStatusCode,
  trace,
} from '@opentelemetry/api';
import type { FastifyInstance, FastifyPluginCallback, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { decorateRouteTemplate, routeTemplate } from '../metrics/route.js';
import { onResponseSent } from '../response/observers.js';
import { setLogSpan } from './log-context.js';
import type { TracingPropagation } from './propagation.js';
import { SERVER_TRACER, serverSpanStarter } from './sdk.js';
import { serverSpanName } from './server-span.js';

const kSpan = Symbol('fleet.span');
const kContext = Symbol('fleet.traceContext');
const kParent = Symbol('fleet.traceParent');
const SERVER = Object.freeze({ kind: SpanKind.SERVER });

declare module 'fastify' {
  interface FastifyRequest {
    [kSpan]: Span | null;
    [kContext]: Context | null;
    [kParent]: Context | null;
    /**
     * The request's trace context (its SERVER span; ROOT_CONTEXT when tracing is off), for spans
     * and calls made for the request: `tracer.startSpan(name, {}, request.traceContext())`,
     * `context.with(request.traceContext(), () => producer.send(...))`.
     */
    traceContext(): Context;
    /**
     * W3C trace headers (`traceparent`, `tracestate` when set) continuing the request's trace, to
     * pass to outgoing calls: `fetch(url, { headers: { ...request.traceHeaders() } })`. Empty when
     * tracing is off. Needed in the `request` propagation mode; harmless in `async-context` mode,
     * where the fetch instrumentation adds (and overrides) them under a CLIENT span.
     */
    traceHeaders(): Record<string, string>;
  }
}

/** The request's SERVER span (null when tracing is off). */
export function requestSpan(request: FastifyRequest): Span | null {
  return request[kSpan] ?? null;
}

/** The ids of the request's SERVER span; undefined when tracing is off or the tracer is a no-op. */
export function requestSpanContext(request: FastifyRequest): SpanContext | undefined {
  const span = request[kSpan];
  if (span === null || span === undefined) return undefined;
  const ids = span.spanContext();
  return ids.traceId === INVALID_TRACEID ? undefined : ids;
}

export interface TracingPluginOptions {
  /** Instrumentation scope name (default '@fleet/chassis'). */
  tracerName?: string;
  /** How the request's context reaches its code (default 'async-context', see TracingPropagation). */
  propagation?: TracingPropagation;
}

function traceContext(this: FastifyRequest): Context {
  let ctx = this[kContext];
  if (ctx === null) {
    const span = this[kSpan];
    if (span === null) return ROOT_CONTEXT;
    // request mode: made on first use (a Context per request is not free, most never need it)
    ctx = trace.setSpan(this[kParent] ?? ROOT_CONTEXT, span);
    this[kContext] = ctx;
  }
  return ctx;
}

function traceHeaders(this: FastifyRequest): Record<string, string> {
  const headers: Record<string, string> = {};
  if (this[kSpan] !== null) propagation.inject(this.traceContext(), headers);
  return headers;
}

function decorateTraceContext(app: FastifyInstance): void {
  if (app.hasRequestDecorator('traceContext')) return;
  app.decorateRequest(kSpan, null);
  app.decorateRequest(kContext, null);
  app.decorateRequest(kParent, null);
  app.decorateRequest('traceContext', traceContext);
  app.decorateRequest('traceHeaders', traceHeaders);
}

/** With tracing off: `request.traceContext()` answers ROOT_CONTEXT and `traceHeaders()` `{}`, no hooks. */
export const traceContextPlugin = fp(
  (app: FastifyInstance, _options: unknown, done: () => void) => {
    decorateTraceContext(app);
    done();
  },
  { name: 'fleet-trace-context', fastify: '5.x' },
);

/**
 * One SERVER span per request, continuing an incoming W3C `traceparent`/`tracestate` (the sampler
 * sees the incoming parent). In `async-context` mode the rest of the request (hooks, handler,
 * outgoing fetch calls, log lines) runs inside the span's context; in `request` mode nothing is
 * made active, and code takes the context from the request (`traceContext()`, `traceHeaders()`,
 * `request.log`, whose lines carry the span's ids).
 *
 * Hot path: with ratio sampling most spans are not recorded, so attributes are only built for
 * recording spans (samplers see the span name and kind, not attributes).
 */
const tracingPlugin: FastifyPluginCallback<TracingPluginOptions> = (app, options, done) => {
  decorateTraceContext(app);
  const tracerName = options.tracerName ?? SERVER_TRACER;
  const tracer = trace.getTracer(tracerName);
  const asyncContext = options.propagation !== 'request';
  decorateRouteTemplate(app);
  // the headers the configured propagators read (traceparent, tracestate, baggage by default):
  // most requests to an edge service carry none, and then there is nothing to extract
  const fields = propagation.fields().map((f) => f.toLowerCase());
  app.addHook('onRequest', (request, _reply, next) => {
    const headers = request.headers;
    let parent = ROOT_CONTEXT;
    for (let i = 0; i < fields.length; i++) {
      if (headers[fields[i] as string] !== undefined) {
        parent = propagation.extract(ROOT_CONTEXT, headers);
        break;
      }
    }
    const method = request.method;
    const route = routeTemplate(request);
    // the chassis's SDK: sampler first, dropped spans made directly (server-span.ts)
    const starter = tracerName === SERVER_TRACER ? serverSpanStarter() : undefined;
    const span =
      starter !== undefined
        ? starter.start(method, route, parent)
        : tracer.startSpan(serverSpanName(method, route), SERVER, parent);
    if (span.isRecording()) {
      const url = request.url;
      const query = url.indexOf('?');
      span.setAttributes({
        'http.request.method': method,
        'url.path': query === -1 ? url : url.slice(0, query),
        'url.scheme': request.protocol,
      });
      if (route !== undefined) span.setAttribute('http.route', route);
    }
    request[kSpan] = span;
    if (asyncContext) {
      const ctx = trace.setSpan(parent, span);
      request[kContext] = ctx;
      return context.with(ctx, next);
    }
    if (parent !== ROOT_CONTEXT) request[kParent] = parent;
    setLogSpan(request.raw, span);
    next();
  });
  app.addHook('onError', (request, _reply, error, next) => {
    const span = request[kSpan];
    if (span?.isRecording()) span.recordException(error);
    next();
  });
  onResponseSent(app, (request, reply) => {
    const span = request[kSpan];
    if (span !== null) {
      if (span.isRecording()) {
        const status = reply.statusCode;
        span.setAttribute('http.response.status_code', status);
        if (status >= 500) span.setStatus({ code: SpanStatusCode.ERROR });
      }
      span.end();
    }
  });
  done();
};

export const tracingRoutesPlugin = fp(tracingPlugin, { name: 'fleet-tracing', fastify: '5.x' });
