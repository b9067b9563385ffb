import type { FastifyPluginCallback } from 'fastify';
import fp from 'fastify-plugin';
import type { Histogram } from 'prom-client';
import type { MetricsRegistry } from './registry.js';

export interface MetricsPluginOptions {
  metrics: MetricsRegistry;
  /** Route serving the exposition (default /metrics); false: record but do not serve. */
  path?: string | false;
  /** Record the request duration histogram (default true). */
  recordRequests?: boolean;
  /** Service identity for `service_info`. */
  info?: { service: string; version: string; chassis_version: string };
}

type Child = ReturnType<Histogram<'method' | 'route' | 'status_code'>['labels']>;

/**
 * `http_server_request_duration_seconds{method,route,status_code}` from a callback-style onResponse
 * hook. The route label is the route template, never the raw URL. Label hashing costs more than
 * the observation, so one labelled child is cached per method/route/status.
 */
const metricsPlugin: FastifyPluginCallback<MetricsPluginOptions> = (app, options, done) => {
  const { metrics } = options;
  if (options.info) {
    metrics
      .gauge({
        name: 'service_info',
        help: 'Service identity',
        labelNames: ['service', 'version', 'chassis_version'],
      })
      .set(options.info, 1);
  }
  if (options.recordRequests !== false) {
    const histogram = metrics.histogram({
      name: 'http_server_request_duration_seconds',
      help: 'HTTP server request duration by method, route template and status code',
      labelNames: ['method', 'route', 'status_code'] as const,
    });
    const children = new Map<string, Child>();
    app.addHook('onResponse', (request, reply, next) => {
      const route = request.routeOptions.url ?? 'unmatched';
      const status = reply.statusCode;
      const key = request.method + route + status;
      let child = children.get(key);
      if (child === undefined) {
        child = histogram.labels({ method: request.method, route, status_code: String(status) });
        children.set(key, child);
      }
      child.observe(reply.elapsedTime / 1000);
      next();
    });
  }
  if (options.path !== false) {
    app.get(options.path ?? '/metrics', { logLevel: 'warn' }, async (_request, reply) => {
      reply.header('content-type', metrics.contentType);
      return metrics.expose();
    });
  }
  done();
};

export const metricsRoutesPlugin = fp(metricsPlugin, { name: 'fleet-metrics', fastify: '5.x' });
