// One benchmark server in its own process: `node server.mjs <variant>`. Reports its port over IPC.
// Log lines go to this process's stdout, which run.mjs points at /dev/null.
import { BatchSpanProcessor } from '@opentelemetry/sdk-trace-base';
import Fastify from 'fastify';

const variant = process.argv[2] ?? 'bare';
// run.mjs --propagation: the tracing propagation mode of the `chassis` variant
const propagationArg = process.argv
  .find((a) => a.startsWith('--propagation='))
  ?.slice('--propagation='.length);

/**
 * Chassis variants: which concerns are on (all chassis variants log, serve metrics, trace unless
 * noted). `chassis` traces in the mode given by run.mjs --propagation (default async-context); `chassis-request` and `chassis-async` pin the mode, to compare both in one run.
 */
const CHASSIS = {
  chassis: {},
  'chassis-request': { TRACING_PROPAGATION: 'request' },
  'chassis-async': { TRACING_PROPAGATION: 'async-context' },
  'chassis-nolog': { LOG_REQUESTS: 'false' },
  'chassis-notrace': { TRACING_ENABLED: 'false' },
  'chassis-nometrics': { METRICS_ENABLED: 'false' },
  'chassis-min': { LOG_REQUESTS: 'false', TRACING_ENABLED: 'false', METRICS_ENABLED: 'false' },
  // tracing off, one AsyncLocalStorage.run() per request (as bare-als): what async context costs the chassis
  'chassis-notrace-als': { TRACING_ENABLED: 'false' },
  // tracing off, OpenTelemetry's AsyncLocalStorage context manager and one context.with() per request (as bare-otel)
  'chassis-notrace-otel': { TRACING_ENABLED: 'false' },
  // bisection of tracing's cost in request mode: the SDK started (as in chassis-request), no tracing hooks
  'chassis-notrace-sdk': { TRACING_ENABLED: 'false' },
  // the other half: the tracing hooks with no SDK (OTEL_SDK_DISABLED: the API's no-op tracer)
  'chassis-request-nosdk': { TRACING_PROPAGATION: 'request' },
  // request mode sampling no new trace / every new trace (run.mjs sets 10%): what recording spans cost
  'chassis-request-ratio0': { TRACING_PROPAGATION: 'request' },
  'chassis-request-ratio1': { TRACING_PROPAGATION: 'request' },
  // request mode with the SDK tracer's per-span self-metrics call (an attributes object per span,
  // even with no MeterProvider) replaced by a no-op: what that SDK call costs
  'chassis-request-nospanmetrics': { TRACING_PROPAGATION: 'request' },
  // request mode with a leaner SDK `startSpan` for spans the sampler drops (what an SDK fix could save)
  'chassis-request-leanstart': { TRACING_PROPAGATION: 'request' },
  // everything on, and the handler evaluates one feature flag per request
  'chassis-flag': {},
  // everything on, another chassis build (--baseline)
  'chassis-baseline': {},
};

/** An exporter that drops spans: the SDK, sampler and batch processor do their work, nothing is sent. */
const dropExporter = {
  export: (_spans, done) => done({ code: 0 }),
  shutdown: () => Promise.resolve(),
  forceFlush: () => Promise.resolve(),
};

const hello = (request) => ({ hello: request.params.id, ok: true });

/** Diagnostic: bare Fastify plus one AsyncLocalStorage.run per request (what context propagation costs). */
async function bareWithContext(app) {
  const { AsyncLocalStorage } = await import('node:async_hooks');
  const als = new AsyncLocalStorage();
  app.addHook('onRequest', (request, _reply, next) => als.run(request.id, next));
}

/**
 * Diagnostic: bare Fastify plus OpenTelemetry's AsyncLocalStorage context manager, one
 * `context.with(ctx, next)` per request and no span: what the chassis's async-context mode costs
 * before any tracing work.
 */
