import { context, propagation, trace } from '@opentelemetry/api';
import { UndiciInstrumentation } from '@opentelemetry/instrumentation-undici';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { NodeSDK } from '@opentelemetry/sdk-node';
import type { SpanProcessor } from '@opentelemetry/sdk-trace-base';
import { ATTR_SERVICE_NAME, ATTR_SERVICE_VERSION } from '@opentelemetry/semantic-conventions';
import { SyncContextManager } from './context-manager.js';
import { PooledIdGenerator } from './ids.js';
import type { TracingPropagation } from './propagation.js';

export interface TracingOptions {
  service: string;
  version: string;
  /** Span processors to use instead of the exporter chosen by OTEL_TRACES_EXPORTER (tests, custom pipelines). */
  spanProcessors?: SpanProcessor[];
  /** Default 'async-context'. Process-wide: the first startTracing of the process decides. */
  propagation?: TracingPropagation;
}

let sdk: NodeSDK | undefined;
let undici: UndiciInstrumentation | undefined;
let users = 0;
let mode: TracingPropagation = 'async-context';

/**
 * Start the process-wide OpenTelemetry SDK once: W3C trace context propagation, sampler and OTLP
 * exporter from the standard OTEL_* variables, and (in `async-context` mode) undici/fetch client
 * instrumentation, which injects `traceparent` into outgoing calls. Server spans come from the
 * chassis's own Fastify hooks, which cost far less per request than the generic http
 * instrumentation. Returns the propagation mode in effect (that of the first call while the SDK
 * runs).
 */
export function startTracing(options: TracingOptions): TracingPropagation {
  users++;
  if (sdk) return mode;
  mode = options.propagation ?? 'async-context';
  const asyncContext = mode === 'async-context';
  // undici's request:create event fires synchronously inside fetch() only sometimes: without
  // async context the instrumentation would start unrelated traces, so it is left out
  undici = asyncContext ? new UndiciInstrumentation({ requestHook: dropPropagationHeaders }) : undefined;
  sdk = new NodeSDK({
    resource: resourceFromAttributes({
      [ATTR_SERVICE_NAME]: process.env.OTEL_SERVICE_NAME ?? options.service,
      [ATTR_SERVICE_VERSION]: options.version,
    }),
    instrumentations: undici ? [undici] : [],
    // undefined: the SDK's AsyncLocalStorageContextManager
    ...(asyncContext ? {} : { contextManager: new SyncContextManager() }),
    idGenerator: new PooledIdGenerator(),
    metricReaders: [],
    logRecordProcessors: [],
    ...(options.spanProcessors ? { spanProcessors: options.spanProcessors } : {}),
  });
  sdk.start();
  return mode;
}

/**
 * Remove trace headers the caller set (e.g. `request.traceHeaders()`) before the instrumentation adds
 * its CLIENT span's: undici would send both, and the callee would reject the joined value and start
 * a new trace.
 */
function dropPropagationHeaders(_span: unknown, request: { headers?: unknown }): void {
  const fields = new Set(propagation.fields().map((f) => f.toLowerCase()));
  const headers = request.headers;
  if (typeof headers === 'string') {
    request.headers = headers
      .split('\r\n')
      .filter((line) => !fields.has(line.slice(0, line.indexOf(':')).trim().toLowerCase()))
      .join('\r\n');
  } else if (Array.isArray(headers)) {
    const kept: unknown[] = [];
    for (let i = 0; i + 1 < headers.length; i += 2)
      if (!fields.has(String(headers[i]).toLowerCase())) kept.push(headers[i], headers[i + 1]);
    request.headers = kept;
  }
}

/**
 * Flush and stop the SDK when its last user stops. Resolves with the error of the last export when
 * the remaining spans could not be sent (collector down): stopping must not fail because of it.
 */
export async function stopTracing(): Promise<Error | undefined> {
  if (users === 0) return undefined;
  users--;
  if (users > 0 || !sdk) return undefined;
  const current = sdk;
  sdk = undefined;
  // NodeSDK.shutdown leaves instrumentations subscribed and the globals registered: a later
  // startTracing would add a second undici instrumentation (two client spans per call).
  undici?.disable();
  undici = undefined;
  try {
    await current.shutdown();
    return undefined;
  } catch (err) {
    return err instanceof Error ? err : new Error(String(err));
  } finally {
    trace.disable();
    propagation.disable();
    context.disable();
  }
}

export function tracingActive(): boolean {
  return sdk !== undefined;
}
