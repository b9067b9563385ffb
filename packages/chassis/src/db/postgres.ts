import type { ClientConfig, Pool, PoolClient } from 'pg';
import { assertSchemaName, quoteIdent } from './names.js';
import type { Db, DbOptions, Row } from './types.js';

type PgModule = typeof import('pg').default;

/** `pg`, loaded on first use: services without a PostgreSQL database never load it. */
export async function loadPg(): Promise<PgModule> {
  return (await import('pg')).default;
}

/** The connection settings every chassis PostgreSQL client uses (pool, LISTEN session, probes). */
export function pgClientConfig(
  options: Pick<DbOptions, 'applicationName' | 'connectTimeoutMs' | 'queryTimeoutMs'> & { url: string },
): ClientConfig {
  return {
    connectionString: options.url,
    connectionTimeoutMillis: options.connectTimeoutMs ?? 5000,
    ...(options.queryTimeoutMs ? { query_timeout: options.queryTimeoutMs } : {}),
    // Notice a dead server or a dropped NAT mapping on idle connections
    keepAlive: true,
    application_name: options.applicationName ?? 'fleet',
  };
}

/** Schema-creation races between replicas surface as one of these; the schema exists either way. */
const SCHEMA_RACE = new Set(['23505', '42P06']);

async function createSchema(pg: PgModule, config: ClientConfig, schema: string): Promise<void> {
  // On a connection without the search_path option: the schema may not exist yet
  const client = new pg.Client(config);
  client.on('error', () => {});
  await client.connect();
  try {
    await client.query(`CREATE SCHEMA IF NOT EXISTS ${quoteIdent(schema)}`);
  } catch (err) {
    if (!SCHEMA_RACE.has((err as { code?: string }).code ?? '')) throw err;
  } finally {
    await client.end().catch(() => {});
  }
}

/** A PostgreSQL server through a `pg` pool. */
export async function openPostgresDb(options: DbOptions & { url: string }): Promise<Db> {
  const schema = options.schema ?? '';
  assertSchemaName(schema);
  const pg = await loadPg();
  const config = pgClientConfig(options);
  if (schema) await createSchema(pg, config, schema);
  const pool: Pool = new pg.Pool({
    ...config,
    max: options.poolMax || 10,
    idleTimeoutMillis: 30_000,
    // The pattern above keeps the schema name safe unquoted here
    ...(schema ? { options: `-c search_path=${schema}` } : {}),
  });
  // An idle client losing its connection must not crash the process; the next query reports it
  pool.on('error', () => {});
  const run = async <T extends Row>(client: Pool | PoolClient, sql: string, params?: readonly unknown[]) =>
    (await client.query(sql, params as unknown[] | undefined)).rows as T[];
  let closing: Promise<void> | undefined;
  return {
    kind: 'postgres',
    schema,
    query: (sql, params) => run(pool, sql, params),
    async exec(sql) {
      await pool.query(sql);
    },
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
    close: () => {
      closing ??= pool.end();
      return closing;
    },
  };
}