async function bareWithOtelContext(app) {
  const { AsyncLocalStorageContextManager } = await import('@opentelemetry/context-async-hooks');
  const { context, createContextKey, ROOT_CONTEXT } = await import('@opentelemetry/api');
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  const key = createContextKey('bench.request');
  app.addHook('onRequest', (request, _reply, next) =>
    context.with(ROOT_CONTEXT.setValue(key, request.id), next),
  );
}

/**
 * Diagnostic: the SDK tracer's `startSpan` with a short path for spans the sampler drops: no links
 * array, attribute sanitizing or self-metrics call before the decision (the SDK builds them for
 * every span). Spans it records take the SDK's own path.
 */
async function leanUnsampledStart() {
  const api = await import('@opentelemetry/api');
  const tracer = api.trace.getTracerProvider().getDelegate().getTracer('@fleet/chassis');
  const sdkStartSpan = tracer.startSpan.bind(tracer);
  tracer.startSpan = (name, options = {}, ctx = api.context.active()) => {
    if (options.links !== undefined || options.attributes !== undefined || options.root)
      return sdkStartSpan(name, options, ctx);
    const parent = api.trace.getSpanContext(ctx);
    const valid = parent !== undefined && api.trace.isSpanContextValid(parent);
    const traceId = valid ? parent.traceId : tracer._idGenerator.generateTraceId();
    const kind = options.kind ?? api.SpanKind.INTERNAL;
    const result = tracer._sampler.shouldSample(ctx, traceId, name, kind, {}, []);
    if (result.decision !== api.SamplingDecision.NOT_RECORD) return sdkStartSpan(name, options, ctx);
    const spanId = tracer._idGenerator.generateSpanId();
    const traceState = result.traceState ?? (valid ? parent.traceState : undefined);
    return api.trace.wrapSpanContext({ traceId, spanId, traceFlags: api.TraceFlags.NONE, traceState });
  };
}

async function start() {
  if (variant === 'bare' || variant === 'bare-als' || variant === 'bare-otel') {
    const app = Fastify({ logger: false });
    if (variant === 'bare-als') await bareWithContext(app);
    if (variant === 'bare-otel') await bareWithOtelContext(app);
    app.get('/hello/:id', async (request) => hello(request));
    await app.listen({ port: 0, host: '127.0.0.1' });
    return { app, port: app.server.address().port, close: () => app.close(), features: [] };
  }
  const overrides = CHASSIS[variant];
  if (!overrides) throw new Error(`unknown variant ${variant}`);
  // chassis-baseline: the same service built with another chassis build (run.mjs --baseline <index.js>)
  const baseline = process.argv[3]?.startsWith('--') ? undefined : process.argv[3];
  const module = variant === 'chassis-baseline' ? baseline : '@fleet/chassis';
  if (!module) throw new Error('chassis-baseline needs --baseline /path/to/chassis/dist/index.js');
  if (variant === 'chassis-request-nosdk') process.env.OTEL_SDK_DISABLED = 'true';
  if (variant === 'chassis-request-ratio0') process.env.OTEL_TRACES_SAMPLER_ARG = '0';
  if (variant === 'chassis-request-ratio1') process.env.OTEL_TRACES_SAMPLER_ARG = '1';
  const { createService, startTracing } = await import(module);
  if (variant === 'chassis-notrace-sdk')
    startTracing({
      service: 'bench',
      version: '1.0.0',
      propagation: 'request',
      spanProcessors: [new BatchSpanProcessor(dropExporter)],
    });
  const env = {
    PORT: '0',
    HOST: '127.0.0.1',
    LOG_LEVEL: 'info',
    LOG_REQUESTS: 'true',
    METRICS_ENABLED: 'true',
    TRACING_ENABLED: 'true',
    TRACING_PROPAGATION: propagationArg ?? 'async-context',
    ...overrides,
  };
  const service = await createService({
    name: 'bench',
    version: '1.0.0',
    configSources: { env, argv: [], files: [] },
    tracing: { spanProcessors: [new BatchSpanProcessor(dropExporter)] },
    async routes(app, svc) {
      if (variant === 'chassis-notrace-als') await bareWithContext(app);
      if (variant === 'chassis-notrace-otel') await bareWithOtelContext(app);
      if (variant === 'chassis-flag') {
        svc.flags.define('bench.hello', { default: 5000, description: 'bench flag' });
        app.get('/hello/:id', async (request) => ({
          ...hello(request),
          flag: svc.flags.isAvailable('bench.hello', request.params.id),
        }));
      } else {
        app.get('/hello/:id', async (request) => hello(request));
      }
    },
  });
  if (variant === 'chassis-request-nospanmetrics') {
    const { trace } = await import('@opentelemetry/api');
    // the SDK caches one Tracer per name: this is the one the chassis's hooks use
    const sdkTracer = trace.getTracerProvider().getDelegate().getTracer('@fleet/chassis');
    const done = () => {};
    sdkTracer._tracerMetrics = { startSpan: () => done };
  }
  if (variant === 'chassis-request-leanstart') await leanUnsampledStart();
  const { url } = await service.start();
  const features = Object.entries(env)
    .filter(([k]) => k !== 'PORT' && k !== 'HOST')
    .map(([k, v]) => `${k}=${v}`);
  features.push(
    service.flags !== undefined
      ? `flags=${service.config.flags.store}-store${variant === 'chassis-flag' ? ',evaluated-per-request' : ''}`
      : 'flags=absent',
  );
  return { app: service.app, port: Number(new URL(url).port), close: () => service.stop(), features };
}

