import Fastify from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createService, type Service } from '../service.js';
import { LogCapture } from '../testing/index.js';
import { errorsPlugin } from './plugin.js';

const itemSchema = {
  body: {
    type: 'object',
    required: ['name', 'count'],
    additionalProperties: false,
    properties: {
      name: { type: 'string', minLength: 1 },
      count: { type: 'integer', minimum: 1 },
      tags: { type: 'array', items: { type: 'string', maxLength: 5 } },
    },
  },
  querystring: {
    type: 'object',
    properties: { dryRun: { type: 'boolean' } },
    additionalProperties: false,
  },
} as const;

describe('errors plugin in a chassis service', () => {
  let service: Service;
  const logs = new LogCapture();

  beforeAll(async () => {
    service = await createService({
      name: 'errors-test',
      version: '1.0.0',
      configSources: { env: { LOG_LEVEL: 'info', LOG_REQUESTS: 'false' }, argv: [] },
      logDestination: logs,
      routes: (app) => {
        app.post('/items', { schema: itemSchema }, async (request, reply) =>
          reply.code(201).send(request.body),
        );
        app.get(
          '/items/:id',
          { schema: { params: { type: 'object', properties: { id: { type: 'integer' } } } } },
          async (request) => request.params,
        );
        app.get('/boom', async () => {
          throw new Error('connection to postgres://admin:hunter2@db failed');
        });
        app.get('/unavailable', async () => {
          throw Object.assign(new Error('pool exhausted at 10.0.0.7'), { statusCode: 503 });
        });
        app.get('/conflict', async () => {
          throw Object.assign(new Error('order 42 is already shipped'), {
            statusCode: 409,
            code: 'order_shipped',
          });
        });
        app.get('/teapot', async () => {
          throw Object.assign(new Error('short and stout'), { statusCode: 418 });
        });
      },
    });
    await service.app.ready();
  });
  afterAll(() => service.stop());

  it('lists every validation problem with its path (allErrors)', async () => {
    const response = await service.app.inject({
      method: 'POST',
      url: '/items',
      payload: { count: 0, tags: ['ok', 'much too long'], color: 'red' },
    });
    expect(response.statusCode).toBe(400);
    const body = response.json();
    expect(body).toMatchObject({ statusCode: 400, error: 'Bad Request', code: 'validation_failed' });
    expect(typeof body.message).toBe('string');
    const problems = (body.details as Array<{ path: string; message: string }>).map((d) => d.path).sort();
    expect(problems).toEqual(['body/color', 'body/count', 'body/name', 'body/tags/1']);
    for (const detail of body.details) expect(detail.message).toEqual(expect.any(String));
    expect(body.details.find((d: { path: string }) => d.path === 'body/name').message).toMatch(/required/);
  });

  it('rejects unknown fields instead of silently removing them (removeAdditional: false)', async () => {
    const response = await service.app.inject({
      method: 'POST',
      url: '/items',
      payload: { name: 'widget', count: 1, isAdmin: true },
    });
    expect(response.statusCode).toBe(400);
    expect(response.json().details).toEqual([
      expect.objectContaining({ path: 'body/isAdmin', message: 'must NOT have additional properties' }),
    ]);
    const ok = await service.app.inject({
      method: 'POST',
      url: '/items',
      payload: { name: 'widget', count: 1 },
    });
    expect(ok.statusCode).toBe(201);
    expect(ok.json()).toEqual({ name: 'widget', count: 1 });
  });

  it('names querystring and params problems by their context', async () => {
    const query = await service.app.inject({
      method: 'POST',
      url: '/items?dryRun=maybe&verbose=1',
      payload: { name: 'w', count: 1 },
    });
    expect(query.statusCode).toBe(400);
    expect(
      query
        .json()
        .details.map((d: { path: string }) => d.path)
        .sort(),
    ).toEqual(['querystring/dryRun', 'querystring/verbose']);
    const params = await service.app.inject({ method: 'GET', url: '/items/abc' });
    expect(params.statusCode).toBe(400);
    expect(params.json().details[0].path).toBe('params/id');
  });

  it('answers malformed JSON with a 400 error body', async () => {
    const response = await service.app.inject({
      method: 'POST',
      url: '/items',
      headers: { 'content-type': 'application/json' },
      payload: '{"name": ',
    });
    expect(response.statusCode).toBe(400);
    expect(response.json()).toMatchObject({
      statusCode: 400,
      error: 'Bad Request',
      code: expect.any(String),
    });
  });

  it('answers unknown routes with a 404 body', async () => {
    const response = await service.app.inject({ method: 'GET', url: '/nope?token=abc' });
    expect(response.statusCode).toBe(404);
    expect(response.json()).toEqual({
      statusCode: 404,
      error: 'Not Found',
      code: 'not_found',
      message: 'no route for GET /nope',
    });
  });

  it('hides internals of a 500 and logs the error with its stack', async () => {
    const response = await service.app.inject({ method: 'GET', url: '/boom' });
    expect(response.statusCode).toBe(500);
    expect(response.json()).toEqual({
      statusCode: 500,
      error: 'Internal Server Error',
      code: 'internal_error',
      message: 'Internal Server Error',
    });
    expect(response.body).not.toContain('hunter2');
    expect(response.body).not.toContain('postgres');
    const line = logs.find('unhandled error').at(-1);
    expect(line?.level).toBe('error');
    const err = line?.err as { message: string; stack: string };
    expect(err.message).toContain('postgres://');
    expect(err.stack).toContain('errors.test.ts');
  });

  it('hides the message of other 5xx errors too, keeping their status', async () => {
    const response = await service.app.inject({ method: 'GET', url: '/unavailable' });
    expect(response.statusCode).toBe(503);
    expect(response.json()).toMatchObject({ code: 'internal_error', message: 'Service Unavailable' });
    expect(response.body).not.toContain('10.0.0.7');
  });

  it('keeps the message and code of client errors', async () => {
    const conflict = await service.app.inject({ method: 'GET', url: '/conflict' });
    expect(conflict.statusCode).toBe(409);
    expect(conflict.json()).toEqual({
      statusCode: 409,
      error: 'Conflict',
      code: 'order_shipped',
      message: 'order 42 is already shipped',
    });
    const teapot = await service.app.inject({ method: 'GET', url: '/teapot' });
    expect(teapot.statusCode).toBe(418);
    expect(teapot.json()).toEqual({
      statusCode: 418,
      error: "I'm a Teapot",
      code: 'i_m_a_teapot',
      message: 'short and stout',
    });
  });
});

describe('errors plugin on a bare Fastify', () => {
  it('treats thrown non-errors and out-of-range status codes as 500', async () => {
    const app = Fastify();
    await app.register(errorsPlugin);
    app.get('/string', async () => {
      throw 'plain string';
    });
    app.get('/weird', async () => {
      throw Object.assign(new Error('weird'), { statusCode: 999 });
    });
    try {
      const plain = await app.inject({ url: '/string' });
      expect(plain.statusCode).toBe(500);
      expect(plain.json().code).toBe('internal_error');
      const weird = await app.inject({ url: '/weird' });
      expect(weird.statusCode).toBe(500);
      expect(weird.body).not.toContain('weird');
    } finally {
      await app.close();
    }
  });
});
