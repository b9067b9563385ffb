/** A small real fleet for the console's tests: chassis services on real sockets. */
import { createService, type Service } from '@fleet/chassis';
import { createTestKeys, getFreePort, LogCapture, type TestKeys } from '@fleet/chassis/testing';
import type { ConsoleOwnConfig } from '../src/config.js';
import { consoleOptions } from '../src/index.js';

export interface TestFleet {
  keys: TestKeys;
  /** Every admin scope the console reads with (index-provisioner, plugin-runner too). */
  adminToken: string;
  /** A valid token without the admin scope. */
  readerToken: string;
  console: Service<ConsoleOwnConfig>;
  consoleUrl: string;
  orders: Service;
  ordersUrl: string;
  ordersLogs: LogCapture;
  /** Flip to make orders' `db` readiness check fail. */
  health: { db: boolean; error: string };
  /** An ALF-shaped chassis service (alf_* counters, /admin/alf/top) reading flags from the console. */
  alf: Service;
  alfUrl: string;
  alfCounters: { ingest(service: string, events: number, dropped: number): void };
  /** Shaped like index-provisioner's GET /v1/indexes and /v1/deployments (scope indexes:read). */
  indexer: Service;
  /** Shaped like plugin-runner's GET /v1/instances (scope plugins:read). */
  plugins: Service;
  /** Nothing listens here. */
  ghostUrl: string;
  stop(): Promise<void>;
}

export interface FleetOptions {
  /** Extra env for the console (flag store choice...). */
  consoleEnv?: Record<string, string>;
  pollMs?: number;
}

const quiet = () => new LogCapture();

