import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createService, type Service } from '@fleet/chassis';
import { createTestKeys, dropSchema, LogCapture, type TestKeys } from '@fleet/chassis/testing';
import { expect, inject } from 'vitest';
import { indexProvisionerOptions, type ProvisionerConfig } from '../src/service.js';

export type Backend = 'pglite' | 'postgres';

/** PGlite always; real Postgres when the global setup could reach it. */
export function backends(): Backend[] {
  return inject('postgresUrl') ? ['pglite', 'postgres'] : ['pglite'];
}

/**
 * For tests whose subject is not storage: real Postgres when reachable (a schema costs a few
 * milliseconds), else PGlite (an instance costs seconds of CPU). The storage suites run on both.
 */
export function cheapBackend(): Backend {
  return inject('postgresUrl') ? 'postgres' : 'pglite';
}

export const ALL_SCOPES = ['indexes:read', 'indexes:write', 'roles:write', 'deploy'];

export interface TokenOptions {
  scopes?: string[];
  team?: string | string[];
  subject?: string;
  admin?: boolean;
  claims?: Record<string, unknown>;
}

// biome-ignore lint/suspicious/noExplicitAny: tests read response bodies loosely
export interface Reply<T = any> {
  status: number;
  body: T;
  headers: Record<string, unknown>;
}

export interface TestService {
  service: Service<ProvisionerConfig>;
  keys: TestKeys;
  logs: LogCapture;
  backend: Backend;
  /** A temporary directory (the default cluster's directory target root). */
  dir: string;
  token(options?: TokenOptions): Promise<string>;
  // biome-ignore lint/suspicious/noExplicitAny: tests read response bodies loosely
  request<T = any>(
    method: string,
    url: string,
    options?: { token?: string; body?: unknown; headers?: Record<string, string> },
  ): Promise<Reply<T>>;
  close(): Promise<void>;
}

export interface StartOptions {
  backend?: Backend;
  env?: Record<string, string>;
  /** provisioner.clusters; `{dir}` in a string is replaced by the temporary directory. */
  clusters?: Record<string, unknown>;
}

/** Start the service on a fresh database (a PGlite in memory, or a new schema on real Postgres). */
export async function startTestService(options: StartOptions = {}): Promise<TestService> {
  const backend = options.backend ?? 'pglite';
  const keys = await createTestKeys();
  const dir = await mkdtemp(join(tmpdir(), 'index-provisioner-'));
  const clusters = options.clusters ?? {
    east: { clustered: true, target: { type: 'directory', root: '{dir}/east' } },
    west: { clustered: false, target: { type: 'directory', root: '{dir}/west' } },
  };
  const schema = backend === 'postgres' ? `${inject('schemaPrefix')}${randomBytes(4).toString('hex')}` : '';
  const env: Record<string, string> = {
    AUTH_PUBLIC_KEYS: keys.jwks,
    PORT: '0',
    HOST: '127.0.0.1',
    LOG_LEVEL: 'info',
    PROVISIONER_CLUSTERS: JSON.stringify(clusters).replaceAll('{dir}', dir),
    ...(backend === 'postgres'
      ? { DATABASE_URL: inject('postgresUrl'), DATABASE_SCHEMA: schema }
      : { PGLITE_TEMPLATE: inject('pgliteTemplate') }),
    ...options.env,
  };
  const logs = new LogCapture();
  const service = await createService(
    indexProvisionerOptions({ configSources: { env, argv: [], files: [] }, logDestination: logs }),
  );
  await service.app.ready();

  return {
    service,
    keys,
    logs,
    backend,
    dir,
    token(o = {}) {
      return keys.mint({
        subject: o.subject ?? 'tester',
        scopes: [...(o.scopes ?? ALL_SCOPES), ...(o.admin ? ['admin'] : [])],
        claims: { ...(o.team === undefined ? { team: 'payments' } : { team: o.team }), ...o.claims },
      });
    },
    async request(method, url, o = {}) {
      const response = await service.app.inject({
        method: method as 'GET',
        url,
        headers: { ...(o.token ? { authorization: `Bearer ${o.token}` } : {}), ...o.headers },
        ...(o.body !== undefined ? { payload: o.body as object } : {}),
      });
      let body: unknown = response.body;
      try {
        body = response.body ? JSON.parse(response.body) : undefined;
      } catch {
        // not JSON
      }
      return { status: response.statusCode, body: body as never, headers: response.headers };
    },
    async close() {
      await service.stop();
      await rm(dir, { recursive: true, force: true });
      if (backend === 'postgres') await dropSchema(inject('postgresUrl'), schema);
    },
  };
}

/** A valid create-index body. */
export function indexBody(name: string, extra: Record<string, unknown> = {}) {
  return {
    name,
    datatype: 'event',
    retention: { days: 30 },
    maxTotalDataSizeMB: 1024,
    owner: 'payments',
    cluster: 'east',
    ...extra,
  };
}

/** Start a deployment and wait for its outcome. */
export async function deploy(t: TestService, token: string, cluster: string) {
  const started = await t.request('POST', '/v1/deployments', { token, body: { cluster } });
  expect(started.status, JSON.stringify(started.body)).toBe(202);
  expect(started.headers.location).toBe(`/v1/deployments/${started.body.id}`);
  return eventually(async () => {
    const res = await t.request('GET', `/v1/deployments/${started.body.id}`, { token });
    return res.body.status !== 'running' && res.body;
  });
}

/** Poll until `fn` returns a truthy value. */
export async function eventually<T>(
  fn: () => Promise<T | undefined | false>,
  timeoutMs = 10_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await fn();
    if (value) return value;
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}
