import type { FastifyPluginCallback } from 'fastify';
import fp from 'fastify-plugin';
import { onResponseSent } from '../response/observers.js';
import type { MetricsRegistry } from './registry.js';
import { RequestDurationHistogram } from './request-histogram.js';
import { decorateRouteTemplate, routeTemplate } from './route.js';

export interface MetricsPluginOptions {
  metrics: MetricsRegistry;
  /** Route serving the exposition (default /metrics); false: record but do not serve. */
  path?: string | false;
  /** Record the request duration histogram (default true). */
  recordRequests?: boolean;
  /** Service identity for `service_info`. */
  info?: { service: string; version: string; chassis_version: string };
}

const REQUEST_DURATION = 'http_server_request_duration_seconds';

/** The registry's request duration histogram (one per registry, shared by every app using it). */
function requestHistogram(metrics: MetricsRegistry): RequestDurationHistogram {
  const existing = metrics.registry.getSingleMetric(REQUEST_DURATION);
  if (existing instanceof RequestDurationHistogram) return existing;
  return new RequestDurationHistogram({
    name: REQUEST_DURATION,
    help: 'HTTP server request duration by method, route template and status code',
    registry: metrics.registry,
  });
}

/**
 * `http_server_request_duration_seconds{method,route,status_code}` from the chassis's shared onResponse
 * hook. The route label is the route template, never the raw URL (unmatched requests share
 * route="unmatched"), so series stay bounded.
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
    const histogram = requestHistogram(metrics);
    decorateRouteTemplate(app);
    onResponseSent(app, (request, reply) => {
      histogram.observe(
        request.method,
        routeTemplate(request) ?? 'unmatched',
        reply.statusCode,
        reply.elapsedTime / 1000,
      );
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
