import type { Db } from './types.js';

/** One schema change. Append only: never edit a migration that has shipped; add a new one. */
export interface Migration {
  /** Positive integer, unique; migrations apply in ascending order. */
  version: number;
  name: string;
  /** One or more statements, run in one transaction with the bookkeeping row. */
  sql: string;
}

export interface MigrateOptions {
  /** Bookkeeping table (version, name, applied_at) in the db's schema, e.g. 'myservice_migrations'. */
  table: string;
  /**
   * Name of the advisory lock that serialises concurrent runners (default `fleet-migrations/<table>/`).
   * The lock is keyed by this name plus the current schema, so schemas migrate independently.
   */
  lockName?: string;
}

const TABLE_NAME = /^[a-z_][a-z0-9_]{0,62}$/;

/** Runs in progress per database and table: an in-process caller waits for the one before it. */
const inProcess = new WeakMap<Db, Map<string, Promise<unknown>>>();

function checked(migrations: readonly Migration[]): Migration[] {
  const sorted = [...migrations].sort((a, b) => a.version - b.version);
  sorted.forEach((m, i) => {
    if (!Number.isSafeInteger(m.version) || m.version < 1)
      throw new Error(`migration '${m.name}': version must be a positive integer, got ${m.version}`);
    if (i > 0 && sorted[i - 1]!.version === m.version)
      throw new Error(`migration version ${m.version} is not unique`);
  });
  return sorted;
}

/**
 * Apply the pending `migrations`, each once, in order, each in its own transaction together with its
 * row in the bookkeeping table; resolves to the versions applied by this call. Replicas starting
 * together serialise on a session advisory lock (on PostgreSQL) and on a per-db queue (in process,
 * which is all there is on PGlite's single session): the first applies, the others then find nothing
 * to do. A migration that fails is rolled back and reported with its version and name.
 */
export function migrate(
  db: Db,
  migrations: readonly Migration[],
  options: MigrateOptions,
): Promise<number[]> {
  if (!TABLE_NAME.test(options.table))
    return Promise.reject(new Error(`migrations table '${options.table}' must match ${TABLE_NAME}`));
  let sorted: Migration[];
  try {
    sorted = checked(migrations);
  } catch (err) {
    return Promise.reject(err);
  }
  const queues = inProcess.get(db) ?? new Map<string, Promise<unknown>>();
  inProcess.set(db, queues);
  const before = queues.get(options.table) ?? Promise.resolve();
  const run = before.catch(() => {}).then(() => apply(db, sorted, options));
  queues.set(options.table, run);
  const forget = () => {
    if (queues.get(options.table) === run) queues.delete(options.table);
  };
  run.then(forget, forget);
  return run;
}

async function apply(db: Db, migrations: Migration[], options: MigrateOptions): Promise<number[]> {
  const { table } = options;
  const lockName = options.lockName ?? `fleet-migrations/${table}/`;
  return db.withConnection(async (conn) => {
    const key = 'hashtext($1 || current_schema())';
    await conn.query(`SELECT pg_advisory_lock(${key})`, [lockName]);
    try {
      await conn.query(`CREATE TABLE IF NOT EXISTS ${table} (
        version integer PRIMARY KEY,
        name text NOT NULL,
        applied_at timestamptz NOT NULL DEFAULT now()
      )`);
      const rows = await conn.query<{ version: number }>(`SELECT version FROM ${table}`);
      const applied = new Set(rows.map((r) => Number(r.version)));
      const done: number[] = [];
      for (const migration of migrations) {
        if (applied.has(migration.version)) continue;
        await conn.query('BEGIN');
        try {
          await conn.exec(migration.sql);
          await conn.query(`INSERT INTO ${table} (version, name) VALUES ($1, $2)`, [
            migration.version,
            migration.name,
          ]);
          await conn.query('COMMIT');
        } catch (err) {
          await conn.query('ROLLBACK').catch(() => {});
          throw new Error(
            `migration ${migration.version} (${migration.name}) failed: ${(err as Error).message}`,
            {
              cause: err,
            },
          );
        }
        done.push(migration.version);
      }
      return done;
    } finally {
      await conn.query(`SELECT pg_advisory_unlock(${key})`, [lockName]).catch(() => {});
    }
  });
}
