import Fastify, { type FastifyInstance } from 'fastify';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createService, type Service } from '../service.js';
import { createTestKeys, type TestKeys } from '../testing/index.js';
import {
  type IdempotencyOptions,
  type IdempotencyRecord,
  type IdempotencyStore,
  idempotencyPlugin,
  MemoryIdempotencyStore,
  type StoredResponse,
} from './idempotency.js';

/** A promise with its resolver, to hold a handler until the test lets it go. */
function gate(): { promise: Promise<void>; release: () => void } {
  let release!: () => void;
  const promise = new Promise<void>((resolve) => {
    release = resolve;
  });
  return { promise, release };
}

interface Harness {
  service: Service;
  calls: { orders: number; failing: number; slow: number; owned: number; empty: number };
  slowGate: { promise: Promise<void>; release: () => void };
  slowEntered: { promise: Promise<void>; release: () => void };
}

async function makeHarness(keys: TestKeys, idempotency?: IdempotencyOptions): Promise<Harness> {
  const calls = { orders: 0, failing: 0, slow: 0, owned: 0, empty: 0 };
  const harness = { calls, slowGate: gate(), slowEntered: gate() } as Harness;
  harness.service = await createService({
    name: 'idempotency-test',
    version: '1.0.0',
    configSources: { env: { LOG_LEVEL: 'silent', AUTH_PUBLIC_KEYS: keys.jwks }, argv: [] },
    ...(idempotency ? { idempotency } : {}),
    routes: (app) => {
      app.post<{ Body: { item: string; qty: number } }>(
        '/orders',
        { idempotent: true },
        async (request, reply) => {
          calls.orders++;
          if (request.body.qty < 1) return reply.code(422).send({ code: 'bad_qty', run: calls.orders });
          reply.header('location', `/orders/${calls.orders}`).header('x-request-id', request.id);
          return reply.code(201).send({ id: calls.orders, item: request.body.item });
        },
      );
      app.post('/failing', { idempotent: true }, async (_request, reply) => {
        calls.failing++;
        if (calls.failing === 1) throw new Error('transient');
        return reply.code(201).send({ run: calls.failing });
      });
      app.post('/slow', { idempotent: true }, async () => {
        calls.slow++;
        harness.slowEntered.release();
        await harness.slowGate.promise;
        return { run: calls.slow };
      });
      app.post('/owned', { idempotent: true, auth: true }, async (request) => {
        calls.owned++;
        return { run: calls.owned, owner: request.principal?.subject };
      });
      app.put('/empty', { idempotent: true }, async (_request, reply) => {
        calls.empty++;
        return reply.code(204).send();
      });
      app.post('/plain', async () => ({ ok: true }));
    },
  });
  await harness.service.app.ready();
  return harness;
}

const key = (k: string) => ({ 'idempotency-key': k });

