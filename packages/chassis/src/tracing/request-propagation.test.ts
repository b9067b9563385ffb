import { AsyncLocalStorage } from 'node:async_hooks';
import { createServer, request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type KafkaBroker, startKafkaBroker } from '@fleet/testkit';
import { context, ROOT_CONTEXT, SpanKind, trace } from '@opentelemetry/api';
import { InMemorySpanExporter, type ReadableSpan, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { kafkaTestEnv } from '../kafka/test-helpers.js';
import { createService, type Service, type ServiceOptions } from '../service.js';
import { LogCapture } from '../testing/index.js';

// The `request` propagation mode (TRACING_PROPAGATION=request): no AsyncLocalStorage, the trace
// context travels with the request. Real HTTP between services, spans in an in-memory exporter.

const TRACE_ID = '4bf92f3577b34da6a3ce929d0e0e4736';
const PARENT_ID = '00f067aa0ba902b7';
const TRACEPARENT = `00-${TRACE_ID}-${PARENT_ID}-01`;
const TRACESTATE = 'congo=t61rcWkgMzE,rojo=00f067aa0ba902b7';

const services: Service[] = [];
afterEach(async () => {
  await Promise.all(services.splice(0).map((s) => s.stop()));
  vi.unstubAllEnvs();
  vi.restoreAllMocks();
});

async function build(
  name: string,
  routes: ServiceOptions['routes'],
  options: { env?: Record<string, string>; exporter?: InMemorySpanExporter } = {},
): Promise<{ service: Service; capture: LogCapture }> {
  const capture = new LogCapture();
  const service = await createService({
    name,
    version: '1.0.0',
    configSources: {
      env: {
        PORT: '0',
        HOST: '127.0.0.1',
        TRACING_ENABLED: 'true',
        TRACING_PROPAGATION: 'request',
        ...options.env,
      },
      argv: [],
    },
    logDestination: capture,
    ...(options.exporter ? { tracing: { spanProcessors: [new SimpleSpanProcessor(options.exporter)] } } : {}),
    routes,
  });
  services.push(service);
  return { service, capture };
}

/** A plain HTTP request from the test. */
function get(url: string, headers: Record<string, string> = {}): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { headers }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk) => {
        text += chunk;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
    });
    req.on('error', reject);
    req.end();
  });
}

async function finished(exporter: InMemorySpanExporter, count: number): Promise<ReadableSpan[]> {
  await vi.waitFor(() => expect(exporter.getFinishedSpans().length).toBeGreaterThanOrEqual(count), {
    timeout: 5000,
  });
  return exporter.getFinishedSpans();
}

const only = (spans: ReadableSpan[], predicate: (s: ReadableSpan) => boolean): ReadableSpan => {
  const found = spans.filter(predicate);
  expect(found).toHaveLength(1);
  return found[0] as ReadableSpan;
};

/** Counts every way of entering an AsyncLocalStorage (run, enterWith, and Node 20's internal _enable). */
function watchAsyncLocalStorage(): () => number {
  const proto = AsyncLocalStorage.prototype as unknown as Record<string, unknown>;
  const spies = ['run', 'enterWith', '_enable']
    .filter((name) => typeof proto[name] === 'function')
    .map((name) => vi.spyOn(proto as Record<string, () => unknown>, name));
  return () => spies.reduce((sum, spy) => sum + spy.mock.calls.length, 0);
}

