import { existsSync, readdirSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import type { PGlite } from '@electric-sql/pglite';
import { assertSchemaName, quoteIdent } from './names.js';
import type { Db, DbOptions, Row } from './types.js';

export interface CreatePgliteOptions {
  /** Data directory (empty: in memory). */
  dataDir?: string;
  /** A `dumpDataDir()` tarball a new database starts from (ignored for an existing directory). */
  template?: string;
}

/**
 * A raw embedded PGlite, loaded on first use. initdb is most of PGlite's start-up time (seconds of
 * CPU): a new database starts from `template` when it is readable and usable, else from scratch.
 */
export async function createPglite(options: CreatePgliteOptions = {}): Promise<PGlite> {
  const { PGlite } = await import('@electric-sql/pglite');
  const dataDir = options.dataDir || undefined;
  const fresh = !dataDir || !existsSync(dataDir) || readdirSync(dataDir).length === 0;
  const template =
    fresh && options.template ? await readFile(options.template).catch(() => undefined) : undefined;
  if (template) {
    try {
      return await PGlite.create({ ...(dataDir ? { dataDir } : {}), loadDataDir: new Blob([template]) });
    } catch {
      // An unusable template (truncated, another PGlite build): initdb instead
    }
  }
  return PGlite.create(dataDir ? { dataDir } : {});
}

/** An embedded PGlite database (one session, so no pool and no real concurrency). */
export async function openPgliteDb(options: DbOptions = {}): Promise<Db> {
  const schema = options.schema ?? '';
  assertSchemaName(schema);
  const db = await createPglite({
    ...(options.dataDir ? { dataDir: options.dataDir } : {}),
    ...(options.pgliteTemplate ? { template: options.pgliteTemplate } : {}),
  });
  if (schema) {
    await db.exec(`CREATE SCHEMA IF NOT EXISTS ${quoteIdent(schema)}`);
    await db.exec(`SET search_path TO ${quoteIdent(schema)}`);
  }
  const query = async <T extends Row>(sql: string, params?: readonly unknown[]) =>
    (await db.query<T>(sql, params as unknown[] | undefined)).rows;
  const exec = async (sql: string) => {
    await db.exec(sql);
  };
  let closing: Promise<void> | undefined;
  return {
    kind: 'pglite',
    schema,
    query,
    exec,
    // PGlite's transaction holds its own lock: other queries wait instead of joining the transaction
    transaction: (fn) =>
      db.transaction((tx) =>
        fn({
          query: async <T extends Row>(sql: string, params?: readonly unknown[]) =>
            (await tx.query<T>(sql, params as unknown[] | undefined)).rows,
        }),
      ),
    // One session: every query already runs on it
    withConnection: (fn) => fn({ query, exec }),
    close: () => {
      closing ??= db.closed ? Promise.resolve() : db.close();
      return closing;
    },
  };
}