describe('Idempotency-Key on { idempotent: true } routes', () => {
  let keys: TestKeys;
  let h: Harness;
  let app: FastifyInstance;

  // One service for the block: every test uses its own keys, counters and gates are reset
  beforeAll(async () => {
    keys = await createTestKeys();
    h = await makeHarness(keys);
    app = h.service.app;
  });
  beforeEach(() => {
    for (const name of Object.keys(h.calls) as Array<keyof Harness['calls']>) h.calls[name] = 0;
    h.slowGate = gate();
    h.slowEntered = gate();
  });
  afterAll(() => h.service.stop());

  it('stores the first response and replays it for the same key; the handler runs once', async () => {
    const first = await app.inject({
      method: 'POST',
      url: '/orders',
      headers: key('k-1'),
      payload: { item: 'book', qty: 1 },
    });
    expect(first.statusCode).toBe(201);
    expect(first.headers['idempotent-replayed']).toBeUndefined();
    const second = await app.inject({
      method: 'POST',
      url: '/orders',
      headers: key('k-1'),
      payload: { item: 'book', qty: 1 },
    });
    expect(second.statusCode).toBe(201);
    expect(second.headers['idempotent-replayed']).toBe('true');
    expect(second.body).toBe(first.body);
    expect(second.json()).toEqual({ id: 1, item: 'book' });
    expect(second.headers['content-type']).toBe(first.headers['content-type']);
    expect(second.headers.location).toBe('/orders/1');
    // Per-request headers are not replayed
    expect(first.headers['x-request-id']).toEqual(expect.any(String));
    expect(second.headers['x-request-id']).toBeUndefined();
    expect(h.calls.orders).toBe(1);
  });

  it('treats the same body with keys in another order as the same request', async () => {
    await app.inject({
      method: 'POST',
      url: '/orders',
      headers: { ...key('k-order'), 'content-type': 'application/json' },
      payload: '{"item":"a","qty":2}',
    });
    const again = await app.inject({
      method: 'POST',
      url: '/orders',
      headers: { ...key('k-order'), 'content-type': 'application/json' },
      payload: '{"qty":2,"item":"a"}',
    });
    expect(again.headers['idempotent-replayed']).toBe('true');
    expect(h.calls.orders).toBe(1);
  });

  it('runs the handler for every request without a key, and for different keys', async () => {
    await app.inject({ method: 'POST', url: '/orders', payload: { item: 'a', qty: 1 } });
    await app.inject({ method: 'POST', url: '/orders', payload: { item: 'a', qty: 1 } });
    await app.inject({ method: 'POST', url: '/orders', headers: key('k-x'), payload: { item: 'a', qty: 1 } });
    await app.inject({ method: 'POST', url: '/orders', headers: key('k-y'), payload: { item: 'a', qty: 1 } });
    expect(h.calls.orders).toBe(4);
  });

  it('answers 422 for the same key with a different body', async () => {
    await app.inject({
      method: 'POST',
      url: '/orders',
      headers: key('k-2'),
      payload: { item: 'book', qty: 1 },
    });
    const reused = await app.inject({
      method: 'POST',
      url: '/orders',
      headers: key('k-2'),
      payload: { item: 'book', qty: 2 },
    });
    expect(reused.statusCode).toBe(422);
    expect(reused.json()).toMatchObject({ statusCode: 422, code: 'idempotency_key_reused' });
    expect(h.calls.orders).toBe(1);
  });

  it('answers 409 while the first request with the key is still in progress', async () => {
    const first = app.inject({ method: 'POST', url: '/slow', headers: key('k-slow'), payload: { a: 1 } });
    await h.slowEntered.promise;
    const concurrent = await app.inject({
      method: 'POST',
      url: '/slow',
      headers: key('k-slow'),
      payload: { a: 1 },
    });
    expect(concurrent.statusCode).toBe(409);
    expect(concurrent.json()).toMatchObject({ statusCode: 409, code: 'idempotency_in_progress' });
    h.slowGate.release();
    const done = await first;
    expect(done.statusCode).toBe(200);
    const replay = await app.inject({
      method: 'POST',
      url: '/slow',
      headers: key('k-slow'),
      payload: { a: 1 },
    });
    expect(replay.headers['idempotent-replayed']).toBe('true');
    expect(replay.json()).toEqual({ run: 1 });
    expect(h.calls.slow).toBe(1);
  });

  it('does not store 5xx responses: a retry runs the handler again', async () => {
    const failed = await app.inject({ method: 'POST', url: '/failing', headers: key('k-5xx'), payload: {} });
    expect(failed.statusCode).toBe(500);
    const retried = await app.inject({ method: 'POST', url: '/failing', headers: key('k-5xx'), payload: {} });
    expect(retried.statusCode).toBe(201);
    expect(retried.headers['idempotent-replayed']).toBeUndefined();
    expect(retried.json()).toEqual({ run: 2 });
    const replay = await app.inject({ method: 'POST', url: '/failing', headers: key('k-5xx'), payload: {} });
    expect(replay.headers['idempotent-replayed']).toBe('true');
    expect(replay.json()).toEqual({ run: 2 });
    expect(h.calls.failing).toBe(2);
  });

  it('stores and replays 4xx responses', async () => {
    const first = await app.inject({
      method: 'POST',
      url: '/orders',
      headers: key('k-4xx'),
      payload: { item: 'a', qty: 0 },
    });
    expect(first.statusCode).toBe(422);
    const replay = await app.inject({
      method: 'POST',
      url: '/orders',
      headers: key('k-4xx'),
      payload: { item: 'a', qty: 0 },
    });
    expect(replay.statusCode).toBe(422);
    expect(replay.headers['idempotent-replayed']).toBe('true');
    expect(replay.json()).toEqual({ code: 'bad_qty', run: 1 });
    expect(h.calls.orders).toBe(1);
  });

  it('stores and replays bodiless responses (204)', async () => {
    expect((await app.inject({ method: 'PUT', url: '/empty', headers: key('k-204') })).statusCode).toBe(204);
    const replay = await app.inject({ method: 'PUT', url: '/empty', headers: key('k-204') });
    expect(replay.statusCode).toBe(204);
    expect(replay.headers['idempotent-replayed']).toBe('true');
    expect(replay.body).toBe('');
    expect(h.calls.empty).toBe(1);
  });

  it('scopes keys per authenticated subject', async () => {
    const alice = { authorization: `Bearer ${await keys.mint({ subject: 'alice' })}` };
    const bob = { authorization: `Bearer ${await keys.mint({ subject: 'bob' })}` };
    const a1 = await app.inject({
      method: 'POST',
      url: '/owned',
      headers: { ...alice, ...key('shared') },
      payload: { n: 1 },
    });
    const b1 = await app.inject({
      method: 'POST',
      url: '/owned',
      headers: { ...bob, ...key('shared') },
      payload: { n: 1 },
    });
    expect(a1.json()).toEqual({ run: 1, owner: 'alice' });
    expect(b1.json()).toEqual({ run: 2, owner: 'bob' });
    expect(b1.headers['idempotent-replayed']).toBeUndefined();
    const a2 = await app.inject({
      method: 'POST',
      url: '/owned',
      headers: { ...alice, ...key('shared') },
      payload: { n: 1 },
    });
    expect(a2.headers['idempotent-replayed']).toBe('true');
    expect(a2.json()).toEqual({ run: 1, owner: 'alice' });
    expect(h.calls.owned).toBe(2);
  });

  it('checks authentication before replaying', async () => {
    const alice = { authorization: `Bearer ${await keys.mint({ subject: 'alice' })}` };
    await app.inject({ method: 'POST', url: '/owned', headers: { ...alice, ...key('k-auth') }, payload: {} });
    const anonymous = await app.inject({
      method: 'POST',
      url: '/owned',
      headers: key('k-auth'),
      payload: {},
    });
    expect(anonymous.statusCode).toBe(401);
  });

  it('answers 422 for a key longer than 255 characters, accepts 255', async () => {
    const tooLong = await app.inject({
      method: 'POST',
      url: '/orders',
      headers: key('k'.repeat(256)),
      payload: { item: 'a', qty: 1 },
    });
    expect(tooLong.statusCode).toBe(422);
    expect(tooLong.json()).toMatchObject({ code: 'invalid_idempotency_key' });
    expect(h.calls.orders).toBe(0);
    const longest = await app.inject({
      method: 'POST',
      url: '/orders',
      headers: key('k'.repeat(255)),
      payload: { item: 'a', qty: 1 },
    });
    expect(longest.statusCode).toBe(201);
  });

  it('ignores the header on routes that did not opt in', async () => {
    const response = await app.inject({
      method: 'POST',
      url: '/plain',
      headers: key('k'.repeat(300)),
      payload: {},
    });
    expect(response.statusCode).toBe(200);
  });
});

