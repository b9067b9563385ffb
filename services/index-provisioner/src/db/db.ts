import { existsSync, readdirSync, readFileSync } from 'node:fs';
import pg from 'pg';

export type Row = Record<string, unknown>;

/** Something SQL can be sent to: the database, one connection, or a transaction. */
export interface Queryable {
  query<T extends Row = Row>(sql: string, params?: readonly unknown[]): Promise<T[]>;
}

/** One connection: queries, plus multi-statement scripts (migrations). */
export interface Connection extends Queryable {
  exec(sql: string): Promise<void>;
}

/** The storage the service runs on: real Postgres (pg pool) or embedded PGlite, behind one interface. */
export interface Db extends Queryable {
  readonly kind: 'postgres' | 'pglite';
  /** Run `fn` in a transaction (BEGIN/COMMIT; ROLLBACK when it throws). */
  transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T>;
  /** Run `fn` on one dedicated connection (session-level state such as advisory locks). */
  withConnection<T>(fn: (conn: Connection) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

export interface DbOptions {
  /** Postgres URL; empty: PGlite. */
  url: string;
  /** Schema for every connection's search_path (created if missing). */
  schema?: string;
  /** PGlite data directory; empty: in memory. */
  dataDir?: string;
  /** PGlite dumpDataDir() tarball used to initialise a new PGlite database. */
  pgliteTemplate?: string;
  poolMax?: number;
}

/** A Postgres error code (SQLSTATE) if `err` carries one. */
export function sqlState(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

export const UNIQUE_VIOLATION = '23505';

function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

export async function openDb(options: DbOptions): Promise<Db> {
  return options.url ? openPostgres(options) : openPglite(options);
}

async function openPostgres(options: DbOptions): Promise<Db> {
  const schema = options.schema || undefined;
  if (schema) {
    // Create the schema first, on a connection without the search_path option
    const client = new pg.Client({ connectionString: options.url });
    await client.connect();
    try {
      await client.query(`CREATE SCHEMA IF NOT EXISTS ${quoteIdent(schema)}`);
    } finally {
      await client.end();
    }
  }
  const pool = new pg.Pool({
    connectionString: options.url,
    max: options.poolMax || 10,
    ...(schema ? { options: `-c search_path=${schema}` } : {}),
  });
  // An idle client losing its connection must not crash the process
  pool.on('error', () => {});
  const run = async <T extends Row>(
    client: pg.Pool | pg.PoolClient,
    sql: string,
    params?: readonly unknown[],
  ): Promise<T[]> => (await client.query(sql, params as unknown[])).rows as T[];
  return {
    kind: 'postgres',
    query: (sql, params) => run(pool, sql, params),
    async transaction(fn) {
      const client = await pool.connect();
      try {
        await client.query('BEGIN');
        const result = await fn({ query: (sql, params) => run(client, sql, params) });
        await client.query('COMMIT');
        return result;
      } catch (err) {
        await client.query('ROLLBACK').catch(() => {});
        throw err;
      } finally {
        client.release();
      }
    },
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
    fresh && options.pgliteTemplate ? new Blob([readFileSync(options.pgliteTemplate)]) : undefined;
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
  return {
    kind: 'pglite',
    query,
    transaction: (fn) =>
      db.transaction((tx) =>
        fn({
          query: async <T extends Row>(sql: string, params?: readonly unknown[]) =>
            (await tx.query<T>(sql, params as unknown[])).rows,
        }),
      ),
    // PGlite is a single connection: every query already runs on it
    withConnection: (fn) =>
      fn({
        query,
        exec: async (sql) => {
          await db.exec(sql);
        },
      }),
    close: () => db.close(),
  };
}
