import Fastify, { type FastifyInstance } from 'fastify';
import { describe, expect, it } from 'vitest';
import { createLogger } from '../logging/logger.js';
import { LogCapture } from '../testing/index.js';
import { ByRouteMethodStatus } from './by-route.js';
import { onResponseSent } from './observers.js';

describe('onResponseSent', () => {
  it('runs observers after the response, in order, one failing observer not stopping the others', async () => {
    const capture = new LogCapture();
    const logger = createLogger({ service: 's', version: '1', level: 'info', destination: capture });
    const app = Fastify({ loggerInstance: logger }) as unknown as FastifyInstance;
    const seen: string[] = [];
    onResponseSent(app, (request, reply) => {
      seen.push(`first ${request.url} ${reply.statusCode} sent=${reply.sent}`);
    });
    onResponseSent(app, () => {
      throw new Error('observer broke');
    });
    onResponseSent(app, (_request, reply) => {
      seen.push(`third ${reply.statusCode}`);
    });
    app.get('/x', async () => ({ ok: true }));
    const res = await app.inject({ url: '/x' });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ ok: true });
    await new Promise((resolve) => setImmediate(resolve));
    expect(seen).toEqual(['first /x 200 sent=true', 'third 200']);
    const failure = capture.lines.find((l) => l.msg === 'response observer failed');
    expect((failure?.err as { message?: string } | undefined)?.message).toBe('observer broke');
    // one onResponse hook however many observers: the next request runs them all again, once
    await app.inject({ url: '/missing' });
    expect(seen.slice(2)).toEqual(['first /missing 404 sent=true', 'third 404']);
    await app.close();
  });
});

describe('ByRouteMethodStatus', () => {
  it('keeps one value per route, method and status, and stops taking routes at its limit', () => {
    const map = new ByRouteMethodStatus<string>(2);
    map.set('/a', 'GET', 200, 'a-get-200');
    map.set('/a', 'GET', 500, 'a-get-500');
    map.set('/a', 'POST', 200, 'a-post-200');
    map.set('/b', 'GET', 200, 'b-get-200');
    map.set('/c', 'GET', 200, 'not kept');
    expect(map.get('/a', 'GET', 200)).toBe('a-get-200');
    expect(map.get('/a', 'GET', 500)).toBe('a-get-500');
    expect(map.get('/a', 'POST', 200)).toBe('a-post-200');
    expect(map.get('/a', 'POST', 404)).toBeUndefined();
    expect(map.get('/c', 'GET', 200)).toBeUndefined();
    expect([...map.values()].sort()).toEqual(['a-get-200', 'a-get-500', 'a-post-200', 'b-get-200']);
    map.clear();
    expect([...map.values()]).toEqual([]);
    map.set('/c', 'GET', 200, 'kept after clear');
    expect(map.get('/c', 'GET', 200)).toBe('kept after clear');
  });
});