describe('idempotency options', () => {
  let keys: TestKeys;
  beforeAll(async () => {
    keys = await createTestKeys();
  });

  it('required: true answers 422 when the header is missing', async () => {
    const h = await makeHarness(keys, { required: true });
    try {
      const response = await h.service.app.inject({
        method: 'POST',
        url: '/orders',
        payload: { item: 'a', qty: 1 },
      });
      expect(response.statusCode).toBe(422);
      expect(response.json()).toMatchObject({ code: 'idempotency_key_required' });
      expect(h.calls.orders).toBe(0);
    } finally {
      await h.service.stop();
    }
  });

  it('uses a pluggable store', async () => {
    class RecordingStore implements IdempotencyStore {
      readonly calls: string[] = [];
      readonly inner = new MemoryIdempotencyStore();
      async begin(k: string, fingerprint: string, ttlMs: number): Promise<IdempotencyRecord | undefined> {
        this.calls.push(`begin ${ttlMs}`);
        return this.inner.begin(k, fingerprint, ttlMs);
      }
      async complete(k: string, response: StoredResponse, ttlMs: number): Promise<void> {
        this.calls.push(`complete ${response.statusCode} ${ttlMs}`);
        return this.inner.complete(k, response, ttlMs);
      }
      async abandon(k: string): Promise<void> {
        this.calls.push('abandon');
        return this.inner.abandon(k);
      }
    }
    const store = new RecordingStore();
    const h = await makeHarness(keys, { store, ttlMs: 60_000, inProgressTtlMs: 1_000 });
    try {
      const send = (url: string) =>
        h.service.app.inject({ method: 'POST', url, headers: key('s'), payload: { item: 'a', qty: 1 } });
      await send('/orders');
      await send('/orders');
      await send('/failing');
      expect(store.calls).toEqual([
        'begin 1000',
        'complete 201 60000',
        'begin 1000',
        'begin 1000',
        'abandon',
      ]);
    } finally {
      await h.service.stop();
    }
  });
});