describe('tracing with TRACING_PROPAGATION=request', () => {
  it('follows one trace across two services over HTTP: spans, explicit traceHeaders, log lines', async () => {
    const exporter = new InMemorySpanExporter();
    const seenByB: IncomingHttpHeaders[] = [];
    const b = await build(
      'svc-b',
      (app, service) => {
        app.get<{ Params: { id: string } }>('/items/:id', async (request) => {
          seenByB.push(request.headers);
          await null;
          request.log.info({ id: request.params.id }, 'b handling');
          service.log.info('b root logger inside the request');
          return { item: request.params.id };
        });
      },
      { exporter },
    );
    const { url: urlB } = await b.service.start();
    const a = await build(
      'svc-a',
      (app) => {
        app.get('/checkout', async (request) => {
          request.log.info('a before calling b');
          const res = await fetch(`${urlB}/items/7`, { headers: request.traceHeaders() });
          const body = (await res.json()) as { item: string };
          request.log.info({ item: body.item }, 'a after calling b');
          request.log.child({ step: 'child' }).info('a child logger');
          return { item: body.item, active: trace.getActiveSpan() !== undefined };
        });
      },
      { exporter },
    );
    const { url: urlA } = await a.service.start();
    expect(a.service.config.telemetry.tracing.propagation).toBe('request');

    const res = await get(`${urlA}/checkout`, { traceparent: TRACEPARENT, tracestate: TRACESTATE });
    // no active span in the handler: nothing is implicit in this mode
    expect(res).toEqual({ status: 200, body: '{"item":"7","active":false}' });

    const spans = await finished(exporter, 2);
    expect(spans).toHaveLength(2); // no CLIENT span: fetch is not instrumented in this mode
    const serverA = only(spans, (s) => s.name === 'GET /checkout');
    const serverB = only(spans, (s) => s.name === 'GET /items/:id');
    for (const span of spans) {
      expect(span.kind).toBe(SpanKind.SERVER);
      expect(span.spanContext().traceId).toBe(TRACE_ID);
    }
    expect(serverA.parentSpanContext?.spanId).toBe(PARENT_ID);
    expect(serverB.parentSpanContext?.spanId).toBe(serverA.spanContext().spanId);
    expect(serverB.parentSpanContext?.isRemote).toBe(true);
    expect(serverB.spanContext().traceState?.serialize()).toBe(TRACESTATE);
    expect(seenByB[0]?.traceparent).toBe(`00-${TRACE_ID}-${serverA.spanContext().spanId}-01`);
    expect(seenByB[0]?.tracestate).toBe(TRACESTATE);

    const inA = { trace_id: TRACE_ID, span_id: serverA.spanContext().spanId };
    const inB = { trace_id: TRACE_ID, span_id: serverB.spanContext().spanId };
    await vi.waitFor(() => {
      expect(a.capture.find('request completed')).toHaveLength(1);
      expect(b.capture.find('request completed')).toHaveLength(1);
    });
    // request.log lines carry the ids before and after awaits
    expect(a.capture.find('a before calling b')).toEqual([expect.objectContaining(inA)]);
    expect(a.capture.find('a after calling b')).toEqual([expect.objectContaining({ ...inA, item: '7' })]);
    expect(a.capture.find('request completed')).toEqual([expect.objectContaining(inA)]);
    expect(b.capture.find('b handling')).toEqual([expect.objectContaining({ ...inB, id: '7' })]);
    expect(b.capture.find('request completed')).toEqual([expect.objectContaining(inB)]);
    // the service's root logger does not know the request in this mode (documented)
    expect(b.capture.find('b root logger inside the request')[0]).not.toHaveProperty('trace_id');
    // children of request.log keep the request's ids
    expect(a.capture.find('a child logger')).toEqual([expect.objectContaining({ ...inA, step: 'child' })]);
  });

  it('honours the incoming sampling decision (parent-based) and passes it on', async () => {
    vi.stubEnv('OTEL_TRACES_SAMPLER', 'parentbased_traceidratio');
    vi.stubEnv('OTEL_TRACES_SAMPLER_ARG', '0');
    const exporter = new InMemorySpanExporter();
    const { service } = await build(
      'sampling',
      (app) => {
        app.get('/x', async (request) => request.traceHeaders());
      },
      { exporter },
    );
    await service.app.ready();
    const unsampled = `00-${TRACE_ID}-${PARENT_ID}-00`;
    const notSampled = await service.app.inject({ url: '/x', headers: { traceparent: unsampled } });
    expect(notSampled.json().traceparent).toMatch(new RegExp(`^00-${TRACE_ID}-[0-9a-f]{16}-00$`));
    const fresh = await service.app.inject({ url: '/x' }); // ratio 0: a new trace is not sampled
    expect(fresh.json().traceparent).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-00$/);
    expect(fresh.json().traceparent).not.toContain(TRACE_ID);
    const sampled = await service.app.inject({ url: '/x', headers: { traceparent: TRACEPARENT } });
    const [span] = await finished(exporter, 1);
    expect(sampled.json().traceparent).toBe(`00-${TRACE_ID}-${span?.spanContext().spanId}-01`);
    expect(exporter.getFinishedSpans()).toHaveLength(1);
    expect(span?.parentSpanContext?.spanId).toBe(PARENT_ID);
  });

  it('enters no AsyncLocalStorage, unlike the async-context mode', async () => {
    const entered = watchAsyncLocalStorage();
    const exporter = new InMemorySpanExporter();
    const { service } = await build(
      'no-als',
      (app) => {
        app.get('/x', async (request) => {
          request.log.info('inside');
          // context.with is synchronous only: nothing survives an await
          const after = await context.with(request.traceContext(), async () => {
            expect(trace.getSpan(context.active())).toBeDefined();
            await null;
            return trace.getSpan(context.active());
          });
          return { after: after === undefined };
        });
      },
      { exporter },
    );
    const { url } = await service.start();
    for (let i = 0; i < 3; i++) {
      expect(await get(`${url}/x`, { traceparent: TRACEPARENT })).toEqual({
        status: 200,
        body: '{"after":true}',
      });
    }
    await finished(exporter, 3);
    await service.stop();
    expect(entered()).toBe(0);

    // the same service in the default mode does enter one: the check above can fail
    const other = await build(
      'with-als',
      (app) => {
        app.get('/x', async () => ({ ok: true }));
      },
      { env: { TRACING_PROPAGATION: 'async-context' }, exporter },
    );
    await other.service.app.ready();
    await other.service.app.inject({ url: '/x' });
    expect(entered()).toBeGreaterThan(0);
  });

  it('keeps the mode of the SDK already running in the process, and says so', async () => {
    const exporter = new InMemorySpanExporter();
    await build('first', () => {}, { exporter });
    const second = await build(
      'second',
      (app) => {
        app.get('/x', async () => ({ active: trace.getActiveSpan() !== undefined }));
      },
      { env: { TRACING_PROPAGATION: 'async-context' } },
    );
    expect(
      second.capture.find(
        'telemetry.tracing.propagation: the tracing SDK of this process already runs in another mode',
      ),
    ).toEqual([
      expect.objectContaining({ level: 'warn', configured: 'async-context', in_effect: 'request' }),
    ]);
    await second.service.app.ready();
    // served in request mode: no active span in the handler
    expect((await second.service.app.inject({ url: '/x' })).json()).toEqual({ active: false });
  });

  it('rejects an unknown propagation mode at startup', async () => {
    await expect(build('bad', () => {}, { env: { TRACING_PROPAGATION: 'magic' } })).rejects.toThrow(
      /telemetry\.tracing\.propagation/,
    );
  });
});

