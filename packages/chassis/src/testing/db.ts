import { randomBytes } from 'node:crypto';
import { assertSchemaName, quoteIdent } from '../db/names.js';
import { cachedPgliteTemplate } from '../db/pglite-template.js';
import { loadPg, pgClientConfig } from '../db/postgres.js';

/** The PostgreSQL tests use: DATABASE_URL, else the local default. */
export const DEFAULT_TEST_DATABASE_URL = 'postgres://postgres@127.0.0.1:5432/test';

export function testDatabaseUrl(): string {
  return process.env.DATABASE_URL || DEFAULT_TEST_DATABASE_URL;
}

/** `url` with its password masked, for messages. */
export function redactDatabaseUrl(url: string): string {
  return url.replace(/\/\/([^:@/]*):[^@/]*@/, '//$1:***@');
}

/** Why the PostgreSQL at `url` does not answer `SELECT 1` within `timeoutMs`, or undefined if it does. */
export async function probePostgres(url: string, timeoutMs = 2000): Promise<string | undefined> {
  const pg = await loadPg();
  const client = new pg.Client(
    pgClientConfig({
      url,
      connectTimeoutMs: timeoutMs,
      queryTimeoutMs: timeoutMs,
      applicationName: 'fleet-probe',
    }),
  );
  client.on('error', () => {});
  try {
    await client.connect();
    await client.query('SELECT 1');
    return undefined;
  } catch (err) {
    return (err as Error).message || String(err);
  } finally {
    await client.end().catch(() => {});
  }
}

async function withClient<T>(url: string, fn: (client: import('pg').Client) => Promise<T>): Promise<T> {
  const pg = await loadPg();
  const client = new pg.Client(pgClientConfig({ url, applicationName: 'fleet-test-cleanup' }));
  client.on('error', () => {});
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end().catch(() => {});
  }
}

/** Drop `schema` and everything in it on the PostgreSQL at `url` (a test's own database). */
export async function dropSchema(url: string, schema: string): Promise<void> {
  assertSchemaName(schema);
  await withClient(url, (client) => client.query(`DROP SCHEMA IF EXISTS ${quoteIdent(schema)} CASCADE`));
}

/** Drop every schema whose name starts with `prefix` (what a test run created); resolves to their names. */
export async function dropSchemas(url: string, prefix: string): Promise<string[]> {
  if (!/^[a-z_][a-z0-9_]*$/.test(prefix))
    throw new Error(`schema prefix '${prefix}' must be a plain identifier`);
  return withClient(url, async (client) => {
    const { rows } = await client.query<{ nspname: string }>(
      'SELECT nspname FROM pg_namespace WHERE starts_with(nspname, $1)',
      [prefix],
    );
    for (const { nspname } of rows)
      await client.query(`DROP SCHEMA IF EXISTS ${quoteIdent(nspname)} CASCADE`);
    return rows.map((r) => r.nspname);
  });
}

export interface TestDatabases {
  /** A fresh-PGlite tarball (`DbOptions.pgliteTemplate`, `PGLITE_TEMPLATE`): no initdb per test database. */
  pgliteTemplate: string;
  /** The reachable real PostgreSQL, or '' when it did not answer (run the PostgreSQL variants only if set). */
  postgresUrl: string;
  /** Prefix for the schemas this run creates on PostgreSQL (`<prefix><random>`); teardown drops them. */
  schemaPrefix: string;
  /** Drop every schema of this run left on PostgreSQL (by a test that crashed before its cleanup). */
  teardown(): Promise<void>;
}

export interface PrepareTestDatabasesOptions {
  /** Who is asking, for the skip message (e.g. the service name). */
  label: string;
  /** Short lower-case tag starting this run's schema names (default 'fleet'). */
  schemaTag?: string;
  /** PostgreSQL to probe (default `testDatabaseUrl()`). */
  url?: string;
  /** Probe timeout, ms (default 2000). */
  probeTimeoutMs?: number;
  /** Where the skip message goes (default stderr). */
  warn?: (message: string) => void;
}

/**
 * For a test run's global setup: cache the PGlite template, and probe the real PostgreSQL. Tests then
 * run against PGlite always and against PostgreSQL when it answered; when it did not, a message says
 * the PostgreSQL variants are skipped and why.
 */
export async function prepareTestDatabases(options: PrepareTestDatabasesOptions): Promise<TestDatabases> {
  const url = options.url ?? testDatabaseUrl();
  const schemaPrefix = `${options.schemaTag ?? 'fleet'}_${randomBytes(4).toString('hex')}_`;
  const [pgliteTemplate, problem] = await Promise.all([
    cachedPgliteTemplate(),
    probePostgres(url, options.probeTimeoutMs),
  ]);
  if (problem) {
    const warn = options.warn ?? ((message: string) => process.stderr.write(`\n${message}\n\n`));
    warn(
      `[${options.label}] real PostgreSQL at ${redactDatabaseUrl(url)} is unreachable (${problem}): the PostgreSQL variants are SKIPPED; set DATABASE_URL to run them`,
    );
  }
  return {
    pgliteTemplate,
    postgresUrl: problem ? '' : url,
    schemaPrefix,
    teardown: async () => {
      if (!problem) await dropSchemas(url, schemaPrefix);
    },
  };
}

/** The part of vitest's `TestProject` a global setup uses (structural: the chassis needs no vitest types). */
export interface ProvidingProject {
  provide(key: 'pgliteTemplate' | 'postgresUrl' | 'schemaPrefix', value: string): void;
}

/**
 * A vitest `globalSetup` function: `prepareTestDatabases(options)`, then provides `pgliteTemplate`,
 * `postgresUrl` and `schemaPrefix` to the tests (`inject('postgresUrl')`) and drops the run's
 * schemas at teardown. Declare the three keys in vitest's `ProvidedContext` (README "Database").
 */
export function databaseGlobalSetup(options: PrepareTestDatabasesOptions) {
  return async (project: ProvidingProject): Promise<() => Promise<void>> => {
    const databases = await prepareTestDatabases(options);
    project.provide('pgliteTemplate', databases.pgliteTemplate);
    project.provide('postgresUrl', databases.postgresUrl);
    project.provide('schemaPrefix', databases.schemaPrefix);
    return databases.teardown;
  };
}
