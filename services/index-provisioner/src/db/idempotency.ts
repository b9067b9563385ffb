import type { IdempotencyRecord, IdempotencyStore, StoredResponse } from '@fleet/chassis';
import type { Db } from '@fleet/chassis/db';

/**
 * Idempotency-Key records in the service's database, so a retry reaching another replica (or the
 * same one after a restart) still gets the first response.
 */
export class DbIdempotencyStore implements IdempotencyStore {
  #db: Db | undefined;

  /** The store exists before the database is open (the chassis wants it at creation). */
  attach(db: Db): void {
    this.#db = db;
  }

  get #conn(): Db {
    if (!this.#db) throw new Error('idempotency store used before the database was opened');
    return this.#db;
  }

  async begin(key: string, fingerprint: string, ttlMs: number): Promise<IdempotencyRecord | undefined> {
    const db = this.#conn;
    // An expired record is as good as none
    await db.query('DELETE FROM idempotency_keys WHERE key = $1 AND expires_at <= now()', [key]);
    const inserted = await db.query(
      `INSERT INTO idempotency_keys (key, fingerprint, state, expires_at)
       VALUES ($1, $2, 'in-progress', now() + ($3::bigint * interval '1 millisecond'))
       ON CONFLICT (key) DO NOTHING RETURNING key`,
      [key, fingerprint, ttlMs],
    );
    if (inserted.length > 0) return undefined;
    const rows = await db.query<{ fingerprint: string; state: 'in-progress' | 'done'; response: unknown }>(
      'SELECT fingerprint, state, response FROM idempotency_keys WHERE key = $1',
      [key],
    );
    const row = rows[0];
    if (!row) return this.begin(key, fingerprint, ttlMs);
    const response = typeof row.response === 'string' ? JSON.parse(row.response) : row.response;
    return {
      fingerprint: row.fingerprint,
      state: row.state,
      ...(response ? { response: response as StoredResponse } : {}),
    };
  }

  async complete(key: string, response: StoredResponse, ttlMs: number): Promise<void> {
    await this.#conn.query(
      `UPDATE idempotency_keys SET state = 'done', response = $2,
         expires_at = now() + ($3::bigint * interval '1 millisecond')
       WHERE key = $1`,
      [key, JSON.stringify(response), ttlMs],
    );
    // Opportunistic sweep of expired keys
    if (Math.random() < 0.01)
      await this.#conn.query('DELETE FROM idempotency_keys WHERE expires_at <= now()');
  }

  async abandon(key: string): Promise<void> {
    await this.#conn.query('DELETE FROM idempotency_keys WHERE key = $1', [key]);
  }
}
