/**
 * How a request's trace context reaches the code that runs for it.
 * - `async-context`: OpenTelemetry's AsyncLocalStorage context manager; the request's span is the
 *   active span across `await`s, so outgoing fetch calls (undici instrumentation, CLIENT spans),
 *   Kafka sends and log lines pick it up on their own. On Node 20 any AsyncLocalStorage makes every
 *   promise and tick of the process dearer.
 * - `request`: no AsyncLocalStorage; the context is only active synchronously (`context.with`), and
 *   outgoing calls take it from the request: `request.traceHeaders()`, `request.traceContext()`.
 *   No undici instrumentation (no CLIENT spans). `request.log` lines still carry the trace ids.
 */
export type TracingPropagation = 'async-context' | 'request';

export const TRACING_PROPAGATIONS: readonly TracingPropagation[] = ['async-context', 'request'];
