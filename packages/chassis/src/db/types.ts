/** A result row: column name → value (pg and PGlite parse types the same way for common types). */
export type Row = Record<string, unknown>;

/** Something SQL can be sent to: the database, one connection, or a transaction. */
export interface Queryable {
  /** One statement with `$1`-style parameters; resolves to its rows. */
  query<T extends Row = Row>(sql: string, params?: readonly unknown[]): Promise<T[]>;
}

/** Also runs multi-statement scripts (simple query protocol, no parameters): migrations, DDL. */
export interface Connection extends Queryable {
  exec(sql: string): Promise<void>;
}

/**
 * A service's database: real PostgreSQL (a `pg` pool) or embedded PGlite, behind one interface.
 * Opened by `openDb`, closed by `close()` (idempotent).
 */
export interface Db extends Connection {
  readonly kind: 'postgres' | 'pglite';
  /** The schema every connection uses (its search_path), or '' for the server default. */
  readonly schema: string;
  /** Run `fn` in a transaction: BEGIN, then COMMIT, or ROLLBACK (and rethrow) when `fn` throws. */
  transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T>;
  /**
   * Run `fn` on one dedicated connection, for session state such as advisory locks. PGlite is a
   * single session: there `fn` shares it with every other caller.
   */
  withConnection<T>(fn: (conn: Connection) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

export interface DbOptions {
  /** PostgreSQL URL; empty or absent: embedded PGlite. */
  url?: string;
  /** Schema for every connection's search_path, created if missing (empty: the server default). */
  schema?: string;
  /** PGlite data directory (empty: in memory, lost on close). */
  dataDir?: string;
  /** A PGlite `dumpDataDir()` tarball that a new PGlite database starts from, skipping initdb. */
  pgliteTemplate?: string;
  /** PostgreSQL pool size (default 10). */
  poolMax?: number;
  /** `application_name` of the PostgreSQL connections, shown in pg_stat_activity (default 'fleet'). */
  applicationName?: string;
  /** PostgreSQL connect timeout, ms (default 5000). */
  connectTimeoutMs?: number;
  /** PostgreSQL client-side query timeout, ms (default none). */
  queryTimeoutMs?: number;
}
