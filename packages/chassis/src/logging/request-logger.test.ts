import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { createService, type Service } from '../service.js';
import { LogCapture } from '../testing/index.js';
import { traceLogMixin } from '../tracing/log-context.js';
import { createLogger } from './logger.js';
import { RequestLogger } from './request-logger.js';

const FIELDS = ',"method":"GET","route":"/a/:b","status":200,"duration_ms":1.5';
const OBJECT = () => ({ method: 'GET', route: '/a/:b', status: 200, duration_ms: 1.5 });

function rootLogger(capture: LogCapture, extra: { mixin?: () => Record<string, unknown> } = {}) {
  return createLogger({ service: 'svc', version: '9', level: 'info', destination: capture, ...extra });
}

/** A line without its time, which differs between two writes. */
const timeless = (line: Record<string, unknown> | undefined) => {
  const { time, ...rest } = line ?? {};
  expect(typeof time).toBe('string');
  return rest;
};

describe('RequestLogger', () => {
  it('writes access lines by hand exactly as pino would, key order included', () => {
    const capture = new LogCapture();
    const root = rootLogger(capture, { mixin: traceLogMixin });
    const fast = new RequestLogger(root, { request_id: 'req-1' }, {});
    fast.write(30, FIELDS, 'request completed');
    root.child({ request_id: 'req-1' }).info(OBJECT(), 'request completed');
    const [byHand, byPino] = capture.lines;
    expect(timeless(byHand)).toEqual(timeless(byPino));
    expect(Object.keys(byHand ?? {})).toEqual(Object.keys(byPino ?? {}));
    expect(byHand).toMatchObject({ level: 'info', service: 'svc', request_id: 'req-1', route: '/a/:b' });
  });

  it('escapes bindings such as a client-supplied request id', () => {
    const capture = new LogCapture();
    const fast = new RequestLogger(rootLogger(capture), { request_id: 'a"b\\c\n{' }, {});
    fast.write(50, FIELDS, 'request completed');
    expect(capture.lines).toHaveLength(1);
    expect(capture.lines[0]).toMatchObject({ level: 'error', request_id: 'a"b\\c\n{' });
  });

  it('follows the root level, and a per-route level, without creating a child', () => {
    const capture = new LogCapture();
    const root = rootLogger(capture);
    const plain = new RequestLogger(root, { request_id: 'r' }, {});
    const quiet = new RequestLogger(root, { request_id: 'r' }, { level: 'warn' });
    expect(plain.level).toBe('info');
    expect(quiet.level).toBe('warn');
    expect(plain.write(30, FIELDS, 'one')).toBe(true);
    expect(quiet.write(30, FIELDS, 'suppressed')).toBe(true);
    expect(quiet.write(50, FIELDS, 'two')).toBe(true);
    root.level = 'error';
    expect(plain.isLevelEnabled('info')).toBe(false);
    expect(plain.write(30, FIELDS, 'suppressed')).toBe(true);
    expect(capture.lines.map((l) => l.msg)).toEqual(['one', 'two']);
  });

  it('delegates to a pino child created on first use, with its bindings', () => {
    const capture = new LogCapture();
    const root = rootLogger(capture);
    const log = new RequestLogger(root, { request_id: 'req-7' }, {});
    expect(log.bindings()).toMatchObject({ service: 'svc', request_id: 'req-7' });
    log.info({ a: 1 }, 'hello %s', 'world');
    log.debug('hidden');
    log.level = 'debug';
    log.debug('shown');
    log.child({ step: 2 }).warn('from a grandchild');
    expect(capture.lines.map((l) => [l.msg, l.request_id])).toEqual([
      ['hello world', 'req-7'],
      ['shown', 'req-7'],
      ['from a grandchild', 'req-7'],
    ]);
    expect(capture.lines[2]?.step).toBe(2);
    // root unaffected by the request's own level
    expect(root.level).toBe('info');
  });

  it('leaves the line to pino once materialized, and for loggers it cannot write for', () => {
    const capture = new LogCapture();
    const root = rootLogger(capture);
    const log = new RequestLogger(root, { request_id: 'r1' }, {});
    log.setBindings({ user: 'ada' });
    expect(log.write(30, FIELDS, 'request completed')).toBe(false);
    const prefixed = pino({ msgPrefix: '[x] ' }, capture);
    expect(new RequestLogger(prefixed, { request_id: 'r2' }, {}).write(30, FIELDS, 'x')).toBe(false);
    expect(capture.lines).toEqual([]);
  });
});

describe('request.log in a service', () => {
  const services: Service[] = [];
  afterEach(async () => {
    await Promise.all(services.splice(0).map((s) => s.stop()));
  });

  it('is a RequestLogger; handler lines and the access line share the request id', async () => {
    const capture = new LogCapture();
    const service = await createService({
      name: 'rl',
      version: '1',
      configSources: { env: {}, argv: [] },
      logDestination: capture,
      routes(app) {
        app.get('/quiet', async (request) => ({ isRequestLogger: request.log instanceof RequestLogger }));
        app.get('/chatty', async (request) => {
          request.log.info({ step: 1 }, 'working');
          return { ok: true };
        });
        app.get('/muted', { logLevel: 'warn' }, async () => ({ ok: true }));
      },
    });
    services.push(service);
    await service.app.ready();
    expect((await service.app.inject({ url: '/quiet' })).json()).toEqual({ isRequestLogger: true });
    await service.app.inject({ url: '/chatty', headers: { 'x-request-id': 'chatty-1' } });
    await service.app.inject({ url: '/muted' });
    await service.app.inject({ url: '/metrics' });
    const access = capture.find('request completed');
    expect(access.map((l) => l.route)).toEqual(['/quiet', '/chatty']);
    expect(capture.find('working')).toEqual([expect.objectContaining({ step: 1, request_id: 'chatty-1' })]);
    expect(access[1]?.request_id).toBe('chatty-1');
  });
});
