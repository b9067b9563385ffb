import { createServer, type Server } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { backoffDelay, parseRetryAfter, RetryableHttpError, retry, sleep } from './retry.js';

/** A deterministic random source cycling through `values`. */
function sequence(...values: number[]): () => number {
  let i = 0;
  return () => values[i++ % values.length]!;
}

function failTimes<T>(failures: number, value: T, error: () => unknown = () => new Error('flaky')) {
  let calls = 0;
  const fn = async (attempt: number) => {
    calls++;
    expect(attempt).toBe(calls);
    if (calls <= failures) throw error();
    return value;
  };
  return { fn, calls: () => calls };
}

describe('backoffDelay (full jitter)', () => {
  it('is uniform in [0, base * 2^(attempt-1)) and capped at maxMs', () => {
    expect(backoffDelay(1, 100, 30_000, () => 0.5)).toBe(50);
    expect(backoffDelay(2, 100, 30_000, () => 0.5)).toBe(100);
    expect(backoffDelay(4, 100, 30_000, () => 0.5)).toBe(400);
    expect(backoffDelay(4, 100, 30_000, () => 0)).toBe(0);
    expect(backoffDelay(4, 100, 30_000, () => 0.999_999)).toBe(799);
    expect(backoffDelay(10, 100, 1_000, () => 0.5)).toBe(500);
    expect(backoffDelay(1_000, 100, 1_000, () => 0.999_999)).toBe(999);
  });

  it('spreads delays with the default Math.random', () => {
    const delays = Array.from({ length: 200 }, () => backoffDelay(5, 100, 30_000));
    for (const d of delays) {
      expect(d).toBeGreaterThanOrEqual(0);
      expect(d).toBeLessThan(1_600);
    }
    expect(new Set(delays).size).toBeGreaterThan(20);
  });
});

describe('retry', () => {
  it('retries until success, waiting with exponential backoff and the given random source', async () => {
    const { fn, calls } = failTimes(3, 'ok');
    const waits: Array<[number, number]> = [];
    const result = await retry(fn, {
      baseMs: 4,
      random: sequence(0.5),
      onRetry: (_error, attempt, delay) => waits.push([attempt, delay]),
    });
    expect(result).toBe('ok');
    expect(calls()).toBe(4);
    expect(waits).toEqual([
      [1, 2],
      [2, 4],
      [3, 8],
    ]);
  });

  it('bounds every delay by maxMs', async () => {
    const { fn } = failTimes(4, 'ok');
    const delays: number[] = [];
    const started = Date.now();
    await retry(fn, {
      baseMs: 10_000,
      maxMs: 5,
      random: () => 0.999,
      onRetry: (_e, _a, d) => delays.push(d),
    });
    expect(delays).toEqual([4, 4, 4, 4]);
    expect(Date.now() - started).toBeLessThan(1_000);
  });

  it('gives up after `attempts` and throws the last error', async () => {
    let n = 0;
    const error = await retry(
      async () => {
        n++;
        throw new Error(`failure ${n}`);
      },
      { attempts: 3, baseMs: 1 },
    ).catch((e: unknown) => e);
    expect(n).toBe(3);
    expect((error as Error).message).toBe('failure 3');
  });

  it('stops at once when retryOn says no, passing it the error and attempt', async () => {
    const seen: Array<[string, number]> = [];
    let n = 0;
    const error = await retry(
      async () => {
        n++;
        throw new RetryableHttpError(n === 1 ? 503 : 400);
      },
      {
        baseMs: 1,
        retryOn: (e, attempt) => {
          seen.push([(e as Error).message, attempt]);
          return (e as RetryableHttpError).status >= 500;
        },
      },
    ).catch((e: unknown) => e);
    expect((error as RetryableHttpError).status).toBe(400);
    expect(n).toBe(2);
    expect(seen).toEqual([
      ['HTTP 503', 1],
      ['HTTP 400', 2],
    ]);
  });

  it("uses the error's retryAfterMs instead of the computed delay, bounded by maxMs", async () => {
    const delays: number[] = [];
    const { fn } = failTimes(2, 'ok', () => new RetryableHttpError(429, 7));
    await retry(fn, { baseMs: 1, random: () => 0, onRetry: (_e, _a, d) => delays.push(d) });
    expect(delays).toEqual([7, 7]);

    const capped: number[] = [];
    const { fn: slow } = failTimes(1, 'ok', () => new RetryableHttpError(503, 60_000));
    await retry(slow, { maxMs: 3, onRetry: (_e, _a, d) => capped.push(d) });
    expect(capped).toEqual([3]);
  });

  it('retries errors that are not objects (throw undefined, throw a string)', async () => {
    for (const thrown of [undefined, null, 'oops']) {
      const { fn, calls } = failTimes(1, 'ok', () => thrown);
      await expect(retry(fn, { baseMs: 1 })).resolves.toBe('ok');
      expect(calls()).toBe(2);
    }
  });

  it('stops waiting when the signal aborts, with the abort reason', async () => {
    const controller = new AbortController();
    let n = 0;
    const started = Date.now();
    const pending = retry(
      async () => {
        n++;
        throw new Error('down');
      },
      { baseMs: 60_000, random: () => 0.9, signal: controller.signal },
    );
    setTimeout(() => controller.abort(new Error('shutting down')), 20);
    await expect(pending).rejects.toThrow('shutting down');
    expect(n).toBe(1);
    expect(Date.now() - started).toBeLessThan(2_000);
  });

  it('never calls fn when the signal is already aborted', async () => {
    let n = 0;
    const signal = AbortSignal.abort(new Error('gone'));
    await expect(
      retry(
        async () => {
          n++;
          return 1;
        },
        { signal },
      ),
    ).rejects.toThrow('gone');
    expect(n).toBe(0);
  });

  it('does not retry once the signal aborted during an attempt', async () => {
    const controller = new AbortController();
    let n = 0;
    const retries: number[] = [];
    await expect(
      retry(
        async () => {
          n++;
          controller.abort(new Error('cancelled'));
          throw new Error('attempt failed');
        },
        { baseMs: 1, signal: controller.signal, onRetry: (_e, a) => retries.push(a) },
      ),
    ).rejects.toThrow('cancelled');
    expect(n).toBe(1);
    expect(retries).toEqual([]);
  });
});

