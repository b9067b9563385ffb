import {
  context,
  propagation,
  ROOT_CONTEXT,
  type Span,
  SpanKind,
  SpanStatusCode,
  trace,
} from '@opentelemetry/api';
import type { FastifyPluginCallback } from 'fastify';
import fp from 'fastify-plugin';

const kSpan = Symbol('fleet.span');

declare module 'fastify' {
  interface FastifyRequest {
    [kSpan]?: Span;
  }
}

export interface TracingPluginOptions {
  /** Instrumentation scope name (default '@fleet/chassis'). */
  tracerName?: string;
}

/**
 * One SERVER span per request, continuing an incoming W3C `traceparent`. The rest of the request
 * (hooks, handler, outgoing fetch calls, log lines) runs inside the span's context.
 */
const tracingPlugin: FastifyPluginCallback<TracingPluginOptions> = (app, options, done) => {
  const tracer = trace.getTracer(options.tracerName ?? '@fleet/chassis');
  app.addHook('onRequest', (request, _reply, next) => {
    const parent = propagation.extract(ROOT_CONTEXT, request.headers);
    const route = request.routeOptions.url;
    const span = tracer.startSpan(
      route ? `${request.method} ${route}` : request.method,
      {
        kind: SpanKind.SERVER,
        attributes: { 'http.request.method': request.method, ...(route ? { 'http.route': route } : {}) },
      },
      parent,
    );
    request[kSpan] = span;
    context.with(trace.setSpan(parent, span), next);
  });
  app.addHook('onError', (request, _reply, error, next) => {
    const span = request[kSpan];
    span?.recordException(error);
    next();
  });
  app.addHook('onResponse', (request, reply, next) => {
    const span = request[kSpan];
    if (span) {
      span.setAttribute('http.response.status_code', reply.statusCode);
      if (reply.statusCode >= 500) span.setStatus({ code: SpanStatusCode.ERROR });
      span.end();
    }
    next();
  });
  done();
};

export const tracingRoutesPlugin = fp(tracingPlugin, { name: 'fleet-tracing', fastify: '5.x' });
