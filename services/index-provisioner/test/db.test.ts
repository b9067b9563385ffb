import { randomBytes, randomUUID } from 'node:crypto';
import { type Db, openDb, sqlState, UNIQUE_VIOLATION } from '@fleet/chassis/db';
import { dropSchema } from '@fleet/chassis/testing';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { DbIdempotencyStore } from '../src/db/idempotency.js';
import { MIGRATIONS, migrateDatabase } from '../src/db/migrations.js';
import { getDeployment, insertDeployment, runningDeployment, updateDeployment } from '../src/store.js';
import { backends } from './helpers.js';

describe.each(backends())('database (%s)', (backend) => {
  let db: Db;
  const schema = `${inject('schemaPrefix')}${randomBytes(4).toString('hex')}`;
  const options =
    backend === 'postgres'
      ? { url: inject('postgresUrl'), schema }
      : { url: '', pgliteTemplate: inject('pgliteTemplate') };

  beforeAll(async () => {
    db = await openDb(options);
  });
  afterAll(async () => {
    await db?.close();
    if (backend === 'postgres') await dropSchema(inject('postgresUrl'), schema);
  });

  it('applies migrations once, in order, even when started concurrently', async () => {
    const others = backend === 'postgres' ? await Promise.all([openDb(options), openDb(options)]) : [];
    try {
      const results = await Promise.all([db, ...others].map((d) => migrateDatabase(d)));
      // Exactly one of the concurrent runs applied everything
      expect(results.filter((r) => r.length > 0)).toEqual([MIGRATIONS.map((m) => m.version)]);
      expect(await migrateDatabase(db)).toEqual([]);
      const rows = await db.query<{ version: number; name: string }>(
        'SELECT version, name FROM schema_migrations ORDER BY version',
      );
      expect(rows.map((r) => [Number(r.version), r.name])).toEqual(
        MIGRATIONS.map((m) => [m.version, m.name]),
      );
    } finally {
      await Promise.all(others.map((d) => d.close()));
    }
  });

  it('rolls a failed migration back and reports it', async () => {
    const broken = [
      ...MIGRATIONS,
      { version: 999, name: 'broken', sql: 'CREATE TABLE half_done (x int); SELECT nope;' },
    ];
    await expect(migrateDatabase(db, broken)).rejects.toThrow(/migration 999 \(broken\) failed/);
    const tables = await db.query("SELECT 1 FROM information_schema.tables WHERE table_name = 'half_done'");
    expect(tables).toEqual([]);
  });

  it('rolls back a transaction that throws', async () => {
    await expect(
      db.transaction(async (tx) => {
        await tx.query(
          `INSERT INTO indexes (name, datatype, frozen_time_period_secs, max_total_data_size_mb, owner, cluster, created_by)
           VALUES ('tx_test', 'event', 1, 1, 'o', 'c', 'me')`,
        );
        throw new Error('boom');
      }),
    ).rejects.toThrow('boom');
    expect(await db.query("SELECT * FROM indexes WHERE name = 'tx_test'")).toEqual([]);
  });

  it('holds one running deployment per cluster, and frees a stale lock', async () => {
    const base = { cluster: 'c1', requestedBy: 'me', requestId: null, target: 't', files: [], steps: [] };
    const first = await insertDeployment(db, { ...base, id: randomUUID() }, 60_000);
    let error: unknown;
    try {
      await insertDeployment(db, { ...base, id: randomUUID() }, 60_000);
    } catch (err) {
      error = err;
    }
    expect(sqlState(error)).toBe(UNIQUE_VIOLATION);
    // Another cluster is independent
    await insertDeployment(db, { ...base, cluster: 'c2', id: randomUUID() }, 60_000);
    // A running deployment without progress for longer than staleAfterMs is abandoned
    await db.query("UPDATE deployments SET updated_at = now() - interval '1 hour' WHERE id = $1", [first.id]);
    const second = await insertDeployment(db, { ...base, id: randomUUID() }, 60_000);
    expect((await runningDeployment(db, 'c1'))?.id).toBe(second.id);
    expect(await getDeployment(db, first.id)).toMatchObject({
      status: 'failed',
      error: expect.stringContaining('abandoned'),
    });
    await updateDeployment(db, second.id, { steps: [], status: 'succeeded' });
    expect((await getDeployment(db, second.id))?.finishedAt).not.toBeNull();
    expect(await runningDeployment(db, 'c1')).toBeUndefined();
  });

  it('stores Idempotency-Key records', async () => {
    const store = new DbIdempotencyStore();
    store.attach(db);
    expect(await store.begin('k1', 'fp', 60_000)).toBeUndefined();
    expect(await store.begin('k1', 'fp', 60_000)).toEqual({ fingerprint: 'fp', state: 'in-progress' });
    const response = { statusCode: 201, headers: { 'content-type': 'application/json' }, body: '{"a":1}' };
    await store.complete('k1', response, 60_000);
    expect(await store.begin('k1', 'fp', 60_000)).toEqual({ fingerprint: 'fp', state: 'done', response });
    await store.abandon('k1');
    expect(await store.begin('k1', 'fp2', 60_000)).toBeUndefined();
    // An expired record is replaced
    await db.query("UPDATE idempotency_keys SET expires_at = now() - interval '1 second' WHERE key = 'k1'");
    expect(await store.begin('k1', 'fp3', 60_000)).toBeUndefined();
    // Concurrent begins: exactly one wins
    const results = await Promise.all(Array.from({ length: 5 }, () => store.begin('k2', 'fp', 60_000)));
    expect(results.filter((r) => r === undefined)).toHaveLength(1);
  });
});
