// @fleet/chassis/db: one database concern for services and the flags store (see README "Database")
export {
  CHECK_VIOLATION,
  DEADLOCK_DETECTED,
  FOREIGN_KEY_VIOLATION,
  SERIALIZATION_FAILURE,
  sqlState,
  UNDEFINED_TABLE,
  UNIQUE_VIOLATION,
} from './errors.js';
export { type MigrateOptions, type Migration, migrate } from './migrations.js';
export { assertSchemaName, quoteIdent, SCHEMA_PATTERN } from './names.js';
export { openDb } from './open.js';
export { type CreatePgliteOptions, createPglite, openPgliteDb } from './pglite.js';
export { cachedPgliteTemplate, pgliteTemplatePath } from './pglite-template.js';
export { loadPg, openPostgresDb, pgClientConfig } from './postgres.js';
export type { Connection, Db, DbOptions, Queryable, Row } from './types.js';
