// ctx.http: timeouts, retries with backoff, Retry-After and rate-limit headers.
import { afterEach, describe, expect, it } from 'vitest';
import { HttpError, NetworkError, RateLimitedError } from '../src/errors.js';
import { createHttpClient, type HttpPolicy, type RateLimitState } from '../src/http.js';
import { type FakeServer, json, startFakeServer } from './helpers.js';

const policy: HttpPolicy = {
  timeoutMs: 300,
  attempts: 3,
  baseMs: 20,
  maxMs: 100,
  maxRateLimitWaitMs: 1500,
  userAgent: 'test/1',
};

let server: FakeServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

function client(rate: RateLimitState = {}, signal = new AbortController().signal, retries: string[] = []) {
  return createHttpClient(policy, signal, rate, { onRetry: (reason) => retries.push(reason) });
}

describe('ctx.http', () => {
  it('retries 5xx with backoff, then returns the answer', async () => {
    let calls = 0;
    server = await startFakeServer((_req, res) => {
      calls++;
      if (calls < 3) json(res, 503, { error: 'busy' });
      else json(res, 200, { ok: true });
    });
    const retries: string[] = [];
    const { data } = await client({}, undefined, retries).json(`${server.url}/x`);
    expect(data).toEqual({ ok: true });
    expect(calls).toBe(3);
    expect(retries).toEqual(['server', 'server']);
    expect(server.requests[0]!.headers['user-agent']).toBe('test/1');
  });

  it('gives up after the attempts allowed with an HttpError; 4xx are not retried', async () => {
    server = await startFakeServer((req, res) =>
      json(res, req.url.pathname === '/missing' ? 404 : 500, { error: 'no' }),
    );
    await expect(client().json(`${server.url}/boom`)).rejects.toMatchObject({
      name: 'HttpError',
      status: 500,
    });
    expect(server.requests).toHaveLength(3);
    const err = await client()
      .json(`${server.url}/missing`)
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(HttpError);
    expect((err as HttpError).message).toContain('HTTP 404');
    expect(server.requests).toHaveLength(4);
    // Allowed statuses are returned, not thrown
    const res = await client()(`${server.url}/missing`, { allowStatus: [404] });
    expect(res.status).toBe(404);
  });

  it('retries network errors and timeouts, then fails with NetworkError', async () => {
    server = await startFakeServer(() => {
      // never answers
    });
    const started = Date.now();
    const err = await client()
      .json(`${server.url}/slow`)
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NetworkError);
    expect(server.requests).toHaveLength(3);
    expect(Date.now() - started).toBeGreaterThanOrEqual(900);
    const refused = await client()('http://127.0.0.1:1/').catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(NetworkError);
  });

  it('429 with a short Retry-After: waits that long and retries', async () => {
    let calls = 0;
    server = await startFakeServer((_req, res) => {
      calls++;
      if (calls === 1) json(res, 429, { error: 'slow down' }, { 'retry-after': '1' });
      else json(res, 200, [1]);
    });
    const started = Date.now();
    const retries: string[] = [];
    const { data } = await client({}, undefined, retries).json(`${server.url}/r`);
    expect(data).toEqual([1]);
    expect(Date.now() - started).toBeGreaterThanOrEqual(950);
    expect(retries).toEqual(['rate_limit']);
  });

  it('429 with a Retry-After beyond the longest wait: RateLimitedError carrying the reset time', async () => {
    server = await startFakeServer((_req, res) => json(res, 429, {}, { 'retry-after': '120' }));
    const err = (await client()
      .json(`${server.url}/r`)
      .catch((e: unknown) => e)) as RateLimitedError;
    expect(err).toBeInstanceOf(RateLimitedError);
    expect(err.resetAt - Date.now()).toBeGreaterThan(110_000);
    expect(server.requests).toHaveLength(1);
  });

  it('X-RateLimit-Remaining 0: the next request waits for X-RateLimit-Reset', async () => {
    const resetAt = Math.ceil((Date.now() + 200) / 1000);
    server = await startFakeServer((_req, res) =>
      json(
        res,
        200,
        {},
        {
          'x-ratelimit-remaining': server!.requests.length === 1 ? '0' : '10',
          'x-ratelimit-reset': String(resetAt),
        },
      ),
    );
    const rate: RateLimitState = {};
    const http = client(rate);
    await http.json(`${server.url}/a`);
    expect(rate).toEqual({ remaining: 0, resetAt: resetAt * 1000 });
    await http.json(`${server.url}/b`);
    expect(server.requests[1]!.at).toBeGreaterThanOrEqual(resetAt * 1000);
  });

  it('an exhausted budget whose reset is far away stops before sending anything', async () => {
    server = await startFakeServer((_req, res) => json(res, 200, {}));
    const rate: RateLimitState = { remaining: 0, resetAt: Date.now() + 3_600_000 };
    const err = await client(rate)
      .json(`${server.url}/a`)
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RateLimitedError);
    expect(server.requests).toHaveLength(0);
  });

  it('GitHub-style 403 with X-RateLimit-Remaining 0 is a rate limit, not an error', async () => {
    server = await startFakeServer((_req, res) =>
      json(
        res,
        403,
        { message: 'API rate limit exceeded' },
        { 'x-ratelimit-remaining': '0', 'x-ratelimit-reset': String(Math.floor(Date.now() / 1000) + 7200) },
      ),
    );
    expect(
      await client()
        .json(`${server.url}/a`)
        .catch((e: unknown) => e),
    ).toBeInstanceOf(RateLimitedError);
  });

  it('stops waiting when the run is aborted', async () => {
    server = await startFakeServer((_req, res) => json(res, 503, {}, { 'retry-after': '1' }));
    const controller = new AbortController();
    setTimeout(() => controller.abort(new Error('lease lost')), 100);
    const started = Date.now();
    await expect(client({}, controller.signal).json(`${server.url}/a`)).rejects.toThrow('lease lost');
    expect(Date.now() - started).toBeLessThan(800);
  });
});
