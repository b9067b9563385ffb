import { Histogram, Registry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import { createService, type Service, type ServiceOptions } from '../service.js';
import { LogCapture } from '../testing/index.js';
import { CHASSIS_VERSION } from '../version.js';
import { MetricsRegistry } from './registry.js';
import { RequestDurationHistogram } from './request-histogram.js';

const services: Service[] = [];
afterEach(async () => {
  await Promise.all(services.splice(0).map((s) => s.stop()));
});

async function build(
  name: string,
  routes: ServiceOptions['routes'],
  env: Record<string, string> = {},
): Promise<Service> {
  const service = await createService({
    name,
    version: '2.0.0',
    configSources: { env, argv: [] },
    logDestination: new LogCapture(),
    routes,
  });
  services.push(service);
  await service.app.ready();
  return service;
}

const userRoutes: ServiceOptions['routes'] = (app) => {
  app.get<{ Params: { id: string } }>('/users/:id', async (request) => ({ id: request.params.id }));
  app.post('/users', async (_request, reply) => reply.code(201).send({ created: true }));
  app.get('/fail', async () => {
    throw new Error('nope');
  });
};

async function scrape(service: Service): Promise<string> {
  const res = await service.app.inject({ url: '/metrics' });
  expect(res.statusCode).toBe(200);
  expect(res.headers['content-type']).toMatch(/^text\/plain; version=0\.0\.4/);
  return res.body;
}

/** Lines of one metric family (samples only). */
function samples(text: string, prefix: string): string[] {
  return text.split('\n').filter((l) => l.startsWith(prefix));
}

describe('metrics', () => {
  it('serves Prometheus text with default process and Node metrics', async () => {
    const service = await build('metrics-defaults', userRoutes);
    const text = await scrape(service);
    expect(text).toContain('# TYPE process_cpu_user_seconds_total counter');
    expect(text).toContain('# TYPE process_resident_memory_bytes gauge');
    expect(text).toContain('# TYPE nodejs_heap_size_used_bytes gauge');
    expect(text).toContain('# TYPE nodejs_eventloop_lag_seconds gauge');
    expect(text).toContain('# TYPE http_server_request_duration_seconds histogram');
  });

  it('exposes service_info with service, version and chassis version', async () => {
    const service = await build('metrics-info', userRoutes);
    const text = await scrape(service);
    expect(samples(text, 'service_info')).toEqual([
      `service_info{service="metrics-info",version="2.0.0",chassis_version="${CHASSIS_VERSION}"} 1`,
    ]);
  });

  it('labels request durations by method, route template and status code', async () => {
    const service = await build('metrics-routes', userRoutes);
    await service.app.inject({ url: '/users/123' });
    await service.app.inject({ url: '/users/456' });
    await service.app.inject({ url: '/users/789?x=1' });
    await service.app.inject({ method: 'POST', url: '/users', payload: {} });
    await service.app.inject({ url: '/fail' });
    const text = await scrape(service);
    const counts = samples(text, 'http_server_request_duration_seconds_count');
    expect(counts).toContain(
      'http_server_request_duration_seconds_count{method="GET",route="/users/:id",status_code="200"} 3',
    );
    expect(counts).toContain(
      'http_server_request_duration_seconds_count{method="POST",route="/users",status_code="201"} 1',
    );
    expect(counts).toContain(
      'http_server_request_duration_seconds_count{method="GET",route="/fail",status_code="500"} 1',
    );
    expect(text).not.toMatch(/route="\/users\/\d+"/);
    // buckets in seconds, cumulative, ending at +Inf
    const buckets = samples(text, 'http_server_request_duration_seconds_bucket{').filter((l) =>
      l.includes('route="/users/:id"'),
    );
    expect(buckets.at(-1)).toBe(
      'http_server_request_duration_seconds_bucket{le="+Inf",method="GET",route="/users/:id",status_code="200"} 3',
    );
    const sum = samples(text, 'http_server_request_duration_seconds_sum{method="GET",route="/users/:id"');
    const seconds = Number(sum[0]?.split(' ')[1]);
    expect(seconds).toBeGreaterThan(0);
    expect(seconds).toBeLessThan(3);
  });

  it('does not create a series per unmatched URL', async () => {
    const service = await build('metrics-404', userRoutes);
    for (let i = 0; i < 20; i++) {
      expect((await service.app.inject({ url: `/random/${i}/path` })).statusCode).toBe(404);
    }
    const text = await scrape(service);
    expect(text).not.toContain('/random/');
    const notFound = samples(text, 'http_server_request_duration_seconds_count').filter((l) =>
      l.includes('status_code="404"'),
    );
    expect(notFound).toEqual([
      'http_server_request_duration_seconds_count{method="GET",route="unmatched",status_code="404"} 20',
    ]);
  });

  it('shows service-registered counters and histograms', async () => {
    const service = await build('metrics-custom', (app, svc) => {
      const orders = svc.metrics.counter({
        name: 'orders_created_total',
        help: 'Orders created',
        labelNames: ['channel'],
      });
      const size = svc.metrics.histogram({ name: 'order_size_items', help: 'Items', buckets: [1, 5, 10] });
      app.post('/orders', async () => {
        orders.inc({ channel: 'web' });
        size.observe(3);
        return { ok: true };
      });
    });
    await service.app.inject({ method: 'POST', url: '/orders', payload: {} });
    await service.app.inject({ method: 'POST', url: '/orders', payload: {} });
    const text = await scrape(service);
    expect(text).toContain('# HELP orders_created_total Orders created');
    expect(text).toContain('orders_created_total{channel="web"} 2');
    expect(text).toContain('order_size_items_bucket{le="5"} 2');
    expect(text).toContain('order_size_items_count 2');
  });

  it('keeps two services in one process apart', async () => {
    const make = (name: string) =>
      build(name, (app, svc) => {
        const hits = svc.metrics.counter({ name: 'hits_total', help: 'Hits' });
        app.get('/hit', async () => {
          hits.inc();
          return { ok: true };
        });
      });
    const a = await make('svc-a');
    const b = await make('svc-b');
    for (let i = 0; i < 3; i++) await a.app.inject({ url: '/hit' });
    await b.app.inject({ url: '/hit' });
    const [textA, textB] = [await scrape(a), await scrape(b)];
    expect(samples(textA, 'hits_total')).toEqual(['hits_total 3']);
    expect(samples(textB, 'hits_total')).toEqual(['hits_total 1']);
    expect(textA).toContain('service_info{service="svc-a"');
    expect(textA).not.toContain('svc-b');
    expect(textB).toContain('service_info{service="svc-b"');
    // both still have their own default metrics
    expect(textA).toContain('process_cpu_user_seconds_total');
    expect(textB).toContain('process_cpu_user_seconds_total');
  });

  it('METRICS_PATH moves the route and METRICS_ENABLED=false removes it', async () => {
    const moved = await build('metrics-moved', userRoutes, { METRICS_PATH: '/internal/metrics' });
    expect((await moved.app.inject({ url: '/internal/metrics' })).body).toContain('service_info');
    expect((await moved.app.inject({ url: '/metrics' })).statusCode).toBe(404);
    const off = await build('metrics-off', userRoutes, { METRICS_ENABLED: 'false' });
    expect((await off.app.inject({ url: '/metrics' })).statusCode).toBe(404);
  });
});

describe('MetricsRegistry', () => {
  it('returns the existing metric when one is registered twice under the same name', () => {
    const metrics = new MetricsRegistry({}, false);
    const a = metrics.counter({ name: 'x_total', help: 'x' });
    const b = metrics.counter({ name: 'x_total', help: 'x' });
    expect(a).toBe(b);
  });

  it('histograms default to latency buckets in seconds', async () => {
    const metrics = new MetricsRegistry({}, false);
    metrics.histogram({ name: 'op_seconds', help: 'op' }).observe(0.003);
    const text = await metrics.expose();
    expect(text).toContain('op_seconds_bucket{le="0.001"} 0');
    expect(text).toContain('op_seconds_bucket{le="0.005"} 1');
    expect(text).toContain('op_seconds_bucket{le="10"} 1');
  });
});

describe('RequestDurationHistogram', () => {
  it('exposes the same text as a prom-client Histogram fed the same observations', async () => {
    const ours = new Registry();
    const theirs = new Registry();
    const fast = new RequestDurationHistogram({ name: 'req_seconds', help: 'Request time', registry: ours });
    const reference = new Histogram({
      name: 'req_seconds',
      help: 'Request time',
      labelNames: ['method', 'route', 'status_code'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [theirs],
    });
    const observations: Array<[string, string, number, number]> = [
      ['GET', '/users/:id', 200, 0.0004],
      ['GET', '/users/:id', 200, 0.001],
      ['GET', '/users/:id', 200, 0.0011],
      ['GET', '/users/:id', 404, 0.02],
      ['POST', '/users', 201, 0.3],
      ['GET', 'unmatched', 404, 12],
    ];
    for (const [method, route, status, seconds] of observations) {
      fast.observe(method, route, status, seconds);
      reference.observe({ method, route, status_code: String(status) }, seconds);
    }
    expect(await ours.metrics()).toBe(await theirs.metrics());
    const samplesOf = async (registry: Registry) =>
      (await registry.getMetricsAsJSON()).flatMap((m) =>
        m.values.map((v) => ({
          name: (v as { metricName?: string }).metricName,
          labels: v.labels,
          value: v.value,
        })),
      );
    expect(await samplesOf(ours)).toEqual(await samplesOf(theirs));
    ours.resetMetrics();
    expect(await ours.metrics()).toBe('# HELP req_seconds Request time\n# TYPE req_seconds histogram\n');
  });
});
