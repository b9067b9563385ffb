import {
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
import type { FastifyPluginCallback, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { decorateRouteTemplate, routeTemplate } from '../metrics/route.js';

const kSpan = Symbol('fleet.span');
const SERVER = Object.freeze({ kind: SpanKind.SERVER });

declare module 'fastify' {
  interface FastifyRequest {
    [kSpan]: Span | null;
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
}

/**
 * One SERVER span per request, continuing an incoming W3C `traceparent`/`tracestate`. The rest of
 * the request (hooks, handler, outgoing fetch calls, log lines) runs inside the span's context.
 *
 * Hot path: with ratio sampling most spans are not recorded, so attributes are only built for
 * recording spans (samplers see the span name and kind, not attributes).
 */
const tracingPlugin: FastifyPluginCallback<TracingPluginOptions> = (app, options, done) => {
  const tracer = trace.getTracer(options.tracerName ?? '@fleet/chassis');
  app.decorateRequest(kSpan, null);
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
    const span = tracer.startSpan(route === undefined ? method : `${method} ${route}`, SERVER, parent);
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
    context.with(trace.setSpan(parent, span), next);
  });
  app.addHook('onError', (request, _reply, error, next) => {
    const span = request[kSpan];
    if (span?.isRecording()) span.recordException(error);
    next();
  });
  app.addHook('onResponse', (request, reply, next) => {
    const span = request[kSpan];
    if (span !== null) {
      if (span.isRecording()) {
        const status = reply.statusCode;
        span.setAttribute('http.response.status_code', status);
        if (status >= 500) span.setStatus({ code: SpanStatusCode.ERROR });
      }
      span.end();
    }
    next();
  });
  done();
};

export const tracingRoutesPlugin = fp(tracingPlugin, { name: 'fleet-tracing', fastify: '5.x' });
