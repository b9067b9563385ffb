import { context, propagation, trace } from '@opentelemetry/api';
import { UndiciInstrumentation } from '@opentelemetry/instrumentation-undici';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { NodeSDK } from '@opentelemetry/sdk-node';
import type { SpanProcessor } from '@opentelemetry/sdk-trace-base';
import { ATTR_SERVICE_NAME, ATTR_SERVICE_VERSION } from '@opentelemetry/semantic-conventions';
import { PooledIdGenerator } from './ids.js';

export interface TracingOptions {
  service: string;
  version: string;
  /** Span processors to use instead of the exporter chosen by OTEL_TRACES_EXPORTER (tests, custom pipelines). */
  spanProcessors?: SpanProcessor[];
}

let sdk: NodeSDK | undefined;
let undici: UndiciInstrumentation | undefined;
let users = 0;

/**
 * Start the process-wide OpenTelemetry SDK once: W3C trace context propagation, sampler and OTLP
 * exporter from the standard OTEL_* variables, and undici/fetch client instrumentation (which
 * injects `traceparent` into outgoing calls). Server spans come from the chassis's own Fastify
 * hooks, which cost far less per request than the generic http instrumentation.
 */
export function startTracing(options: TracingOptions): void {
  users++;
  if (sdk) return;
  undici = new UndiciInstrumentation();
  sdk = new NodeSDK({
    resource: resourceFromAttributes({
      [ATTR_SERVICE_NAME]: process.env.OTEL_SERVICE_NAME ?? options.service,
      [ATTR_SERVICE_VERSION]: options.version,
    }),
    instrumentations: [undici],
    idGenerator: new PooledIdGenerator(),
    metricReaders: [],
    logRecordProcessors: [],
    ...(options.spanProcessors ? { spanProcessors: options.spanProcessors } : {}),
  });
  sdk.start();
}

/** Flush and stop the SDK when its last user stops. */
export async function stopTracing(): Promise<void> {
  if (users === 0) return;
  users--;
  if (users > 0 || !sdk) return;
  const current = sdk;
  sdk = undefined;
  // NodeSDK.shutdown leaves instrumentations subscribed and the globals registered: a later
  // startTracing would add a second undici instrumentation (two client spans per call).
  undici?.disable();
  undici = undefined;
  await current.shutdown();
  trace.disable();
  propagation.disable();
  context.disable();
}

export function tracingActive(): boolean {
  return sdk !== undefined;
}
