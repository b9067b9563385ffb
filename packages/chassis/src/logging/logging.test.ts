import { hostname } from 'node:os';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createService, type Service, type ServiceOptions } from '../service.js';
import { LogCapture } from '../testing/index.js';
import { isoTimeCached } from './logger.js';

const services: Service[] = [];
afterEach(async () => {
  await Promise.all(services.splice(0).map((s) => s.stop()));
});

async function build(
  env: Record<string, string> = {},
  routes?: ServiceOptions['routes'],
): Promise<{ service: Service; capture: LogCapture }> {
  const capture = new LogCapture();
  const service = await createService({
    name: 'logging-test',
    version: '1.2.3',
    configSources: { env, argv: [] },
    logDestination: capture,
    routes:
      routes ??
      ((app) => {
        app.get<{ Params: { id: string } }>('/users/:id', async (request) => ({ id: request.params.id }));
        app.get('/boom', async () => {
          throw new Error('kaput');
        });
        app.get('/teapot', async (_request, reply) => reply.code(418).send({ short: 'stout' }));
      }),
  });
  services.push(service);
  await service.app.ready();
  return { service, capture };
}

describe('logging', () => {
  it('writes JSON lines with service name, version, hostname, level and ISO time', async () => {
    const { service, capture } = await build();
    service.log.info({ answer: 42 }, 'hello');
    const [line] = capture.find('hello');
    expect(line).toMatchObject({
      level: 'info',
      service: 'logging-test',
      version: '1.2.3',
      hostname: hostname(),
      answer: 42,
      msg: 'hello',
    });
    expect(new Date(String(line?.time)).toISOString()).toBe(line?.time);
    expect(Math.abs(Date.parse(String(line?.time)) - Date.now())).toBeLessThan(5000);
  });

  it('writes one access line per request: method, route template, status, duration, request id', async () => {
    const { service, capture } = await build();
    const res = await service.app.inject({ url: '/users/123?password=hunter2' });
    expect(res.statusCode).toBe(200);
    const access = capture.find('request completed');
    expect(access).toHaveLength(1);
    const [line] = access;
    expect(line).toMatchObject({
      level: 'info',
      service: 'logging-test',
      method: 'GET',
      route: '/users/:id',
      status: 200,
      request_id: expect.any(String),
    });
    expect(line?.duration_ms).toEqual(expect.any(Number));
    // the raw URL (and its query string) never reaches the access line
    expect(JSON.stringify(line)).not.toContain('hunter2');
    expect(JSON.stringify(line)).not.toContain('/users/123');
    // no Fastify default request logging
    expect(capture.find('incoming request')).toEqual([]);
  });

  it('takes the request id from x-request-id', async () => {
    const { service, capture } = await build();
    await service.app.inject({ url: '/users/1', headers: { 'x-request-id': 'abc-123' } });
    expect(capture.find('request completed')[0]?.request_id).toBe('abc-123');
  });

  it('logs 5xx answers at error level, other statuses at info', async () => {
    const { service, capture } = await build();
    expect((await service.app.inject({ url: '/boom' })).statusCode).toBe(500);
    expect((await service.app.inject({ url: '/teapot' })).statusCode).toBe(418);
    expect((await service.app.inject({ url: '/nowhere/42' })).statusCode).toBe(404);
    const lines = capture.find('request completed');
    expect(lines.map((l) => [l.route, l.status, l.level])).toEqual([
      ['/boom', 500, 'error'],
      ['/teapot', 418, 'info'],
      ['unmatched', 404, 'info'],
    ]);
    // the error itself is logged once with its stack, in the same request
    const [unhandled] = capture.find('unhandled error');
    expect(unhandled).toMatchObject({ level: 'error', err: { message: 'kaput' } });
    expect(unhandled?.request_id).toBe(lines[0]?.request_id);
  });

  it('LOG_REQUESTS=false turns the access line off', async () => {
    const { service, capture } = await build({ LOG_REQUESTS: 'false' });
    await service.app.inject({ url: '/users/1' });
    expect(capture.find('request completed')).toEqual([]);
  });

  it('redacts secrets anywhere in a logged object', async () => {
    const { service, capture } = await build({}, (app) => {
      app.post('/login', async (request) => {
        request.log.info(
          {
            body: request.body,
            headers: request.headers,
            env: { GITHUB_TOKEN: 'ghp_secret1', WEBHOOK_SECRET: 'whsec_secret2', REGION: 'eu' },
            nested: { deeper: [{ refresh_token: 'rt_secret3' }] },
          },
          'login attempt',
        );
        return { ok: true };
      });
    });
    await service.app.inject({
      method: 'POST',
      url: '/login',
      headers: { authorization: 'Bearer tok_secret4', cookie: 'sid=secret5', 'x-trace': 'visible' },
      payload: { user: 'ada', password: 'secret6', api_key: 'secret7' },
    });
    const [line] = capture.find('login attempt');
    expect(line).toMatchObject({
      body: { user: 'ada', password: '[REDACTED]', api_key: '[REDACTED]' },
      headers: { authorization: '[REDACTED]', cookie: '[REDACTED]', 'x-trace': 'visible' },
      env: { GITHUB_TOKEN: '[REDACTED]', WEBHOOK_SECRET: '[REDACTED]', REGION: 'eu' },
      nested: { deeper: [{ refresh_token: '[REDACTED]' }] },
    });
    expect(capture.text).not.toMatch(/secret\d/);
  });

  it('changing logger.level at runtime applies to request loggers created afterwards', async () => {
    const { service, capture } = await build({ LOG_LEVEL: 'info' }, (app) => {
      app.get('/work', async (request) => {
        request.log.debug('debug detail');
        request.log.info('info detail');
        return { ok: true };
      });
    });
    await service.app.inject({ url: '/work' });
    expect(capture.find('debug detail')).toHaveLength(0);
    expect(capture.find('info detail')).toHaveLength(1);
    expect(capture.find('request completed')).toHaveLength(1);

    service.log.level = 'debug';
    await service.app.inject({ url: '/work' });
    expect(capture.find('debug detail')).toHaveLength(1);

    service.log.level = 'warn';
    await service.app.inject({ url: '/work' });
    expect(capture.find('info detail')).toHaveLength(2);
    expect(capture.find('debug detail')).toHaveLength(1);
    expect(capture.find('request completed')).toHaveLength(2);
  });

  it('has no trace ids when tracing is off', async () => {
    const { service, capture } = await build();
    await service.app.inject({
      url: '/users/1',
      headers: { traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01' },
    });
    const [line] = capture.find('request completed');
    expect(line).toBeDefined();
    expect(line).not.toHaveProperty('trace_id');
    expect(line).not.toHaveProperty('span_id');
  });
});

describe('isoTimeCached', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('renders pino time fields with the current ISO time', () => {
    const field = isoTimeCached();
    expect(field).toMatch(/^,"time":"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z"$/);
    const time = Date.parse(JSON.parse(`{${field.slice(1)}}`).time);
    expect(Math.abs(time - Date.now())).toBeLessThan(50);
  });

  it('matches Date#toISOString across millisecond, second and day boundaries', () => {
    vi.useFakeTimers();
    const start = Date.UTC(2026, 10, 21, 23, 59, 58, 990);
    for (let t = start; t < start + 2100; t += 7) {
      vi.setSystemTime(t);
      expect(isoTimeCached()).toBe(`,"time":"${new Date(t).toISOString()}"`);
      expect(isoTimeCached()).toBe(`,"time":"${new Date(t).toISOString()}"`);
    }
    vi.setSystemTime(Date.UTC(1999, 0, 1, 0, 0, 0, 5));
    expect(isoTimeCached()).toBe(',"time":"1999-01-01T00:00:00.005Z"');
  });
});
