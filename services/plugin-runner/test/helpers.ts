import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createService, type Service } from '@fleet/chassis';
import { type Db, openDb } from '@fleet/chassis/db';
import { createTestKeys, LogCapture, type TestKeys } from '@fleet/chassis/testing';
import { inject } from 'vitest';
import type { PluginRunnerConfig } from '../src/config.js';
import { migrateDatabase } from '../src/db/migrations.js';
import type { Plugin } from '../src/plugin.js';
import type { EventSink } from '../src/runner.js';
import { type PluginRunnerHandle, pluginRunnerOf, pluginRunnerService } from '../src/service.js';
import { Store } from '../src/store.js';

export type Backend = 'pglite' | 'postgres';

/** PGlite always; real Postgres when the global setup could reach it. */
export function backends(): Backend[] {
  return inject('postgresUrl') ? ['pglite', 'postgres'] : ['pglite'];
}

export function postgresUrl(): string {
  return inject('postgresUrl');
}

export function uniqueSchema(): string {
  return `${inject('schemaPrefix')}${randomBytes(4).toString('hex')}`;
}

/** For tests whose subject is not storage: real Postgres when reachable (a schema is cheap), else PGlite. */
export function cheapBackend(): Backend {
  return inject('postgresUrl') ? 'postgres' : 'pglite';
}

let sharedPglite: Promise<Db> | undefined;

/**
 * A PGlite instance costs seconds of CPU to start, so the test files of one worker share one (the
 * files of a worker run one after the other) and each test empties it: see openTestDb.
 */
function pglite(): Promise<Db> {
  sharedPglite ??= (async () => {
    const db = await openDb({ url: '', pgliteTemplate: inject('pgliteTemplate') });
    await migrateDatabase(db);
    return db;
  })();
  return sharedPglite;
}

/**
 * A fresh migrated database: a new schema on real Postgres, or the worker's PGlite emptied. Close
 * it with the returned db's close() (a no-op for the shared PGlite).
 */
export async function openTestDb(backend: Backend, schema = uniqueSchema()): Promise<Db> {
  if (backend === 'postgres') {
    const db = await openDb({ url: inject('postgresUrl'), schema, poolMax: 4 });
    await migrateDatabase(db);
    return db;
  }
  const db = await pglite();
  await db.query('TRUNCATE plugin_instances, plugin_state, plugin_runs RESTART IDENTITY CASCADE');
  return { ...db, close: async () => {} };
}

export async function testStore(backend: Backend): Promise<{ store: Store; db: Db }> {
  const db = await openTestDb(backend);
  return { store: new Store(db), db };
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export async function waitFor<T>(
  what: string,
  check: () => T | Promise<T>,
  timeoutMs = 15_000,
  everyMs = 20,
): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value as NonNullable<T>;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(everyMs);
  }
}

/** Settings that keep runners quick in tests. */
export function fastEnv(extra: Record<string, string> = {}): Record<string, string> {
  return {
    LOG_LEVEL: 'silent',
    PORT: '0',
    HOST: '127.0.0.1',
    PLUGIN_RUNNER_TICK_MS: '30',
    PLUGIN_RUNNER_LEASE_TTL_MS: '1500',
    PLUGIN_RUNNER_MIN_INTERVAL_MS: '10',
    PLUGIN_RUNNER_SHUTDOWN_GRACE_MS: '500',
    PLUGIN_HTTP_TIMEOUT_MS: '2000',
    PLUGIN_HTTP_ATTEMPTS: '3',
    PLUGIN_HTTP_BACKOFF_BASE_MS: '10',
    PLUGIN_HTTP_BACKOFF_MAX_MS: '50',
    PLUGIN_RUNNER_FAILURE_BACKOFF_BASE_MS: '20',
    PLUGIN_RUNNER_FAILURE_BACKOFF_MAX_MS: '100',
    ...extra,
  };
}

export interface TestRunner {
  service: Service<PluginRunnerConfig>;
  handle: PluginRunnerHandle;
  keys: TestKeys;
  logs: LogCapture;
  token(scopes?: string[]): Promise<string>;
  // biome-ignore lint/suspicious/noExplicitAny: tests read response bodies freely
  request<T = any>(
    method: string,
    url: string,
    options?: { token?: string | null; body?: unknown; headers?: Record<string, string> },
  ): Promise<{ status: number; body: T; headers: Record<string, unknown> }>;
  stop(): Promise<void>;
}

