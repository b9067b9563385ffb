import type { FastifyPluginCallback } from 'fastify';
import fp from 'fastify-plugin';

export interface RequestLoggingOptions {
  /** Write one access line per request (default true). */
  enabled?: boolean;
}

/**
 * One access log line per request (method, route template, status, duration; never the raw URL,
 * whose query string may carry secrets), written from a
 * callback-style onResponse hook; Fastify's own two-line request logging is disabled by the chassis.
 */
const requestLogging: FastifyPluginCallback<RequestLoggingOptions> = (app, options, done) => {
  if (options.enabled === false) return done();
  app.addHook('onResponse', (request, reply, next) => {
    const status = reply.statusCode;
    const log = request.log;
    const line = {
      method: request.method,
      route: request.routeOptions.url ?? 'unmatched',
      status,
      duration_ms: Math.round(reply.elapsedTime * 1000) / 1000,
    };
    if (status >= 500) log.error(line, 'request failed');
    else log.info(line, 'request completed');
    next();
  });
  done();
};

export const requestLoggingPlugin = fp(requestLogging, { name: 'fleet-request-logging', fastify: '5.x' });
