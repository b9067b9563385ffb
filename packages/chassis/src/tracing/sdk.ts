import { createRequire } from 'node:module';
import { context, propagation, trace } from '@opentelemetry/api';
import type { UndiciInstrumentation } from '@opentelemetry/instrumentation-undici';
import type { NodeSDK } from '@opentelemetry/sdk-node';
import type { SpanProcessor } from '@opentelemetry/sdk-trace-base';
import { SyncContextManager } from './context-manager.js';
import { PooledIdGenerator } from './ids.js';
import type { TracingPropagation } from './propagation.js';
import { samplerFromEnv } from './sampler.js';
import { ServerSpanStarter } from './server-span.js';

export interface TracingOptions {
  service: string;
  version: string;
  /** Span processors to use instead of the exporter chosen by OTEL_TRACES_EXPORTER (tests, custom pipelines). */
  spanProcessors?: SpanProcessor[];
  /** Default 'async-context'. Process-wide: the first startTracing of the process decides. */
  propagation?: TracingPropagation;
  /** Told about OTEL_TRACES_SAMPLER/_ARG values replaced by defaults (the SDK would only tell its diag logger). */
  warn?: (message: string) => void;
}

/**
 * The SDK, its exporters and instrumentations cost 0.15–0.25 s of CPU to load: required only when a
 * service turns tracing on. These packages are CommonJS in Node (as `@opentelemetry/api` is), so
 * require returns the instances an `import` of them elsewhere gets, and startTracing stays synchronous.
 */
function loadSdk() {
  const require = createRequire(import.meta.url);
  return {
    NodeSDK: (require('@opentelemetry/sdk-node') as typeof import('@opentelemetry/sdk-node')).NodeSDK,
    UndiciInstrumentation: (
      require('@opentelemetry/instrumentation-undici') as typeof import('@opentelemetry/instrumentation-undici')
    ).UndiciInstrumentation,
    resourceFromAttributes: (require('@opentelemetry/resources') as typeof import('@opentelemetry/resources'))
      .resourceFromAttributes,
    semconv:
      require('@opentelemetry/semantic-conventions') as typeof import('@opentelemetry/semantic-conventions'),
    traceBase: require('@opentelemetry/sdk-trace-base') as typeof import('@opentelemetry/sdk-trace-base'),
  };
}

let sdk: NodeSDK | undefined;
let undici: UndiciInstrumentation | undefined;
let users = 0;
let mode: TracingPropagation = 'async-context';
let serverSpans: ServerSpanStarter | undefined;

/** Where the tracing plugin starts SERVER spans, while the chassis's SDK runs and has a tracer. */
export function serverSpanStarter(): ServerSpanStarter | undefined {
  return serverSpans;
}

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
  const { NodeSDK, UndiciInstrumentation, resourceFromAttributes, semconv, traceBase } = loadSdk();
  const { sampler, problem, rootRatio } = samplerFromEnv(traceBase);
  if (problem !== undefined) options.warn?.(`tracing: ${problem}`);
  const ids = new PooledIdGenerator();
  // undici's request:create event fires synchronously inside fetch() only sometimes: without
  // async context the instrumentation would start unrelated traces, so it is left out
  undici = asyncContext ? new UndiciInstrumentation({ requestHook: dropPropagationHeaders }) : undefined;
  sdk = new NodeSDK({
    resource: resourceFromAttributes({
      [semconv.ATTR_SERVICE_NAME]: process.env.OTEL_SERVICE_NAME ?? options.service,
      [semconv.ATTR_SERVICE_VERSION]: options.version,
    }),
    instrumentations: undici ? [undici] : [],
    // undefined: the SDK's AsyncLocalStorageContextManager
    ...(asyncContext ? {} : { contextManager: new SyncContextManager() }),
    idGenerator: ids,
    sampler,
    metricReaders: [],
    logRecordProcessors: [],
    ...(options.spanProcessors ? { spanProcessors: options.spanProcessors } : {}),
  });
  sdk.start();
  // Only when the global tracer provider is the one this SDK made (with our sampler and ids): the
  // SDK installs none when it is disabled or has nowhere to send spans (OTEL_SDK_DISABLED,
  // OTEL_TRACES_EXPORTER=none), and another SDK may have registered first. The field is the SDK's
  // own; should it change, the fast path is simply off.
  const provider = (trace.getTracerProvider() as { getDelegate?: () => object }).getDelegate?.();
  const made = (sdk as unknown as { _tracerProvider?: object })._tracerProvider;
  if (made !== undefined && provider === made)
    serverSpans = new ServerSpanStarter(trace.getTracer(SERVER_TRACER), sampler, ids, rootRatio);
  return mode;
}

/** The instrumentation scope of the chassis's SERVER spans. */
export const SERVER_TRACER = '@fleet/chassis';

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
  serverSpans = undefined;
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
