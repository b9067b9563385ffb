/**
 * The trail of flag changes made through the console: in the flag store's database when the store
 * is postgres (a small table created on start), else in memory (bounded).
 */
import {
  acquirePglite,
  type ChassisConfig,
  createPgDriver,
  createPgliteDriver,
  type SqlDriver,
} from '@fleet/chassis';

export interface AuditEntry {
  at: string;
  /** Token subject of the caller. */
  by: string;
  flag: string;
  /** Effective value before the change, basis points (null: the flag did not exist). */
  from: number | null;
  to: number;
}

export interface AuditLog {
  /** 'postgres', 'pglite' or 'memory'. */
  readonly kind: string;
  append(entry: AuditEntry): Promise<void>;
  /** Newest first. */
  recent(limit: number): Promise<AuditEntry[]>;
  close(): Promise<void>;
}

export const MEMORY_AUDIT_LIMIT = 1000;

export class MemoryAuditLog implements AuditLog {
  readonly kind = 'memory';
  readonly #entries: AuditEntry[] = [];

  constructor(readonly limit = MEMORY_AUDIT_LIMIT) {}

  async append(entry: AuditEntry): Promise<void> {
    this.#entries.push(entry);
    if (this.#entries.length > this.limit) this.#entries.splice(0, this.#entries.length - this.limit);
  }

  async recent(limit: number): Promise<AuditEntry[]> {
    return this.#entries.slice(-limit).reverse();
  }

  async close(): Promise<void> {}
}

const TABLE = 'console_flag_audit';

export class SqlAuditLog implements AuditLog {
  readonly kind: string;

  private constructor(readonly driver: SqlDriver) {
    this.kind = driver.kind;
  }

  static async open(driver: SqlDriver): Promise<SqlAuditLog> {
    await driver.exec(
      `CREATE TABLE IF NOT EXISTS ${TABLE} (
         id BIGSERIAL PRIMARY KEY,
         at TIMESTAMPTZ NOT NULL DEFAULT now(),
         actor TEXT NOT NULL,
         flag TEXT NOT NULL,
         from_value INTEGER,
         to_value INTEGER NOT NULL
       );
       CREATE INDEX IF NOT EXISTS ${TABLE}_at ON ${TABLE} (at DESC);`,
    );
    return new SqlAuditLog(driver);
  }

  async append(entry: AuditEntry): Promise<void> {
    await this.driver.query(
      `INSERT INTO ${TABLE} (at, actor, flag, from_value, to_value) VALUES ($1, $2, $3, $4, $5)`,
      [entry.at, entry.by, entry.flag, entry.from, entry.to],
    );
  }

  async recent(limit: number): Promise<AuditEntry[]> {
    const rows = await this.driver.query(
      `SELECT at, actor, flag, from_value, to_value FROM ${TABLE} ORDER BY at DESC, id DESC LIMIT $1`,
      [limit],
    );
    return rows.map((r) => ({
      at: new Date(r.at as string | Date).toISOString(),
      by: String(r.actor),
      flag: String(r.flag),
      from: r.from_value === null ? null : Number(r.from_value),
      to: Number(r.to_value),
    }));
  }

  async close(): Promise<void> {
    await this.driver.close();
  }
}

/** The audit log that goes with the configured flag store. */
export async function openAuditLog(flags: ChassisConfig['flags']): Promise<AuditLog> {
  if (flags.store !== 'postgres') return new MemoryAuditLog();
  if (flags.databaseUrl)
    return SqlAuditLog.open(
      await createPgDriver(flags.databaseUrl, { applicationName: 'fleet-console audit' }),
    );
  // The embedded database is shared, per directory, with the flag store of this process.
  const { db, release } = await acquirePglite(flags.pgliteDir);
  return SqlAuditLog.open(createPgliteDriver(db, release));
}