/** Start orders (plain service), a fake ALF, a ghost URL, and the console pointed at them. */
export async function startFleet(options: FleetOptions = {}): Promise<TestFleet> {
  const keys = await createTestKeys();
  const adminToken = await keys.mint({
    subject: 'alice',
    scopes: ['admin', 'indexes:read', 'plugins:read'],
    expiresIn: '30m',
  });
  const readerToken = await keys.mint({ subject: 'bob', scopes: ['fleet:read'], expiresIn: '30m' });
  const auth = { AUTH_PUBLIC_KEYS: keys.jwks };
  const health = { db: true, error: 'database unreachable <b>boom</b>' };

  const ordersLogs = new LogCapture();
  const orders = await createService({
    name: 'orders',
    version: '1.2.3',
    configSources: { env: { ...auth, PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'info' }, argv: [] },
    logDestination: ordersLogs,
    routes(app, svc) {
      const created = svc.metrics.counter({ name: 'orders_created_total', help: 'Orders created' });
      svc.health.addCheck('db', () => {
        if (!health.db) throw new Error(health.error);
        return { pool: 'ok' };
      });
      app.post('/orders', async () => {
        await new Promise((resolve) => setTimeout(resolve, 30));
        created.inc();
        return { ok: true };
      });
    },
  });
  const ordersUrl = (await orders.start()).url;

  const indexer = await createService({
    name: 'index-provisioner',
    version: '0.3.0',
    configSources: { env: { ...auth, PORT: '0', HOST: '127.0.0.1' }, argv: [] },
    logDestination: quiet(),
    routes(app) {
      const read = { auth: { scopes: ['indexes:read'] } };
      // Field names as in services/index-provisioner/src/http/context.ts (indexView) and schemas.ts
      app.get('/v1/indexes', read, async () => ({
        items: [
          {
            name: 'web_logs',
            datatype: 'event',
            retention: { frozenTimePeriodInSecs: 7776000, days: 90 },
            maxTotalDataSizeMB: 500000,
            owner: 'team-web',
            cluster: 'prod',
            description: 'web logs',
            disabled: false,
            createdBy: 'alice',
            createdAt: '2026-11-01T00:00:00.000Z',
            updatedAt: '2026-11-01T00:00:00.000Z',
          },
        ],
        nextCursor: null,
      }));
      app.get('/v1/deployments', read, async () => ({
        items: [
          {
            id: '6f1c2b9e-0000-4000-8000-000000000001',
            cluster: 'prod',
            status: 'succeeded',
            requestedBy: 'alice',
            requestId: null,
            target: 'prod',
            files: [],
            steps: [],
            error: null,
            createdAt: '2026-11-02T00:00:00.000Z',
            updatedAt: '2026-11-02T00:00:10.000Z',
            finishedAt: '2026-11-02T00:00:10.000Z',
          },
        ],
        nextCursor: null,
      }));
    },
  });
  const indexerUrl = (await indexer.start()).url;

  const plugins = await createService({
    name: 'plugin-runner',
    version: '0.4.0',
    configSources: { env: { ...auth, PORT: '0', HOST: '127.0.0.1' }, argv: [] },
    logDestination: quiet(),
    routes(app) {
      // Field names as in services/plugin-runner/src/api.ts (view)
      app.get('/v1/instances', { auth: { scopes: ['plugins:read'] } }, async () => ({
        instances: [
          {
            id: 'gh-audit',
            plugin: 'github-audit',
            enabled: true,
            version: 1,
            status: {
              paused_by_flag: false,
              running: false,
              cursor: { after: '<script>alert(1)</script>' },
              cursor_seq: 7,
              cursor_updated_at: '2026-11-03T00:00:00.000Z',
              lag_seconds: 12.5,
              circuit: { state: 'closed', consecutive_failures: 0, open_until: null },
              last_success_at: '2026-11-03T00:00:00.000Z',
            },
          },
        ],
      }));
    },
  });
  const pluginsUrl = (await plugins.start()).url;

  const alfPort = await getFreePort();
  const alfUrl = `http://127.0.0.1:${alfPort}`;
  const ghostUrl = `http://127.0.0.1:${await getFreePort()}`;

  const consoleService = await createService({
    ...consoleOptions,
    configSources: {
      env: {
        ...auth,
        PORT: '0',
        HOST: '127.0.0.1',
        CONSOLE_TOKEN: adminToken,
        CONSOLE_POLL_MS: String(options.pollMs ?? 150),
        CONSOLE_REQUEST_TIMEOUT_MS: '1000',
        CONSOLE_SERVICES: JSON.stringify([
          { name: 'orders', url: ordersUrl, kind: 'service' },
          { name: 'alf', url: alfUrl, kind: 'alf' },
          { name: 'ghost', url: ghostUrl, kind: 'service' },
          { name: 'index-provisioner', url: indexerUrl, kind: 'index-provisioner' },
          { name: 'plugin-runner', url: pluginsUrl, kind: 'plugin-runner' },
        ]),
        ...options.consoleEnv,
      },
      argv: [],
    },
    logDestination: quiet(),
  });
  const consoleUrl = (await consoleService.start()).url;

  // Shaped like services/alf: the same metric names and /admin/alf/top rows (alf is not a dependency).
  let ingest: TestFleet['alfCounters']['ingest'] = () => {};
  const talkers = new Map<string, number>();
  const alf = await createService({
    name: 'alf',
    version: '0.9.0',
    configSources: {
      env: {
        ...auth,
        PORT: String(alfPort),
        HOST: '127.0.0.1',
        FLAGS_STORE: 'http',
        FLAGS_HTTP_URL: consoleUrl,
        FLAGS_HTTP_TOKEN: adminToken,
        FLAGS_POLL_INTERVAL_MS: '100',
      },
      argv: [],
    },
    logDestination: quiet(),
    routes(app, svc) {
      const consumed = svc.metrics.counter({
        name: 'alf_events_consumed_total',
        help: 'in',
        labelNames: ['topic'] as const,
      });
      const delivered = svc.metrics.counter({ name: 'alf_events_delivered_total', help: 'out' });
      const dropped = svc.metrics.counter({
        name: 'alf_events_dropped_total',
        help: 'dropped',
        labelNames: ['reason', 'service', 'level'] as const,
      });
      ingest = (service, events, drops) => {
        consumed.inc({ topic: 'logs' }, events);
        delivered.inc(events - drops);
        if (drops > 0) dropped.inc({ reason: 'flag_service', service, level: 'info' }, drops);
        talkers.set(service, (talkers.get(service) ?? 0) + events);
      };
      const admin = { auth: { scopes: ['admin'] } };
      app.get('/admin/alf/top', admin, async () => ({
        window_seconds: 10,
        by: 'events',
        total: { events_per_s: 0, bytes_per_s: 0, dropped_per_s: 0, services: talkers.size },
        services: [...talkers].map(([service, events]) => ({
          service,
          events_per_s: events / 10,
          bytes_per_s: events * 20,
          dropped_per_s: 0,
          drop_flag: `alf.drop.service.${service}`,
          drop_basis_points: svc.flags.value(`alf.drop.service.${service}`),
        })),
        throttle: 'PUT /admin/flags/<drop_flag> {"value": 10000}',
      }));
      app.get('/admin/alf/status', admin, async () => ({ state: 'delivering', stall: null }));
    },
  });
  await alf.start();

  return {
    keys,
    adminToken,
    readerToken,
    console: consoleService,
    consoleUrl,
    orders,
    ordersUrl,
    ordersLogs,
    health,
    alf,
    alfUrl,
    alfCounters: { ingest: (s, e, d) => ingest(s, e, d) },
    indexer,
    plugins,
    ghostUrl,
    async stop() {
      await Promise.all([alf.stop(), orders.stop(), indexer.stop(), plugins.stop()]);
      await consoleService.stop();
    },
  };
}

/** Call the console API with a token; answers the status and the JSON body. */
export async function call(
  fleet: Pick<TestFleet, 'consoleUrl'>,
  token: string | null,
  method: string,
  path: string,
  body?: unknown,
  // biome-ignore lint/suspicious/noExplicitAny: tests read arbitrary JSON answers field by field
): Promise<{ status: number; body: any }> {
  const headers: Record<string, string> = {};
  if (token) headers.authorization = `Bearer ${token}`;
  if (body !== undefined) headers['content-type'] = 'application/json';
  const response = await fetch(`${fleet.consoleUrl}${path}`, {
    method,
    headers,
    ...(body !== undefined ? { body: typeof body === 'string' ? body : JSON.stringify(body) } : {}),
  });
  const text = await response.text();
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text);
  } catch {
    // not JSON: keep the text
  }
  return { status: response.status, body: parsed };
}

/** Poll `check` until it returns a truthy value (no fixed sleeps); fails with the last value seen. */
export async function waitFor<T>(
  check: () => Promise<T> | T,
  timeoutMs = 5000,
  what = 'condition',
): Promise<Exclude<T, null | undefined | false | 0 | ''>> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value) return value as Exclude<T, null | undefined | false | 0 | ''>;
      last = value;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline)
      throw new Error(
        `timed out waiting for ${what}: last ${last instanceof Error ? last.message : JSON.stringify(last)}`,
      );
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}
