import { INVALID_TRACEID, trace } from '@opentelemetry/api';

const NONE: Record<string, string> = Object.freeze({}) as Record<string, string>;

/** pino mixin: the active span's ids on every line logged inside a request or Kafka message. */
export function traceLogMixin(): Record<string, string> {
  const span = trace.getActiveSpan();
  if (span === undefined) return NONE;
  const ctx = span.spanContext();
  // the no-op tracer (OTEL_SDK_DISABLED, OTEL_TRACES_EXPORTER=none) makes all-zero ids
  if (ctx.traceId === INVALID_TRACEID) return NONE;
  return { trace_id: ctx.traceId, span_id: ctx.spanId };
}
