import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Migration, migrate } from './migrations.js';
import { openDb } from './open.js';
import { backends, databases, freshDbOptions, openFreshDb } from './test-backends.js';
import type { Db } from './types.js';

// Not idempotent on purpose: applied twice, the CREATE TABLE fails
const MIGRATIONS: Migration[] = [
  { version: 1, name: 'notes', sql: 'CREATE TABLE notes (id integer PRIMARY KEY, body text NOT NULL);' },
  {
    version: 2,
    name: 'tags',
    sql: "ALTER TABLE notes ADD COLUMN tags text[] NOT NULL DEFAULT '{}'; INSERT INTO notes VALUES (1, 'seed');",
  },
];
const TABLE = 'test_migrations';

async function bookkeeping(db: Db, table = TABLE) {
  const rows = await db.query<{ version: number; name: string; applied_at: Date }>(
    `SELECT version, name, applied_at FROM ${table} ORDER BY version`,
  );
  for (const row of rows) expect(row.applied_at).toBeInstanceOf(Date);
  return rows.map((r) => [r.version, r.name]);
}

describe.each(backends)('migrate on %s', (backend) => {
  let db: Db;
  beforeAll(async () => {
    db = await openFreshDb(backend);
  });
  afterAll(() => db?.close());

  it('applies each migration once, in order, when two runners start at once', async () => {
    // PostgreSQL: two pools (two replicas) meet at the advisory lock; PGlite: one session, two callers
    const other =
      backend === 'postgres' ? await openDb({ ...freshDbOptions(backend), schema: db.schema }) : db;
    try {
      const results = await Promise.all([
        migrate(db, [...MIGRATIONS].reverse(), { table: TABLE }),
        migrate(other, MIGRATIONS, { table: TABLE }),
      ]);
      expect(results.filter((r) => r.length > 0)).toEqual([[1, 2]]);
      expect(results.flat()).toEqual([1, 2]);
    } finally {
      if (other !== db) await other.close();
    }
    expect(await bookkeeping(db)).toEqual([
      [1, 'notes'],
      [2, 'tags'],
    ]);
    expect(await db.query('SELECT id, body, tags FROM notes')).toEqual([{ id: 1, body: 'seed', tags: [] }]);
    expect(await migrate(db, MIGRATIONS, { table: TABLE })).toEqual([]);
  });

  it('applies only what was appended since', async () => {
    const next = [
      ...MIGRATIONS,
      { version: 3, name: 'index', sql: 'CREATE INDEX notes_body ON notes (body);' },
    ];
    expect(await migrate(db, next, { table: TABLE })).toEqual([3]);
    expect((await bookkeeping(db)).map(([v]) => v)).toEqual([1, 2, 3]);
  });

  it('rolls a failed migration back whole and names it; the next run retries it', async () => {
    const broken = [
      ...MIGRATIONS,
      { version: 10, name: 'half', sql: 'CREATE TABLE half_done (x int); SELECT no_such_column FROM notes;' },
    ];
    await expect(migrate(db, broken, { table: TABLE })).rejects.toThrow(
      /^migration 10 \(half\) failed: column "no_such_column" does not exist/,
    );
    expect(await db.query("SELECT 1 FROM information_schema.tables WHERE table_name = 'half_done'")).toEqual(
      [],
    );
    expect((await bookkeeping(db)).map(([v]) => v)).toEqual([1, 2, 3]);
    const fixed = [
      ...broken.slice(0, -1),
      { version: 10, name: 'half', sql: 'CREATE TABLE half_done (x int);' },
    ];
    expect(await migrate(db, fixed, { table: TABLE })).toEqual([10]);
  });

  it('keeps separate bookkeeping per table', async () => {
    const other: Migration[] = [{ version: 1, name: 'other', sql: 'CREATE TABLE other_thing (x int);' }];
    expect(await migrate(db, other, { table: 'other_migrations' })).toEqual([1]);
    expect(await bookkeeping(db, 'other_migrations')).toEqual([[1, 'other']]);
  });

  it('refuses duplicate or invalid versions and odd table names before touching the database', async () => {
    await expect(
      migrate(db, [MIGRATIONS[0]!, { ...MIGRATIONS[1]!, version: 1 }], { table: 'fresh_t' }),
    ).rejects.toThrow('migration version 1 is not unique');
    await expect(migrate(db, [{ version: 0, name: 'zero', sql: '' }], { table: 'fresh_t' })).rejects.toThrow(
      /version must be a positive integer/,
    );
    await expect(migrate(db, MIGRATIONS, { table: 'x; DROP TABLE notes' })).rejects.toThrow(/must match/);
    expect(await db.query("SELECT 1 FROM information_schema.tables WHERE table_name = 'fresh_t'")).toEqual(
      [],
    );
  });
});

describe.skipIf(!databases.postgresUrl)('migrate on PostgreSQL: schemas', () => {
  it('migrates two schemas of one server independently, at the same time', async () => {
    const [a, b] = await Promise.all([openFreshDb('postgres'), openFreshDb('postgres')]);
    try {
      const results = await Promise.all([a, b].map((db) => migrate(db, MIGRATIONS, { table: TABLE })));
      expect(results).toEqual([
        [1, 2],
        [1, 2],
      ]);
      for (const db of [a, b]) expect(await bookkeeping(db)).toHaveLength(2);
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  });

  it('holds no advisory lock once done, even after a failure', async () => {
    const db = await openFreshDb('postgres', { applicationName: 'fleet-lock-test' });
    try {
      await migrate(db, MIGRATIONS, { table: TABLE });
      await expect(
        migrate(db, [{ version: 9, name: 'bad', sql: 'SELECT nope' }], { table: TABLE }),
      ).rejects.toThrow();
      const locks = await db.query(
        `SELECT 1 FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
         WHERE l.locktype = 'advisory' AND a.application_name = 'fleet-lock-test'`,
      );
      expect(locks).toEqual([]);
    } finally {
      await db.close();
    }
  });
});
