import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createLogger } from '@fleet/chassis';
import { LogCapture } from '@fleet/chassis/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Collector } from '../src/collector.js';

/** Raw HTTP servers that misbehave in ways a chassis service never would. */
function serve(handler: Parameters<typeof createServer>[1]): Promise<{ server: Server; url: string }> {
  const server = createServer(handler);
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () =>
      resolve({ server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` }),
    ),
  );
}

describe('collector against misbehaving services', () => {
  let hanging: { server: Server; url: string };
  let garbage: { server: Server; url: string };

  beforeAll(async () => {
    hanging = await serve(() => {
      // never answers
    });
    garbage = await serve((_request, response) => {
      response.writeHead(200, { 'content-type': 'application/json' });
      response.end('{ this is not json');
    });
  });

  afterAll(async () => {
    hanging.server.closeAllConnections();
    await Promise.all([hanging, garbage].map(({ server }) => new Promise((r) => server.close(r))));
  });

  it('reports a timeout and a broken answer as data, without throwing', async () => {
    const collector = new Collector({
      services: [
        { name: 'hanging', url: hanging.url, kind: 'alf' },
        { name: 'garbage', url: garbage.url, kind: 'plugin-runner' },
      ],
      token: 't',
      pollMs: 1000,
      requestTimeoutMs: 200,
      log: createLogger({ service: 'test', version: '0', level: 'silent', destination: new LogCapture() }),
    });
    const started = Date.now();
    await collector.poll();
    // Every request ran concurrently: one round takes about one timeout, not one per request
    expect(Date.now() - started).toBeLessThan(1500);
    const [hung, broken] = collector.snapshots();
    expect(hung).toMatchObject({ live: false, ready: false, error: 'timed out after 200 ms' });
    expect(hung?.alf?.top).toEqual([]);
    expect(hung?.problems.alf_top).toBe('timed out after 200 ms');
    expect(broken).toMatchObject({ live: true, version: null, plugin_instances: [] });
    expect(broken?.problems.info).toBe('unexpected answer (not JSON)');
    expect(broken?.requests).toEqual({ rate_per_s: null, p99_ms: null, window_requests: null });
  });
});