export interface StartOptions {
  env?: Record<string, string>;
  plugins?: Plugin[];
  extraPlugins?: Plugin[];
  db?: Db;
  sink?: EventSink;
  secretsEnv?: NodeJS.ProcessEnv;
  keys?: TestKeys;
  /** Do not call app.ready() (the runner starts on ready). */
  noReady?: boolean;
}

/** A plugin-runner service in this process. */
export async function startRunner(options: StartOptions = {}): Promise<TestRunner> {
  const keys = options.keys ?? (await createTestKeys());
  const logs = new LogCapture();
  const service = await createService({
    ...pluginRunnerService({
      ...(options.plugins ? { plugins: options.plugins } : {}),
      ...(options.extraPlugins ? { extraPlugins: options.extraPlugins } : {}),
      ...(options.db ? { db: options.db } : {}),
      ...(options.sink ? { sink: options.sink } : {}),
      env: options.secretsEnv ?? {},
    }),
    logDestination: logs,
    configSources: { env: { AUTH_PUBLIC_KEYS: keys.jwks, ...fastEnv(), ...options.env }, argv: [] },
  });
  if (!options.noReady) await service.app.ready();
  const token = (scopes = ['plugins:read', 'plugins:write']) => keys.mint({ subject: 'tester', scopes });
  let stopped = false;
  return {
    service,
    get handle() {
      return pluginRunnerOf(service);
    },
    keys,
    logs,
    token,
    async request(method, url, opts = {}) {
      const auth = opts.token === null ? undefined : (opts.token ?? (await token()));
      const res = await service.app.inject({
        method: method as 'GET',
        url,
        headers: { ...(auth ? { authorization: `Bearer ${auth}` } : {}), ...opts.headers },
        ...(opts.body !== undefined ? { payload: opts.body as object } : {}),
      });
      const text = res.body;
      let body: unknown = text;
      try {
        body = text ? JSON.parse(text) : undefined;
      } catch {
        // not JSON
      }
      return { status: res.statusCode, body: body as never, headers: res.headers as Record<string, unknown> };
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      await service.stop();
    },
  };
}

/** A sink that keeps what it is given (tests that do not need Kafka). */
export class MemorySink implements EventSink {
  readonly messages: Array<{
    topic: string;
    key: string;
    value: Record<string, unknown>;
    headers: Record<string, string>;
  }> = [];
  failNext = 0;
  async send(
    topic: string,
    messages: Array<{ key?: unknown; value: unknown; headers?: Record<string, unknown> }>,
  ): Promise<void> {
    if (this.failNext > 0) {
      this.failNext--;
      throw new Error('sink unavailable');
    }
    for (const m of messages)
      this.messages.push({
        topic,
        key: String(m.key),
        value: JSON.parse(String(m.value)) as Record<string, unknown>,
        headers: Object.fromEntries(Object.entries(m.headers ?? {}).map(([k, v]) => [k, String(v)])),
      });
  }
  ids(): string[] {
    return this.messages.map((m) => m.key);
  }
}

export interface FakeRequest {
  method: string;
  url: URL;
  headers: IncomingMessage['headers'];
  at: number;
}

export interface FakeServer {
  url: string;
  requests: FakeRequest[];
  close(): Promise<void>;
}

export type FakeHandler = (request: FakeRequest, response: ServerResponse) => void | Promise<void>;

/** A fake upstream API on 127.0.0.1 and an ephemeral port. */
export async function startFakeServer(handler: FakeHandler): Promise<FakeServer> {
  const requests: FakeRequest[] = [];
  const server = createServer((req, res) => {
    const request: FakeRequest = {
      method: req.method ?? 'GET',
      url: new URL(req.url ?? '/', 'http://127.0.0.1'),
      headers: req.headers,
      at: Date.now(),
    };
    requests.push(request);
    req.resume();
    req.on('end', () => {
      Promise.resolve(handler(request, res)).catch((err) => {
        if (!res.headersSent) res.writeHead(500).end(String(err));
      });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  const base = `http://127.0.0.1:${port}`;
  return {
    url: base,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

export function json(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  res.writeHead(status, { 'content-type': 'application/json', ...headers }).end(JSON.stringify(body));
}
