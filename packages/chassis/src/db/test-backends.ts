import { randomBytes } from 'node:crypto';
import { afterAll } from 'vitest';
import { prepareTestDatabases } from '../testing/db.js';
import { openDb } from './open.js';
import type { Db, DbOptions } from './types.js';

/** The databases the db tests run on: PGlite always, the real PostgreSQL when it answers. */
export const databases = await prepareTestDatabases({ label: 'chassis db', schemaTag: 'chdb' });
afterAll(() => databases.teardown());

export type Backend = 'pglite' | 'postgres';

export const backends: Backend[] = databases.postgresUrl ? ['pglite', 'postgres'] : ['pglite'];

/** A new, empty database: a fresh PGlite in memory, or a new schema on PostgreSQL. */
export function freshDbOptions(backend: Backend, extra: DbOptions = {}): DbOptions {
  return backend === 'postgres'
    ? {
        url: databases.postgresUrl,
        schema: `${databases.schemaPrefix}${randomBytes(4).toString('hex')}`,
        ...extra,
      }
    : { pgliteTemplate: databases.pgliteTemplate, ...extra };
}

export function openFreshDb(backend: Backend, extra: DbOptions = {}): Promise<Db> {
  return openDb(freshDbOptions(backend, extra));
}