describe('parseRetryAfter', () => {
  const now = Date.parse('2025-03-01T12:00:00Z');

  it('parses delta-seconds', () => {
    expect(parseRetryAfter('120', now)).toBe(120_000);
    expect(parseRetryAfter(' 0 ', now)).toBe(0);
  });

  it('parses HTTP dates in all three RFC 9110 forms', () => {
    expect(parseRetryAfter('Sat, 01 Mar 2025 12:00:30 GMT', now)).toBe(30_000);
    expect(parseRetryAfter('Saturday, 01-Mar-25 12:01:00 GMT', now)).toBe(60_000);
    expect(parseRetryAfter('Sat Mar  1 12:00:05 2025', now)).toBe(5_000);
  });

  it('reads a date in the past as 0', () => {
    expect(parseRetryAfter('Fri, 28 Feb 2025 12:00:00 GMT', now)).toBe(0);
  });

  it('returns undefined for absent or invalid values', () => {
    for (const value of [
      undefined,
      null,
      '',
      'soon',
      '1.5',
      '-1',
      '2025-03-01',
      '10s',
      'Sat, 99 Foo 2025 GMT',
    ]) {
      expect(parseRetryAfter(value, now)).toBeUndefined();
    }
  });

  it('defaults `now` to the current time', () => {
    const inTenSeconds = new Date(Date.now() + 10_000).toUTCString();
    const ms = parseRetryAfter(inTenSeconds)!;
    expect(ms).toBeGreaterThan(8_000);
    expect(ms).toBeLessThanOrEqual(10_000);
  });
});

describe('retry against a real HTTP server', () => {
  let server: Server | undefined;
  afterEach(async () => {
    await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
    server = undefined;
  });

  it("honours the server's Retry-After over a long computed backoff", async () => {
    let hits = 0;
    server = createServer((_request, response) => {
      hits++;
      if (hits < 3) response.writeHead(503, { 'retry-after': '0' }).end();
      else response.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}');
    });
    await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as { port: number };

    const delays: number[] = [];
    const started = Date.now();
    const body = await retry(
      async () => {
        const response = await fetch(`http://127.0.0.1:${port}/`);
        if (response.status >= 500)
          throw new RetryableHttpError(response.status, parseRetryAfter(response.headers.get('retry-after')));
        return response.json();
      },
      // Without Retry-After each wait would be ~10 s
      { baseMs: 10_000, maxMs: 10_000, random: () => 0.99, onRetry: (_e, _a, d) => delays.push(d) },
    );
    expect(body).toEqual({ ok: true });
    expect(hits).toBe(3);
    expect(delays).toEqual([0, 0]);
    expect(Date.now() - started).toBeLessThan(2_000);
  });
});

describe('sleep', () => {
  it('resolves after the delay and rejects on abort', async () => {
    const started = Date.now();
    await sleep(15);
    expect(Date.now() - started).toBeGreaterThanOrEqual(10);
    const controller = new AbortController();
    const pending = sleep(60_000, controller.signal);
    controller.abort(new Error('stop'));
    await expect(pending).rejects.toThrow('stop');
  });
});
