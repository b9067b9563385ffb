import type { FastifyPluginCallback } from 'fastify';
import fp from 'fastify-plugin';
import { decorateRouteTemplate, routeTemplate } from '../metrics/route.js';
import { ByRouteMethodStatus } from '../response/by-route.js';
import { onResponseSent } from '../response/observers.js';
import { requestSpanContext } from '../tracing/plugin.js';
import { MILLIS } from './logger.js';
import { RequestLogger } from './request-logger.js';

export interface RequestLoggingOptions {
  /** Write one access line per request (default true). */
  enabled?: boolean;
}

/**
 * One access log line per request, `request completed` (method, route template, status, duration;
 * never the raw URL, whose query string may carry secrets), at error level for 5xx answers, written
 * from the chassis's shared onResponse hook; Fastify's own two-line request logging is disabled by the
 * chassis.
 *
 * onResponse runs after the response is written, where the request's trace context is not
 * reliably active any more, so the line takes trace_id/span_id from the request's span itself.
 */
const requestLogging: FastifyPluginCallback<RequestLoggingOptions> = (app, options, done) => {
  if (options.enabled === false) return done();
  decorateRouteTemplate(app);
  onResponseSent(app, (request, reply) => {
    const status = reply.statusCode;
    const log = request.log;
    const method = request.method;
    const route = routeTemplate(request) ?? 'unmatched';
    const micros = Math.round(reply.elapsedTime * 1000);
    const ids = requestSpanContext(request);
    // the common case: serialized by hand, no pino child logger, no redaction walk
    if (log instanceof RequestLogger) {
      let fields = accessFields(method, route, status) + milliseconds(micros);
      if (ids !== undefined) fields += `,"trace_id":"${ids.traceId}","span_id":"${ids.spanId}"`;
      if (log.write(status >= 500 ? 50 : 30, fields, MESSAGE)) return;
    }
    const line: Record<string, unknown> = { method, route, status, duration_ms: micros / 1000 };
    if (ids !== undefined) {
      line.trace_id = ids.traceId;
      line.span_id = ids.spanId;
    }
    if (status >= 500) log.error(line, MESSAGE);
    else log.info(line, MESSAGE);
  });
  done();
};

const MESSAGE = 'request completed';

/** `1234` microseconds as the JSON number `1.234` (integer formatting; a float's costs more). */
function milliseconds(micros: number): string {
  const whole = Math.trunc(micros / 1000);
  return `${whole}.${MILLIS[micros - whole * 1000]}`;
}

/**
 * `,"method":"GET","route":"/users/:id","status":200,"duration_ms":` per route template, method
 * and status (a small set per service, each combination built once).
 */
const accessPrefixes = new ByRouteMethodStatus<string>(10_000);

function accessFields(method: string, route: string, status: number): string {
  let prefix = accessPrefixes.get(route, method, status);
  if (prefix === undefined) {
    prefix = `,"method":${json(method)},"route":${json(route)},"status":${status},"duration_ms":`;
    accessPrefixes.set(route, method, status, prefix);
  }
  return prefix;
}

/** JSON strings of methods and route templates (a small, fixed set per service). */
const quoted = new Map<string, string>();

function json(value: string): string {
  let out = quoted.get(value);
  if (out === undefined) {
    out = JSON.stringify(value);
    if (quoted.size < 10_000) quoted.set(value, out);
  }
  return out;
}

export const requestLoggingPlugin = fp(requestLogging, { name: 'fleet-request-logging', fastify: '5.x' });
