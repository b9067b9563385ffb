/**
 * The runner's storage: real Postgres (a pg pool) or embedded PGlite behind one small interface.
 * Every statement the runner depends on for correctness (lease acquisition, renewal, fenced cursor
 * commits) is a single UPDATE, atomic on both.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import pg from 'pg';

export type Row = Record<string, unknown>;

export interface Queryable {
  query<T extends Row = Row>(sql: string, params?: readonly unknown[]): Promise<T[]>;
}

export interface Connection extends Queryable {
  exec(sql: string): Promise<void>;
}

export interface Db extends Queryable {
  readonly kind: 'postgres' | 'pglite';
  /** Run `fn` on one dedicated connection (session state such as advisory locks, transactions). */
  withConnection<T>(fn: (conn: Connection) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

export interface DbOptions {
  /** Postgres URL; empty: embedded PGlite. */
  url: string;
  /** Schema for every connection's search_path (created if missing; empty: the server default). */
  schema?: string;
  /** PGlite data directory; empty: in memory. */
  dataDir?: string;
  /** A PGlite dumpDataDir() tarball that a new PGlite database starts from (skips initdb). */
  pgliteTemplate?: string;
  poolMax?: number;
  applicationName?: string;
}

export const SCHEMA_PATTERN = /^[a-z_][a-z0-9_]{0,62}$/;

function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

export async function openDb(options: DbOptions): Promise<Db> {
  if (options.schema && !SCHEMA_PATTERN.test(options.schema))
    throw new Error(`database schema '${options.schema}' must match ${SCHEMA_PATTERN}`);
  return options.url ? openPostgres(options) : openPglite(options);
}

async function openPostgres(options: DbOptions): Promise<Db> {
  const schema = options.schema || undefined;
  const connection = {
    connectionString: options.url,
    connectionTimeoutMillis: 5000,
    application_name: options.applicationName ?? 'fleet-plugin-runner',
  };
  if (schema) {
    const client = new pg.Client(connection);
    await client.connect();
    try {
      await client.query(`CREATE SCHEMA IF NOT EXISTS ${quoteIdent(schema)}`);
    } catch (err) {
      // Two replicas creating the schema at once: one of them loses the race, harmlessly
      if ((err as { code?: string }).code !== '23505') throw err;
    } finally {
      await client.end();
    }
  }
  const pool = new pg.Pool({
    ...connection,
    max: options.poolMax || 5,
    idleTimeoutMillis: 30_000,
    ...(schema ? { options: `-c search_path=${schema}` } : {}),
  });
  // An idle client losing its connection must not crash the process
  pool.on('error', () => {});
  const run = async <T extends Row>(
    client: pg.Pool | pg.PoolClient,
    sql: string,
    params?: readonly unknown[],
  ) => (await client.query(sql, params as unknown[])).rows as T[];
  return {
    kind: 'postgres',
    query: (sql, params) => run(pool, sql, params),
    async withConnection(fn) {
      const client = await pool.connect();
      try {
        return await fn({
          query: (sql, params) => run(client, sql, params),
          exec: async (sql) => {
            await client.query(sql);
          },
        });
      } finally {
        client.release();
      }
    },
    close: () => pool.end(),
  };
}

async function openPglite(options: DbOptions): Promise<Db> {
  const { PGlite } = await import('@electric-sql/pglite');
  const dataDir = options.dataDir || undefined;
  const fresh = !dataDir || !existsSync(dataDir) || readdirSync(dataDir).length === 0;
  const loadDataDir =
    fresh && options.pgliteTemplate && existsSync(options.pgliteTemplate)
      ? new Blob([readFileSync(options.pgliteTemplate)])
      : undefined;
  const db = await PGlite.create({
    ...(dataDir ? { dataDir } : {}),
    ...(loadDataDir ? { loadDataDir } : {}),
  });
  if (options.schema) {
    await db.exec(`CREATE SCHEMA IF NOT EXISTS ${quoteIdent(options.schema)}`);
    await db.exec(`SET search_path TO ${quoteIdent(options.schema)}`);
  }
  const query = async <T extends Row>(sql: string, params?: readonly unknown[]): Promise<T[]> =>
    (await db.query<T>(sql, params as unknown[])).rows;
  let closed = false;
  return {
    kind: 'pglite',
    query,
    // PGlite is one connection: every query already runs on it
    withConnection: (fn) =>
      fn({
        query,
        exec: async (sql) => {
          await db.exec(sql);
        },
      }),
    async close() {
      if (closed) return;
      closed = true;
      await db.close();
    },
  };
}