describe('idempotency plugin on a bare Fastify', () => {
  it('releases an in-progress key after inProgressTtlMs, so a retry is not locked out for the whole ttl', async () => {
    const app = Fastify();
    await app.register(idempotencyPlugin, { inProgressTtlMs: 50 });
    let runs = 0;
    const hold = gate();
    app.post('/stuck', { idempotent: true }, async () => {
      runs++;
      if (runs === 1) await hold.promise;
      return { runs };
    });
    try {
      const first = app.inject({ method: 'POST', url: '/stuck', headers: key('k'), payload: {} });
      await new Promise((resolve) => setTimeout(resolve, 10));
      expect(
        (await app.inject({ method: 'POST', url: '/stuck', headers: key('k'), payload: {} })).statusCode,
      ).toBe(409);
      await new Promise((resolve) => setTimeout(resolve, 60));
      const retry = await app.inject({ method: 'POST', url: '/stuck', headers: key('k'), payload: {} });
      expect(retry.statusCode).toBe(200);
      expect(retry.json()).toEqual({ runs: 2 });
      hold.release();
      await first;
    } finally {
      await app.close();
    }
  });

  it('memory store: expired records are forgotten, completed ones kept for the ttl', async () => {
    const store = new MemoryIdempotencyStore();
    expect(await store.begin('a', 'fp', 20)).toBeUndefined();
    expect(await store.begin('a', 'fp', 20)).toMatchObject({ state: 'in-progress', fingerprint: 'fp' });
    await store.complete('a', { statusCode: 200, headers: {}, body: 'x' }, 10_000);
    await new Promise((resolve) => setTimeout(resolve, 30));
    expect(await store.begin('a', 'fp', 20)).toMatchObject({ state: 'done', response: { body: 'x' } });
    expect(await store.begin('b', 'fp', 10)).toBeUndefined();
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(await store.begin('b', 'fp2', 10)).toBeUndefined();
  });
});
