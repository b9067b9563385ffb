import { LATENCY_BUCKETS } from '@fleet/chassis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, startFleet, type TestFleet, waitFor } from './fleet.js';

let fleet: TestFleet;
const snapshot = async () => (await call(fleet, fleet.adminToken, 'GET', '/api/fleet')).body;
const serviceOf = async (name: string) =>
  // biome-ignore lint/suspicious/noExplicitAny: tests read arbitrary JSON answers field by field
  ((await snapshot()).services as Array<Record<string, any>>).find((s) => s.name === name);

beforeAll(async () => {
  fleet = await startFleet();
});

afterAll(async () => {
  await fleet?.stop();
});

describe('console API against real services', () => {
  it('needs a token to read, and says who the caller is', async () => {
    expect((await call(fleet, null, 'GET', '/api/fleet')).status).toBe(401);
    const admin = await call(fleet, fleet.adminToken, 'GET', '/api/whoami');
    expect(admin.body).toMatchObject({ subject: 'alice', canWrite: true });
    const reader = await call(fleet, fleet.readerToken, 'GET', '/api/whoami');
    expect(reader.body).toEqual({ subject: 'bob', scopes: ['fleet:read'], canWrite: false });
    expect((await call(fleet, fleet.readerToken, 'GET', '/api/fleet')).status).toBe(200);
  });

  it('shows live/ready with per-check detail, versions, and flips to not ready', async () => {
    const orders = await waitFor(async () => {
      const s = await serviceOf('orders');
      return s?.ready && s.version ? s : null;
    });
    expect(orders).toMatchObject({
      live: true,
      ready: true,
      error: null,
      version: '1.2.3',
      chassis_version: fleet.orders.chassisVersion,
      log_level: 'info',
      readiness: {
        status: 'ready',
        checks: { db: { status: 'pass', critical: true, details: { pool: 'ok' } } },
      },
    });
    fleet.health.db = false;
    const failing = await waitFor(async () => {
      const s = await serviceOf('orders');
      return s && !s.ready ? s : null;
    });
    expect(failing.live).toBe(true);
    expect(failing.readiness.status).toBe('unready');
    expect(failing.readiness.checks.db).toMatchObject({ status: 'fail', error: fleet.health.error });
    fleet.health.db = true;
    await waitFor(async () => (await serviceOf('orders'))?.ready, 5000, 'orders ready again');
  });

  it('watches itself once it listens: the console is a service of the fleet', async () => {
    const self = await waitFor(async () => {
      const s = await serviceOf('console');
      return s?.ready && s.version ? s : null;
    });
    expect(self).toMatchObject({ kind: 'service', live: true, ready: true, version: '0.1.0' });
    expect(self.url).toBe(fleet.consoleUrl);
  });

  it('computes request rate and p99 from the metrics deltas, ignoring its own probes', async () => {
    await waitFor(
      async () => (await serviceOf('orders'))?.requests.window_requests === 0,
      5000,
      'a baseline',
    );
    // The client's view bounds the server's: no request took longer on the server than here.
    const took = await Promise.all(
      Array.from({ length: 20 }, async () => {
        const started = performance.now();
        await (await fetch(`${fleet.ordersUrl}/orders`, { method: 'POST' })).text();
        return (performance.now() - started) / 1000;
      }),
    );
    const ceiling = LATENCY_BUCKETS.find((b) => b >= Math.max(...took)) ?? Number.POSITIVE_INFINITY;
    const orders = await waitFor(async () => {
      const s = await serviceOf('orders');
      return s?.requests.window_requests === 20 ? s : null;
    });
    expect(orders.requests.rate_per_s).toBeGreaterThan(0);
    // Every request slept 30 ms, so none is in a bucket below 25 ms; the slowest bounds the top.
    expect(orders.requests.p99_ms).toBeGreaterThan(25);
    expect(orders.requests.p99_ms).toBeLessThanOrEqual(ceiling * 1000);
    const series = (await call(fleet, fleet.adminToken, 'GET', '/api/series')).body;
    expect(Math.max(...series.requests.orders.v)).toBeGreaterThan(0);
  });

  it('shows a service that does not answer as down with the error', async () => {
    const ghost = await waitFor(async () => {
      const s = await serviceOf('ghost');
      return s?.polled_at ? s : null;
    });
    expect(ghost).toMatchObject({ live: false, ready: false, version: null });
    expect(ghost.error).toMatch(/ECONNREFUSED/);
    expect(ghost.problems.metrics).toMatch(/ECONNREFUSED/);
  });

  it('reads ALF counters, drops by reason, top talkers, and charts the rates', async () => {
    await waitFor(
      async () => (await serviceOf('alf'))?.alf?.rates.events_in_per_s !== null,
      5000,
      'alf rates',
    );
    fleet.alfCounters.ingest('chatty-search', 500, 120);
    fleet.alfCounters.ingest('quiet-billing', 10, 0);
    const alf = await waitFor(async () => {
      const s = await serviceOf('alf');
      return s?.alf?.totals.events_in === 510 && s.alf.top.length === 2 ? s : null;
    });
    expect(alf.alf.totals).toEqual({
      events_in: 510,
      forwarded: 390,
      dropped: 120,
      dropped_by_reason: { flag_service: 120 },
    });
    expect(alf.alf.top[0]).toMatchObject({
      service: 'chatty-search',
      drop_flag: 'alf.drop.service.chatty-search',
    });
    expect((await snapshot()).alf).toMatchObject({ dropped_total: 120, events_in_total: 510 });
    const series = await waitFor(async () => {
      const s = (await call(fleet, fleet.adminToken, 'GET', '/api/series')).body;
      return Math.max(0, ...s.alf.events_in) > 0 ? s : null;
    });
    expect(series.alf.t.length).toBe(series.alf.dropped.length);
    expect(Math.max(...series.alf.dropped)).toBeGreaterThan(0);
  });

  it('reads index-provisioner indexes and deployments, and plugin-runner cursors, with the console token', async () => {
    const indexer = await waitFor(async () => {
      const s = await serviceOf('index-provisioner');
      return s?.indexes?.length ? s : null;
    });
    expect(indexer.problems).toEqual({});
    expect(indexer.indexes).toEqual([
      {
        name: 'web_logs',
        cluster: 'prod',
        owner: 'team-web',
        datatype: 'event',
        disabled: false,
        retention_days: 90,
        max_total_data_size_mb: 500000,
      },
    ]);
    expect(indexer.deployments[0]).toMatchObject({
      cluster: 'prod',
      status: 'succeeded',
      requested_by: 'alice',
    });
    const runner = await waitFor(async () => {
      const s = await serviceOf('plugin-runner');
      return s?.plugin_instances?.length ? s : null;
    });
    expect(runner.plugin_instances[0]).toMatchObject({
      id: 'gh-audit',
      plugin: 'github-audit',
      cursor: { after: '<script>alert(1)</script>' },
      cursor_seq: 7,
      circuit: 'closed',
      lag_seconds: 12.5,
    });
  });

  it('writes flags with the admin scope only, validating the value', async () => {
    const denied = await call(fleet, fleet.readerToken, 'PUT', '/api/flags/checkout.new-flow', {
      value: 100,
    });
    expect(denied.status).toBe(403);
    expect(denied.body.code).toBe('insufficient_scope');

    for (const [path, body] of [
      ['/api/flags/checkout.new-flow', { value: 10001 }],
      ['/api/flags/checkout.new-flow', { value: -1 }],
      ['/api/flags/checkout.new-flow', { value: '25' }],
      ['/api/flags/checkout.new-flow', { value: 12.5 }],
      ['/api/flags/checkout.new-flow', { value: 1, colour: 'red' }],
      ['/api/flags/checkout.new-flow', {}],
      ['/api/flags/Bad%20Name!', { value: 1 }],
    ] as const) {
      const bad = await call(fleet, fleet.adminToken, 'PUT', path, body);
      expect(bad.status, JSON.stringify(body)).toBe(400);
      expect(bad.body.code).toBe('validation_failed');
      expect(bad.body.details.length).toBeGreaterThan(0);
    }
    expect(
      (await call(fleet, fleet.adminToken, 'PUT', '/api/flags/Bad%20Name!', { value: 1 })).body.details,
    ).toEqual([{ path: '/name', message: expect.stringMatching(/a-z/) }]);

    const ok = await call(fleet, fleet.adminToken, 'PUT', '/api/flags/checkout.new-flow', { value: 1234 });
    expect(ok.status).toBe(200);
    expect(ok.body).toMatchObject({
      name: 'checkout.new-flow',
      value: 1234,
      percent: '12.34%',
      previous: null,
      audited: true,
    });
    await call(fleet, fleet.adminToken, 'PUT', '/api/flags/checkout.new-flow', { value: 0 });

    const fleetView = await snapshot();
    const flag = fleetView.flags.items.find((f: { name: string }) => f.name === 'checkout.new-flow');
    expect(flag).toMatchObject({ value: 0, percent: '0.00%', source: 'store', updated_by: 'alice' });
    expect(flag.updated_at).toEqual(expect.any(String));
    expect(flag.version).toEqual(expect.any(Number));
    expect(fleetView.audit.storage).toBe('memory');
    const trail = fleetView.audit.entries.filter((e: { flag: string }) => e.flag === 'checkout.new-flow');
    expect(trail).toEqual([
      { at: expect.any(String), by: 'alice', flag: 'checkout.new-flow', from: 1234, to: 0 },
      { at: expect.any(String), by: 'alice', flag: 'checkout.new-flow', from: null, to: 1234 },
    ]);
  });

  it('a service reading flags from the console (http store) sees a change within a second', async () => {
    const started = Date.now();
    const write = await call(fleet, fleet.adminToken, 'PUT', '/api/flags/search.ranker', { value: 2500 });
    expect(write.status).toBe(200);
    await waitFor(
      () => fleet.alf.flags.value('search.ranker') === 2500,
      1000,
      'the http store to see the flag',
    );
    expect(Date.now() - started).toBeLessThan(1000);
  });

  it('throttles a noisy service through its ALF drop flag', async () => {
    expect(
      (await call(fleet, fleet.readerToken, 'POST', '/api/alf/throttle', { service: 'chatty-search' }))
        .status,
    ).toBe(403);
    const bad = await call(fleet, fleet.adminToken, 'POST', '/api/alf/throttle', {
      service: '',
      value: 20000,
    });
    expect(bad.status).toBe(400);
    expect(bad.body.details.map((d: { path: string }) => d.path).sort()).toEqual(['/service', '/value']);

    const throttled = await call(fleet, fleet.adminToken, 'POST', '/api/alf/throttle', {
      service: 'Chatty-Search',
    });
    expect(throttled.status).toBe(200);
    expect(throttled.body).toMatchObject({ name: 'alf.drop.service.chatty-search', value: 9000 });
    expect(fleet.console.flags.value('alf.drop.service.chatty-search')).toBe(9000);
    // ALF reads it through the http store and reports it in its top talkers, which the console shows
    await waitFor(async () => {
      const s = await serviceOf('alf');
      return (
        s?.alf?.top.find((t: { service: string }) => t.service === 'chatty-search')?.drop_basis_points ===
        9000
      );
    });
    const custom = await call(fleet, fleet.adminToken, 'POST', '/api/alf/throttle', {
      service: 'quiet-billing',
      value: 10000,
    });
    expect(custom.body.value).toBe(10000);
  });

  it('forwards log-level changes with the caller token', async () => {
    expect(fleet.orders.log.level).toBe('info');
    const denied = await call(fleet, fleet.readerToken, 'PUT', '/api/services/orders/log-level', {
      level: 'debug',
    });
    expect(denied.status).toBe(403);
    expect(
      (await call(fleet, fleet.adminToken, 'PUT', '/api/services/orders/log-level', { level: 'loud' }))
        .status,
    ).toBe(400);
    expect(
      (await call(fleet, fleet.adminToken, 'PUT', '/api/services/nope/log-level', { level: 'debug' })).status,
    ).toBe(404);
    const down = await call(fleet, fleet.adminToken, 'PUT', '/api/services/ghost/log-level', {
      level: 'debug',
    });
    expect(down.status).toBe(502);
    expect(down.body.code).toBe('service_unreachable');

    const changed = await call(fleet, fleet.adminToken, 'PUT', '/api/services/orders/log-level', {
      level: 'debug',
    });
    expect(changed.status).toBe(200);
    expect(fleet.orders.log.level).toBe('debug');
    await waitFor(async () => (await serviceOf('orders'))?.log_level === 'debug', 5000, 'the snapshot level');

    // The target sees the caller (carol), not the console's own token (alice).
    const carol = await fleet.keys.mint({ subject: 'carol', scopes: ['admin'], expiresIn: '5m' });
    const other = await call(fleet, carol, 'PUT', '/api/services/orders/log-level', { level: 'warn' });
    expect(other.status).toBe(200);
    expect(fleet.orders.log.level).toBe('warn');
    const changes = await waitFor(() => {
      const lines = fleet.ordersLogs.find('log level changed at runtime');
      return lines.length === 2 ? lines : null;
    });
    expect(changes.map((l) => [l.by, l.level])).toEqual([
      ['alice', 'debug'],
      ['carol', 'warn'],
    ]);
  });

  it('serves the page and uPlot with a strict content security policy', async () => {
    const page = await fetch(`${fleet.consoleUrl}/`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toMatch(/text\/html/);
    expect(page.headers.get('content-security-policy')).toMatch(/script-src 'self'/);
    expect(await page.text()).toContain('data-testid="chart-events"');
    const uplot = await fetch(`${fleet.consoleUrl}/vendor/uPlot.iife.min.js`);
    expect(uplot.status).toBe(200);
    expect(await uplot.text()).toMatch(/uPlot/);
    expect((await fetch(`${fleet.consoleUrl}/vendor/uPlot.min.css`)).status).toBe(200);
    expect((await fetch(`${fleet.consoleUrl}/app.js`)).status).toBe(200);
  });
});