// Whether anything in this server entered an AsyncLocalStorage (what turns Node 20's promise
// hooks on), reported with every CPU reading. The first call restores the originals, so the hot
// path does not pay for the check.
const { AsyncLocalStorage } = await import('node:async_hooks');
let alsEntered = false;
const alsMethods = ['run', 'enterWith'];
const alsOriginals = Object.fromEntries(alsMethods.map((name) => [name, AsyncLocalStorage.prototype[name]]));
for (const name of alsMethods) {
  AsyncLocalStorage.prototype[name] = function (...args) {
    alsEntered = true;
    Object.assign(AsyncLocalStorage.prototype, alsOriginals);
    return alsOriginals[name].apply(this, args);
  };
}
const server = await start();
/**
 * `count` sequential in-process requests (no sockets); returns CPU nanoseconds per request. CPU
 * time, not wall time: time spent waiting for a core (other processes) is not counted.
 */
async function injectBatch(count) {
  const start = process.cpuUsage();
  for (let i = 0; i < count; i++) {
    const res = await server.app.inject({ method: 'GET', url: `/hello/${i}` });
    if (res.statusCode !== 200) throw new Error(`status ${res.statusCode}`);
  }
  const used = process.cpuUsage(start);
  return ((used.user + used.system) * 1000) / count;
}

/** CPU profiling of the measured part only (not startup): run.mjs --profile <dir>. */
let profiler;
async function profile(command) {
  const { Session } = await import('node:inspector/promises');
  if (command.start) {
    profiler = new Session();
    profiler.connect();
    await profiler.post('Profiler.enable');
    await profiler.post('Profiler.setSamplingInterval', { interval: 200 });
    await profiler.post('Profiler.start');
    return '';
  }
  const { profile: result } = await profiler.post('Profiler.stop');
  const { writeFileSync } = await import('node:fs');
  writeFileSync(command.stop, JSON.stringify(result));
  profiler.disconnect();
  return command.stop;
}

process.on('message', async (message) => {
  if (message === 'cpu') process.send({ cpu: process.cpuUsage(), als: alsEntered });
  if (typeof message === 'object' && message.profile)
    process.send({ profiled: await profile(message.profile) });
  if (typeof message === 'object' && message.inject)
    process.send({ nsPerReq: await injectBatch(message.inject) });
  if (message === 'stop') {
    await server.close();
    process.exit(0);
  }
});
process.send({ port: server.port, features: server.features });
