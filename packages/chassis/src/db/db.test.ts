import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sqlState, UNIQUE_VIOLATION } from './errors.js';
import { openDb } from './open.js';
import { backends, databases, freshDbOptions, openFreshDb } from './test-backends.js';
import type { Db } from './types.js';

describe.each(backends)('Db on %s', (backend) => {
  let db: Db;
  beforeAll(async () => {
    db = await openFreshDb(backend, { applicationName: 'fleet-chassis-db-test' });
    await db.exec(`
      CREATE TABLE items (id integer PRIMARY KEY, body jsonb NOT NULL, at timestamptz NOT NULL DEFAULT now());
      CREATE TABLE counters (name text PRIMARY KEY, n integer NOT NULL);`);
  });
  afterAll(() => db?.close());

  it('sends parameterised queries and parses the rows', async () => {
    await db.query('INSERT INTO items (id, body) VALUES ($1, $2), ($3, $4)', [
      1,
      { a: [1, 2] },
      2,
      { b: 'x' },
    ]);
    const rows = await db.query<{ id: number; body: unknown; at: Date }>('SELECT * FROM items ORDER BY id');
    expect(rows.map((r) => [r.id, r.body])).toEqual([
      [1, { a: [1, 2] }],
      [2, { b: 'x' }],
    ]);
    expect(rows[0]!.at).toBeInstanceOf(Date);
    expect(await db.query('SELECT $1::text AS t', ["it's"])).toEqual([{ t: "it's" }]);
  });

  it('uses its own schema on every connection', async () => {
    const [row] = await db.query<{ schema: string }>('SELECT current_schema() AS schema');
    expect(row?.schema).toBe(db.schema || 'public');
    expect(db.kind).toBe(backend);
    const [table] = await db.query<{ schema: string }>(
      "SELECT table_schema AS schema FROM information_schema.tables WHERE table_name = 'items'",
    );
    expect(table?.schema).toBe(db.schema || 'public');
  });

  it('commits a transaction and returns its result', async () => {
    const result = await db.transaction(async (tx) => {
      await tx.query("INSERT INTO counters VALUES ('tx', 1)");
      await tx.query("UPDATE counters SET n = n + 1 WHERE name = 'tx'");
      return (await tx.query<{ n: number }>("SELECT n FROM counters WHERE name = 'tx'"))[0]?.n;
    });
    expect(result).toBe(2);
    expect(await db.query("SELECT n FROM counters WHERE name = 'tx'")).toEqual([{ n: 2 }]);
  });

  it('rolls a transaction back when its function throws, and rethrows', async () => {
    await expect(
      db.transaction(async (tx) => {
        await tx.query("INSERT INTO counters VALUES ('rolled', 1)");
        throw new Error('boom');
      }),
    ).rejects.toThrow('boom');
    expect(await db.query("SELECT * FROM counters WHERE name = 'rolled'")).toEqual([]);
  });

  it('rolls back on a failed statement, with its SQLSTATE, and stays usable', async () => {
    let error: unknown;
    try {
      await db.transaction(async (tx) => {
        await tx.query("INSERT INTO counters VALUES ('dup', 1)");
        await tx.query("INSERT INTO counters VALUES ('dup', 2)");
      });
    } catch (err) {
      error = err;
    }
    expect(sqlState(error)).toBe(UNIQUE_VIOLATION);
    expect(await db.query("SELECT * FROM counters WHERE name = 'dup'")).toEqual([]);
    expect(await db.query('SELECT 1 AS one')).toEqual([{ one: 1 }]);
  });

  it('keeps queries from other callers out of a transaction in progress', async () => {
    let release!: () => void;
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    const tx = db.transaction(async (t) => {
      await t.query("INSERT INTO counters VALUES ('isolated', 1)");
      await held;
      throw new Error('undo');
    });
    // Runs meanwhile: on PGlite it waits for the transaction; on PostgreSQL it runs on another connection
    const outside = db.query("INSERT INTO counters VALUES ('outside', 1)");
    setTimeout(release, 20);
    await expect(tx).rejects.toThrow('undo');
    await outside;
    const rows = await db.query<{ name: string }>(
      "SELECT name FROM counters WHERE name IN ('isolated', 'outside') ORDER BY name",
    );
    expect(rows.map((r) => r.name)).toEqual(['outside']);
  });

  it('runs session state on one connection (withConnection)', async () => {
    const seen = await db.withConnection(async (conn) => {
      await conn.exec("SET application_name = 'fleet-session-test'; SELECT 1;");
      return (
        await conn.query<{ name: string }>('SELECT current_setting($1) AS name', ['application_name'])
      )[0]?.name;
    });
    expect(seen).toBe('fleet-session-test');
  });

  it('rejects a schema name that is not a plain identifier, before connecting', async () => {
    await expect(openDb(freshDbOptions(backend, { schema: 'bad"; DROP' }))).rejects.toThrow(
      /database schema 'bad"; DROP' must match/,
    );
  });

  it('closes idempotently; queries after close fail', async () => {
    const other = await openFreshDb(backend);
    await Promise.all([other.close(), other.close()]);
    await other.close();
    await expect(other.query('SELECT 1')).rejects.toThrow();
  });
});

describe.skipIf(!databases.postgresUrl)('Db on PostgreSQL: connections', () => {
  it('creates one schema when replicas open it at once, with the application name set', async () => {
    const options = freshDbOptions('postgres', { applicationName: 'fleet-replica-test', poolMax: 2 });
    const replicas = await Promise.all([openDb(options), openDb(options), openDb(options)]);
    try {
      await replicas[0]!.exec('CREATE TABLE shared (x int)');
      await replicas[1]!.query('INSERT INTO shared VALUES (1)');
      expect(await replicas[2]!.query('SELECT x FROM shared')).toEqual([{ x: 1 }]);
      const [row] = await replicas[0]!.query<{ name: string }>(
        "SELECT current_setting('application_name') AS name",
      );
      expect(row?.name).toBe('fleet-replica-test');
    } finally {
      await Promise.all(replicas.map((r) => r.close()));
    }
  });

  it('fails fast with a clear error when the server does not answer', async () => {
    const started = Date.now();
    // A port nothing listens on: refused at once
    await expect(openDb({ url: 'postgres://postgres@127.0.0.1:1/none', schema: 'x' })).rejects.toThrow(
      /ECONNREFUSED/,
    );
    expect(Date.now() - started).toBeLessThan(5000);
  });
});

describe('Db on PGlite: data directory', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'fleet-db-test-'));
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it('starts a new directory from the template and keeps its data across reopenings', async () => {
    const dataDir = join(dir, 'data');
    const first = await openDb({ dataDir, pgliteTemplate: databases.pgliteTemplate, schema: 'app' });
    await first.exec("CREATE TABLE kept (v text); INSERT INTO kept VALUES ('still here');");
    await first.close();
    // The template applies to an empty directory only: this one already holds a database
    const again = await openDb({ dataDir, pgliteTemplate: databases.pgliteTemplate, schema: 'app' });
    expect(await again.query('SELECT v FROM kept')).toEqual([{ v: 'still here' }]);
    await again.close();
  });

  it('runs initdb when the template is unusable', async () => {
    const broken = join(dir, 'broken.tar');
    await import('node:fs/promises').then((fs) => fs.writeFile(broken, 'not a tarball'));
    // (a missing one is simply not read)
    const db = await openDb({ pgliteTemplate: broken });
    expect(await db.query('SELECT 1 AS one')).toEqual([{ one: 1 }]);
    await db.close();
  }, 60_000);
});
