import { createServer, request as httpRequest, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { propagation, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import { InMemorySpanExporter, type ReadableSpan, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createService, type Service, type ServiceOptions } from '../service.js';
import { LogCapture } from '../testing/index.js';
import { tracingActive } from './sdk.js';

const TRACE_ID = '4bf92f3577b34da6a3ce929d0e0e4736';
const PARENT_ID = '00f067aa0ba902b7';
const TRACEPARENT = `00-${TRACE_ID}-${PARENT_ID}-01`;
const TRACESTATE = 'congo=t61rcWkgMzE,rojo=00f067aa0ba902b7';

const services: Service[] = [];
const servers: Server[] = [];
afterEach(async () => {
  // stop every service so the process-wide SDK shuts down and the next test starts a fresh one
  await Promise.all(services.splice(0).map((s) => s.stop()));
  await Promise.all(servers.splice(0).map((s) => new Promise((resolve) => s.close(resolve))));
  vi.unstubAllEnvs();
  vi.restoreAllMocks();
});

interface Built {
  service: Service;
  capture: LogCapture;
}

async function build(
  name: string,
  routes: ServiceOptions['routes'],
  options: { env?: Record<string, string>; exporter?: InMemorySpanExporter } = {},
): Promise<Built> {
  const capture = new LogCapture();
  const service = await createService({
    name,
    version: '1.0.0',
    configSources: {
      env: { PORT: '0', HOST: '127.0.0.1', TRACING_ENABLED: 'true', ...options.env },
      argv: [],
    },
    logDestination: capture,
    ...(options.exporter ? { tracing: { spanProcessors: [new SimpleSpanProcessor(options.exporter)] } } : {}),
    routes,
  });
  services.push(service);
  return { service, capture };
}

/** A plain HTTP request from the test (not fetch, which the SDK instruments and would re-parent). */
function get(
  url: string,
  headers: Record<string, string> = {},
  body?: string,
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { method: body === undefined ? 'GET' : 'POST', headers }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk) => {
        text += chunk;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** A plain HTTP server recording the headers of each request it gets. */
async function headerRecorder(): Promise<{ url: string; seen: IncomingHttpHeaders[] }> {
  const seen: IncomingHttpHeaders[] = [];
  const server = createServer((req, res) => {
    seen.push(req.headers);
    res.setHeader('content-type', 'application/json');
    res.end('{"ok":true}');
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, seen };
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

describe('tracing off (the default)', () => {
  it('registers no tracing hooks, starts no SDK and creates no span', async () => {
    const extract = vi.spyOn(propagation, 'extract');
    const getTracer = vi.spyOn(trace, 'getTracer');
    const exporter = new InMemorySpanExporter();
    let activeInHandler: unknown = 'unset';
    const { service, capture } = await build(
      'tracing-off',
      (app) => {
        app.get('/x', async (request) => {
          activeInHandler = trace.getActiveSpan();
          request.log.info('inside');
          return { ok: true };
        });
      },
      { env: { TRACING_ENABLED: 'false' }, exporter },
    );
    await service.app.ready();
    expect(service.config.telemetry.tracing.enabled).toBe(false);
    expect(service.app.hasPlugin('fleet-tracing')).toBe(false);
    expect(service.app.printPlugins()).not.toContain('fleet-tracing');
    expect(tracingActive()).toBe(false);

    const res = await service.app.inject({ url: '/x', headers: { traceparent: TRACEPARENT } });
    expect(res.statusCode).toBe(200);
    expect(activeInHandler).toBeUndefined();
    expect(extract).not.toHaveBeenCalled();
    expect(getTracer).not.toHaveBeenCalled();
    expect(exporter.getFinishedSpans()).toEqual([]);
    for (const line of capture.lines) {
      expect(line).not.toHaveProperty('trace_id');
      expect(line).not.toHaveProperty('span_id');
    }
    expect(capture.find('inside')).toHaveLength(1);
  });
});

describe('tracing on', () => {
  it('creates one SERVER span per request, continuing the incoming traceparent and tracestate', async () => {
    const exporter = new InMemorySpanExporter();
    const { service } = await build(
      'tracing-server',
      (app) => {
        app.get<{ Params: { id: string } }>('/users/:id', async (request) => ({ id: request.params.id }));
      },
      { exporter },
    );
    expect(tracingActive()).toBe(true);
    const { url } = await service.start();
    expect(service.app.hasPlugin('fleet-tracing')).toBe(true);

    const res = await get(`${url}/users/42?q=1`, { traceparent: TRACEPARENT, tracestate: TRACESTATE });
    expect(res.status).toBe(200);
    const [span] = await finished(exporter, 1);
    expect(exporter.getFinishedSpans()).toHaveLength(1);
    expect(span?.name).toBe('GET /users/:id');
    expect(span?.kind).toBe(SpanKind.SERVER);
    expect(span?.spanContext().traceId).toBe(TRACE_ID);
    expect(span?.parentSpanContext?.spanId).toBe(PARENT_ID);
    expect(span?.parentSpanContext?.isRemote).toBe(true);
    expect(span?.spanContext().traceState?.serialize()).toBe(TRACESTATE);
    expect(span?.attributes).toMatchObject({
      'http.request.method': 'GET',
      'http.route': '/users/:id',
      'url.path': '/users/42',
      'url.scheme': 'http',
      'http.response.status_code': 200,
    });
    expect(span?.status.code).toBe(SpanStatusCode.UNSET);
    expect(span?.resource.attributes['service.name']).toBe('tracing-server');
    expect(span?.resource.attributes['service.version']).toBe('1.0.0');
  });

  it('starts a new trace when there is no traceparent, and marks 5xx spans as errors', async () => {
    const exporter = new InMemorySpanExporter();
    const { service, capture } = await build(
      'tracing-errors',
      (app) => {
        app.get('/boom', async () => {
          throw new Error('kaput');
        });
      },
      { exporter },
    );
    await service.app.ready();
    expect((await service.app.inject({ url: '/boom' })).statusCode).toBe(500);
    expect((await service.app.inject({ url: '/missing/1' })).statusCode).toBe(404);
    const spans = await finished(exporter, 2);
    const boom = only(spans, (s) => s.name === 'GET /boom');
    expect(boom.parentSpanContext).toBeUndefined();
    expect(boom.status.code).toBe(SpanStatusCode.ERROR);
    expect(boom.attributes['http.response.status_code']).toBe(500);
    expect(boom.events.map((e) => e.name)).toEqual(['exception']);
    expect(boom.events[0]?.attributes?.['exception.message']).toBe('kaput');
    // unmatched routes are named by method only: no span name per URL
    const missing = only(spans, (s) => s.attributes['http.response.status_code'] === 404);
    expect(missing.name).toBe('GET');
    expect(missing.attributes['http.route']).toBeUndefined();
    // the error line and the access line carry the span's ids
    const ids = { trace_id: boom.spanContext().traceId, span_id: boom.spanContext().spanId };
    expect(capture.find('unhandled error')[0]).toMatchObject(ids);
    expect(capture.find('request completed')[0]).toMatchObject({ ...ids, status: 500, level: 'error' });
  });

  it('injects traceparent and tracestate into outgoing fetch calls, under a CLIENT span', async () => {
    const exporter = new InMemorySpanExporter();
    const downstream = await headerRecorder();
    const { service } = await build(
      'tracing-client',
      (app) => {
        app.get('/proxy', async () => (await fetch(`${downstream.url}/thing`)).json());
      },
      { exporter },
    );
    const { url } = await service.start();
    const res = await get(`${url}/proxy`, { traceparent: TRACEPARENT, tracestate: TRACESTATE });
    expect(res).toEqual({ status: 200, body: '{"ok":true}' });

    const spans = await finished(exporter, 2);
    const server = only(spans, (s) => s.kind === SpanKind.SERVER);
    const client = only(spans, (s) => s.kind === SpanKind.CLIENT);
    expect(client.spanContext().traceId).toBe(TRACE_ID);
    expect(client.parentSpanContext?.spanId).toBe(server.spanContext().spanId);
    expect(downstream.seen).toHaveLength(1);
    expect(downstream.seen[0]?.traceparent).toBe(`00-${TRACE_ID}-${client.spanContext().spanId}-01`);
    expect(downstream.seen[0]?.tracestate).toBe(TRACESTATE);
  });

  it('keeps the trace context through request body parsing', async () => {
    const exporter = new InMemorySpanExporter();
    const { service, capture } = await build(
      'tracing-body',
      (app) => {
        app.post('/orders', async (request) => {
          request.log.info({ items: (request.body as { items: number }).items }, 'order received');
          return { ok: true };
        });
      },
      { exporter },
    );
    const { url } = await service.start();
    const res = await get(
      `${url}/orders`,
      { traceparent: TRACEPARENT, 'content-type': 'application/json' },
      JSON.stringify({ items: 3 }),
    );
    expect(res.status).toBe(200);
    const [span] = await finished(exporter, 1);
    const ids = { trace_id: TRACE_ID, span_id: span?.spanContext().spanId };
    expect(capture.find('order received')).toEqual([expect.objectContaining({ ...ids, items: 3 })]);
    await vi.waitFor(() => expect(capture.find('request completed')).toHaveLength(1));
    expect(capture.find('request completed')[0]).toMatchObject(ids);
  });

  it('follows one trace across two services in one process: spans and log lines', async () => {
    const exporter = new InMemorySpanExporter();
    const seenByB: IncomingHttpHeaders[] = [];
    const b = await build(
      'svc-b',
      (app, service) => {
        app.get<{ Params: { id: string } }>('/items/:id', async (request) => {
          seenByB.push(request.headers);
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
          const res = await fetch(`${urlB}/items/7`);
          const body = (await res.json()) as { item: string };
          request.log.info({ item: body.item }, 'a after calling b');
          return { item: body.item };
        });
      },
      { exporter },
    );
    const { url: urlA } = await a.service.start();

    const res = await get(`${urlA}/checkout`, { traceparent: TRACEPARENT, tracestate: TRACESTATE });
    expect(res).toEqual({ status: 200, body: '{"item":"7"}' });

    const spans = await finished(exporter, 3);
    expect(spans).toHaveLength(3);
    const serverA = only(spans, (s) => s.name === 'GET /checkout');
    const client = only(spans, (s) => s.kind === SpanKind.CLIENT);
    const serverB = only(spans, (s) => s.name === 'GET /items/:id');
    for (const span of spans) expect(span.spanContext().traceId).toBe(TRACE_ID);
    expect(serverA.kind).toBe(SpanKind.SERVER);
    expect(serverA.parentSpanContext?.spanId).toBe(PARENT_ID);
    expect(client.parentSpanContext?.spanId).toBe(serverA.spanContext().spanId);
    expect(serverB.kind).toBe(SpanKind.SERVER);
    expect(serverB.parentSpanContext?.spanId).toBe(client.spanContext().spanId);
    expect(serverB.parentSpanContext?.isRemote).toBe(true);
    expect(serverB.spanContext().traceState?.serialize()).toBe(TRACESTATE);
    expect(seenByB[0]?.traceparent).toBe(`00-${TRACE_ID}-${client.spanContext().spanId}-01`);

    const inA = { trace_id: TRACE_ID, span_id: serverA.spanContext().spanId };
    const inB = { trace_id: TRACE_ID, span_id: serverB.spanContext().spanId };
    await vi.waitFor(() => {
      expect(a.capture.find('request completed')).toHaveLength(1);
      expect(b.capture.find('request completed')).toHaveLength(1);
    });
    expect(a.capture.find('a before calling b')).toEqual([expect.objectContaining(inA)]);
    expect(a.capture.find('a after calling b')).toEqual([expect.objectContaining({ ...inA, item: '7' })]);
    expect(a.capture.find('request completed')).toEqual([
      expect.objectContaining({ ...inA, route: '/checkout', status: 200, service: 'svc-a' }),
    ]);
    expect(b.capture.find('b handling')).toEqual([expect.objectContaining({ ...inB, id: '7' })]);
    expect(b.capture.find('b root logger inside the request')).toEqual([expect.objectContaining(inB)]);
    expect(b.capture.find('request completed')).toEqual([
      expect.objectContaining({ ...inB, route: '/items/:id', status: 200, service: 'svc-b' }),
    ]);
    // lines outside any request have no trace ids
    expect(a.capture.find('service started')[0]).not.toHaveProperty('trace_id');
  });

  it('puts trace ids on the access line even when the response is sent outside the request context', async () => {
    const exporter = new InMemorySpanExporter();
    // a queue drained by a timer created outside any request, like a batching client would
    const queue: Array<() => void> = [];
    const timer = setInterval(() => {
      for (const fn of queue.splice(0)) fn();
    }, 5);
    try {
      const { service, capture } = await build(
        'tracing-detached',
        (app) => {
          app.get('/later', (_request, reply) => {
            queue.push(() => reply.send({ ok: true }));
          });
          app.addHook('onResponse', (_request, _reply, next) => {
            capture.lines.push({ msg: 'probe', active: trace.getActiveSpan() !== undefined });
            next();
          });
        },
        { exporter },
      );
      const { url } = await service.start();
      expect((await get(`${url}/later`, { traceparent: TRACEPARENT })).status).toBe(200);
      const [span] = await finished(exporter, 1);
      await vi.waitFor(() => expect(capture.find('request completed')).toHaveLength(1));
      // the context is gone by onResponse here, so the mixin alone would not add the ids
      expect(capture.find('probe')).toEqual([{ msg: 'probe', active: false }]);
      expect(capture.find('request completed')[0]).toMatchObject({
        trace_id: TRACE_ID,
        span_id: span?.spanContext().spanId,
      });
    } finally {
      clearInterval(timer);
    }
  });

  it('writes each trace id once per line, also when the context is still active in onResponse', async () => {
    const exporter = new InMemorySpanExporter();
    const raw: string[] = [];
    const { service, capture } = await build(
      'tracing-dupes',
      (app) => {
        app.get('/x', async () => ({ ok: true }));
      },
      { exporter },
    );
    const write = capture.write.bind(capture);
    capture.write = ((chunk: string, ...rest: never[]) => {
      raw.push(String(chunk));
      return write(chunk, ...rest);
    }) as typeof capture.write;
    await service.app.ready();
    await service.app.inject({ url: '/x', headers: { traceparent: TRACEPARENT } });
    const access = raw.find((l) => l.includes('request completed')) ?? '';
    expect(access.match(/"trace_id"/g)).toHaveLength(1);
    expect(access.match(/"span_id"/g)).toHaveLength(1);
  });

  it('logs no all-zero ids when OTEL_TRACES_EXPORTER=none leaves the SDK without a tracer', async () => {
    vi.stubEnv('OTEL_TRACES_EXPORTER', 'none');
    const { service, capture } = await build('tracing-none', (app) => {
      app.get('/x', async (request) => {
        request.log.info('inside');
        return { ok: true };
      });
    });
    await service.app.ready();
    await service.app.inject({ url: '/x' });
    for (const line of capture.lines) {
      expect(line).not.toHaveProperty('trace_id');
      expect(line).not.toHaveProperty('span_id');
    }
    // an incoming trace context is still continued in the logs
    await service.app.inject({ url: '/x', headers: { traceparent: TRACEPARENT } });
    expect(capture.find('inside')[1]).toMatchObject({ trace_id: TRACE_ID });
    expect(capture.find('request completed')[1]).toMatchObject({ trace_id: TRACE_ID });
  });

  it('exports over OTLP as configured by the standard OTEL_* variables', async () => {
    const received: Array<{ path: string; type: string; body: string }> = [];
    const collector = createServer((req, res) => {
      let body = '';
      req.setEncoding('utf8');
      req.on('data', (c) => {
        body += c;
      });
      req.on('end', () => {
        received.push({ path: req.url ?? '', type: req.headers['content-type'] ?? '', body });
        res.setHeader('content-type', 'application/json');
        res.end('{}');
      });
    });
    servers.push(collector);
    await new Promise<void>((resolve) => collector.listen(0, '127.0.0.1', resolve));
    const endpoint = `http://127.0.0.1:${(collector.address() as AddressInfo).port}`;
    vi.stubEnv('OTEL_TRACES_EXPORTER', 'otlp');
    vi.stubEnv('OTEL_EXPORTER_OTLP_ENDPOINT', endpoint);
    vi.stubEnv('OTEL_EXPORTER_OTLP_PROTOCOL', 'http/json');
    vi.stubEnv('OTEL_TRACES_SAMPLER', 'parentbased_always_on');

    const { service } = await build('tracing-otlp', (app) => {
      app.get('/x', async () => ({ ok: true }));
    });
    await service.app.ready();
    await service.app.inject({ url: '/x', headers: { traceparent: TRACEPARENT } });
    await service.stop(); // flushes the batch span processor

    expect(received.length).toBeGreaterThanOrEqual(1);
    expect(received[0]?.path).toBe('/v1/traces');
    expect(received[0]?.type).toContain('application/json');
    const payload = JSON.parse(received.map((r) => r.body)[0] ?? '{}');
    const resourceSpans = payload.resourceSpans[0];
    const attrs = Object.fromEntries(
      resourceSpans.resource.attributes.map((a: { key: string; value: { stringValue?: string } }) => [
        a.key,
        a.value.stringValue,
      ]),
    );
    expect(attrs['service.name']).toBe('tracing-otlp');
    const span = resourceSpans.scopeSpans[0].spans[0];
    expect(span.name).toBe('GET /x');
    expect(span.traceId).toBe(TRACE_ID);
  });
});
