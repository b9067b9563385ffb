import { openPgliteDb } from './pglite.js';
import { openPostgresDb } from './postgres.js';
import type { Db, DbOptions } from './types.js';

/**
 * Open the database `options` describe: PostgreSQL at `url`, or embedded PGlite without one. Each
 * driver is imported on first use. Close it with `db.close()`.
 */
export async function openDb(options: DbOptions = {}): Promise<Db> {
  return options.url ? openPostgresDb({ ...options, url: options.url }) : openPgliteDb(options);
}
