import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import pg from 'pg';
import type { TestProject } from 'vitest/node';

declare module 'vitest' {
  interface ProvidedContext {
    /** A PGlite dumpDataDir() tarball: new test databases start from it instead of running initdb. */
    pgliteTemplate: string;
    /** Real Postgres URL, or '' when unreachable (the Postgres variants are skipped). */
    postgresUrl: string;
    /** Prefix of the schemas this run creates on real Postgres (dropped at teardown). */
    schemaPrefix: string;
  }
}

const DEFAULT_URL = 'postgres://postgres@127.0.0.1:5432/test';

function redact(url: string): string {
  return url.replace(/\/\/([^:@/]+):[^@/]*@/, '//$1:***@');
}

/** PGlite's initdb costs seconds of CPU: do it once per PGlite version and cache the result. */
async function pgliteTemplate(): Promise<string> {
  const require = createRequire(import.meta.url);
  const pkgPath = join(dirname(require.resolve('@electric-sql/pglite')), '..', 'package.json');
  const { version } = JSON.parse(readFileSync(pkgPath, 'utf8')) as { version: string };
  const path = join(tmpdir(), `fleet-plugin-runner-pglite-${version}.tar.gz`);
  if (existsSync(path)) return path;
  const { PGlite } = await import('@electric-sql/pglite');
  const db = await PGlite.create();
  const dump = await db.dumpDataDir('gzip');
  await db.close();
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, Buffer.from(await dump.arrayBuffer()));
  renameSync(tmp, path);
  return path;
}

async function probePostgres(url: string): Promise<string | undefined> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 2000 });
  try {
    await client.connect();
    await client.query('SELECT 1');
    return undefined;
  } catch (err) {
    return (err as Error).message || String(err);
  } finally {
    await client.end().catch(() => {});
  }
}

export default async function setup(project: TestProject) {
  const schemaPrefix = `prt_${randomBytes(4).toString('hex')}_`;
  project.provide('schemaPrefix', schemaPrefix);
  project.provide('pgliteTemplate', await pgliteTemplate());

  const url = process.env.DATABASE_URL || DEFAULT_URL;
  const problem = await probePostgres(url);
  if (problem) {
    process.stderr.write(
      `\n[plugin-runner] real Postgres at ${redact(url)} is unreachable (${problem}): the Postgres variants are SKIPPED\n\n`,
    );
    project.provide('postgresUrl', '');
    return;
  }
  project.provide('postgresUrl', url);

  return async function teardown() {
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    try {
      const { rows } = await client.query<{ nspname: string }>(
        'SELECT nspname FROM pg_namespace WHERE starts_with(nspname, $1)',
        [schemaPrefix],
      );
      for (const { nspname } of rows) await client.query(`DROP SCHEMA IF EXISTS "${nspname}" CASCADE`);
    } finally {
      await client.end();
    }
  };
}
