import { INVALID_TRACEID, type Span, trace } from '@opentelemetry/api';

const NONE: Record<string, string> = Object.freeze({}) as Record<string, string>;

/** On a request's raw IncomingMessage: its SERVER span (`request` propagation mode only). */
const kLogSpan = Symbol('fleet.logSpan');
/** On a request's pino child logger (and, through the prototype, its children): the raw request. */
const kLogRequest = Symbol('fleet.logRequest');

interface Tagged {
  [kLogSpan]?: Span;
  [kLogRequest]?: Tagged;
}

/** Make `span` the one whose ids go on the lines of the request's logger (no active context needed). */
export function setLogSpan(raw: object, span: Span): void {
  (raw as Tagged)[kLogSpan] = span;
}

/** Tie a request's pino child logger to its raw request, where setLogSpan put the span. */
export function tagRequestLogger(logger: object, raw: object): void {
  (logger as Tagged)[kLogRequest] = raw as Tagged;
}

/**
 * pino mixin: trace_id/span_id of the active span (async-context mode, or inside `context.with`),
 * else of the request the logger belongs to (request mode), on every line logged for a request or
 * a Kafka message. pino passes the logging logger as third argument.
 */
export function traceLogMixin(_merge?: object, _level?: number, logger?: object): Record<string, string> {
  const span = trace.getActiveSpan() ?? (logger as Tagged | undefined)?.[kLogRequest]?.[kLogSpan];
  if (span === undefined) return NONE;
  const ctx = span.spanContext();
  // the no-op tracer (OTEL_SDK_DISABLED, OTEL_TRACES_EXPORTER=none) makes all-zero ids
  if (ctx.traceId === INVALID_TRACEID) return NONE;
  return { trace_id: ctx.traceId, span_id: ctx.spanId };
}