describe('request.traceContext() / traceHeaders()', () => {
  it('answer ROOT_CONTEXT and {} when tracing is off', async () => {
    let seen: unknown;
    const { service } = await build(
      'off',
      (app) => {
        app.get('/x', async (request) => {
          seen = request.traceContext();
          return request.traceHeaders();
        });
      },
      { env: { TRACING_ENABLED: 'false' } },
    );
    await service.app.ready();
    const res = await service.app.inject({ url: '/x', headers: { traceparent: TRACEPARENT } });
    expect(res.json()).toEqual({});
    expect(seen).toBe(ROOT_CONTEXT);
  });

  it('continue the request span in the default async-context mode too', async () => {
    const exporter = new InMemorySpanExporter();
    const { service } = await build(
      'async-headers',
      (app) => {
        app.get('/x', async (request) => request.traceHeaders());
      },
      { env: { TRACING_PROPAGATION: 'async-context' }, exporter },
    );
    await service.app.ready();
    const res = await service.app.inject({
      url: '/x',
      headers: { traceparent: TRACEPARENT, tracestate: TRACESTATE },
    });
    const [span] = await finished(exporter, 1);
    expect(res.json()).toEqual({
      traceparent: `00-${TRACE_ID}-${span?.spanContext().spanId}-01`,
      tracestate: TRACESTATE,
    });
  });
});

