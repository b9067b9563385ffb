import { createServer, type IncomingMessage, type Server } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { TimeoutError, withTimeout } from './timeout.js';

const wait = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('withTimeout', () => {
  it('resolves with the result when fn finishes in time, and never aborts its signal', async () => {
    let seen: AbortSignal | undefined;
    const result = await withTimeout(50, async (signal) => {
      seen = signal;
      return 42;
    });
    expect(result).toBe(42);
    await wait(70);
    expect(seen?.aborted).toBe(false);
  });

  it('passes through the error of fn', async () => {
    await expect(
      withTimeout(1_000, async () => {
        throw new Error('boom');
      }),
    ).rejects.toThrow('boom');
  });

  it('rejects with TimeoutError at the deadline and aborts the signal given to fn', async () => {
    let seen: AbortSignal | undefined;
    const started = Date.now();
    const error = await withTimeout(30, (signal) => {
      seen = signal;
      return new Promise((_, reject) => signal.addEventListener('abort', () => reject(signal.reason)));
    }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TimeoutError);
    expect((error as TimeoutError).ms).toBe(30);
    expect((error as TimeoutError).message).toBe('timed out after 30 ms');
    expect(seen?.aborted).toBe(true);
    expect(seen?.reason).toBeInstanceOf(TimeoutError);
    expect(Date.now() - started).toBeGreaterThanOrEqual(25);
  });

  it('rejects at the deadline even when fn ignores the signal', async () => {
    const started = Date.now();
    await expect(withTimeout(20, () => wait(500))).rejects.toBeInstanceOf(TimeoutError);
    expect(Date.now() - started).toBeLessThan(400);
  });

  it('aborts fn and rejects with the reason when the parent signal aborts first', async () => {
    const parent = new AbortController();
    let seen: AbortSignal | undefined;
    const pending = withTimeout(
      10_000,
      (signal) => {
        seen = signal;
        return wait(5_000);
      },
      parent.signal,
    );
    setTimeout(() => parent.abort(new Error('request cancelled')), 10);
    const error = await pending.catch((e: unknown) => e);
    expect(error).not.toBeInstanceOf(TimeoutError);
    expect((error as Error).message).toBe('request cancelled');
    expect(seen?.aborted).toBe(true);
    expect((seen!.reason as Error).message).toBe('request cancelled');
  });

  it('does not call fn when the parent is already aborted', async () => {
    let called = false;
    const parent = AbortSignal.abort(new Error('already gone'));
    await expect(
      withTimeout(
        1_000,
        async () => {
          called = true;
        },
        parent,
      ),
    ).rejects.toThrow('already gone');
    expect(called).toBe(false);
  });

  it('stops listening to the parent once settled', async () => {
    const parent = new AbortController();
    let seen: AbortSignal | undefined;
    await withTimeout(
      1_000,
      async (signal) => {
        seen = signal;
      },
      parent.signal,
    );
    parent.abort();
    expect(seen?.aborted).toBe(false);
  });

  it('treats a non-finite budget as no deadline', async () => {
    await expect(
      withTimeout(Number.POSITIVE_INFINITY, async () => wait(20).then(() => 'done')),
    ).resolves.toBe('done');
  });
});

describe('withTimeout over a real socket', () => {
  let server: Server | undefined;
  afterEach(async () => {
    server?.closeAllConnections();
    await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  });

  it('cancels a slow fetch: the server sees the connection go away', async () => {
    let serverSawClose!: () => void;
    const closed = new Promise<void>((resolve) => {
      serverSawClose = resolve;
    });
    let received = 0;
    server = createServer((request: IncomingMessage, response) => {
      if (request.url === '/warm-up') return void response.end('ok');
      received++;
      // Never answer; note when the client gives up
      request.socket.on('close', () => serverSawClose());
    });
    await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as { port: number };
    // The first fetch loads undici, which can take longer than the budget below
    await (await fetch(`http://127.0.0.1:${port}/warm-up`)).text();

    const started = Date.now();
    const error = await withTimeout(150, (signal) =>
      fetch(`http://127.0.0.1:${port}/slow`, { signal }),
    ).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TimeoutError);
    expect(Date.now() - started).toBeLessThan(1_000);
    expect(received).toBe(1);
    await closed;
  });
});
