import { describe, expect, it } from 'vitest';
import { openDb } from '../db/open.js';
import {
  dropSchema,
  dropSchemas,
  prepareTestDatabases,
  probePostgres,
  redactDatabaseUrl,
  testDatabaseUrl,
} from './db.js';

const realProblem = await probePostgres(testDatabaseUrl());

describe('test databases', () => {
  it('skips PostgreSQL with a clear message when it does not answer, and still gives a PGlite template', async () => {
    const warnings: string[] = [];
    const started = Date.now();
    const databases = await prepareTestDatabases({
      label: 'my-service',
      url: 'postgres://me:secret@127.0.0.1:1/nowhere',
      warn: (message) => warnings.push(message),
    });
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(databases.postgresUrl).toBe('');
    expect(databases.schemaPrefix).toMatch(/^fleet_[0-9a-f]{8}_$/);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(
      /^\[my-service\] real PostgreSQL at postgres:\/\/me:\*\*\*@127\.0\.0\.1:1\/nowhere is unreachable \(.*ECONNREFUSED.*\): the PostgreSQL variants are SKIPPED/,
    );
    expect(warnings[0]).not.toContain('secret');
    await databases.teardown();
    const db = await openDb({ pgliteTemplate: databases.pgliteTemplate });
    expect(await db.query("SELECT current_setting('server_version_num')::int > 0 AS ok")).toEqual([
      { ok: true },
    ]);
    await db.close();
  });

  it('redacts only the password of a URL', () => {
    expect(redactDatabaseUrl('postgres://u:p%40ss@h:5432/d')).toBe('postgres://u:***@h:5432/d');
    expect(redactDatabaseUrl('postgres://u@h/d')).toBe('postgres://u@h/d');
  });

  it.skipIf(Boolean(realProblem))('finds the real PostgreSQL and drops the schemas of its run', async () => {
    const databases = await prepareTestDatabases({ label: 'chassis', schemaTag: 'tdb' });
    expect(databases.postgresUrl).toBe(testDatabaseUrl());
    const names = [`${databases.schemaPrefix}a`, `${databases.schemaPrefix}b`, `${databases.schemaPrefix}c`];
    for (const schema of names) {
      const db = await openDb({ url: databases.postgresUrl, schema });
      await db.exec('CREATE TABLE t (x int)');
      await db.close();
    }
    await dropSchema(databases.postgresUrl, names[2]!);
    expect((await dropSchemas(databases.postgresUrl, databases.schemaPrefix)).sort()).toEqual(
      names.slice(0, 2),
    );
    await databases.teardown();
    expect(await dropSchemas(databases.postgresUrl, databases.schemaPrefix)).toEqual([]);
    await expect(dropSchemas(databases.postgresUrl, "x'; --")).rejects.toThrow(/plain identifier/);
  });
});