it("in async-context mode, fetch sends one traceparent, its CLIENT span's, even when given traceHeaders()", async () => {
  const rawHeaders: string[][] = [];
  const downstream = createServer((req, res) => {
    rawHeaders.push(req.rawHeaders);
    res.end('{}');
  });
  await new Promise<void>((resolve) => downstream.listen(0, '127.0.0.1', resolve));
  try {
    const target = `http://127.0.0.1:${(downstream.address() as AddressInfo).port}/`;
    const exporter = new InMemorySpanExporter();
    const { service } = await build(
      'async-fetch',
      (app) => {
        app.get('/x', async (request) => {
          await fetch(target, { headers: { ...request.traceHeaders(), 'x-other': '1' } });
          return { ok: true };
        });
      },
      { env: { TRACING_PROPAGATION: 'async-context' }, exporter },
    );
    await service.app.ready();
    await service.app.inject({ url: '/x', headers: { traceparent: TRACEPARENT, tracestate: TRACESTATE } });
    const spans = await finished(exporter, 2);
    const client = only(spans, (s) => s.kind === SpanKind.CLIENT);
    const sent = rawHeaders[0] ?? [];
    const values = (name: string) =>
      sent.filter((_, i) => i % 2 === 1 && sent[i - 1]?.toLowerCase() === name);
    expect(values('traceparent')).toEqual([`00-${TRACE_ID}-${client.spanContext().spanId}-01`]);
    expect(values('tracestate')).toEqual([TRACESTATE]);
    expect(values('x-other')).toEqual(['1']);
  } finally {
    await new Promise((resolve) => downstream.close(resolve));
  }
});

it('stops cleanly, with a warning, when the last spans cannot be exported', async () => {
  const closed = createServer();
  await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
  const port = (closed.address() as AddressInfo).port;
  await new Promise((resolve) => closed.close(resolve)); // nothing listens there any more
  vi.stubEnv('OTEL_TRACES_EXPORTER', 'otlp');
  vi.stubEnv('OTEL_EXPORTER_OTLP_ENDPOINT', `http://127.0.0.1:${port}`);
  vi.stubEnv('OTEL_TRACES_SAMPLER', 'always_on');
  vi.stubEnv('OTEL_EXPORTER_OTLP_TIMEOUT', '300'); // the exporter retries until then
  const { service, capture } = await build('collector-down', (app) => {
    app.get('/x', async () => ({ ok: true }));
  });
  services.splice(services.indexOf(service), 1);
  await service.app.ready();
  await service.app.inject({ url: '/x' });
  await expect(service.stop()).resolves.toBeUndefined();
  expect(capture.find('tracing: the last spans could not be exported')).toEqual([
    expect.objectContaining({
      level: 'warn',
      err: expect.objectContaining({ message: expect.stringContaining('ECONNREFUSED') }),
    }),
  ]);
  expect(capture.find('service stopped')).toHaveLength(1);
});

describe('Kafka sends in the request mode', () => {
  let broker: KafkaBroker;
  beforeAll(async () => {
    broker = await startKafkaBroker();
  });
  afterAll(async () => {
    await broker.close();
  });

  it('parent the PRODUCER span on the request given with context.with', async () => {
    const topic = `req-mode-${Date.now()}`;
    broker.createTopic(topic);
    const exporter = new InMemorySpanExporter();
    const { service } = await build(
      'kafka-req',
      (app, svc) => {
        app.post('/orders', async (request) => {
          await context.with(request.traceContext(), () => svc.kafka.produce(topic, { value: 'o-1' }));
          return { ok: true };
        });
      },
      { env: kafkaTestEnv(broker, { TRACING_ENABLED: 'true', TRACING_PROPAGATION: 'request' }), exporter },
    );
    await service.app.ready();
    const res = await service.app.inject({
      method: 'POST',
      url: '/orders',
      headers: { traceparent: TRACEPARENT },
    });
    expect(res.statusCode).toBe(200);
    const spans = await finished(exporter, 2);
    const server = only(spans, (s) => s.kind === SpanKind.SERVER);
    const producer = only(spans, (s) => s.kind === SpanKind.PRODUCER);
    expect(producer.spanContext().traceId).toBe(TRACE_ID);
    expect(producer.parentSpanContext?.spanId).toBe(server.spanContext().spanId);
    const [record] = broker.records(topic);
    const traceparent = record?.headers.find((h) => h.key === 'traceparent')?.value?.toString();
    expect(traceparent).toBe(`00-${TRACE_ID}-${producer.spanContext().spanId}-01`);
  });
});
