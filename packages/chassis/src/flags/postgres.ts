import { resolve } from 'node:path';
import type { PGlite } from '@electric-sql/pglite';
import type { Client } from 'pg';
import { createPglite } from '../db/pglite.js';
import { cachedPgliteTemplate } from '../db/pglite-template.js';
import { loadPg, openPostgresDb, pgClientConfig } from '../db/postgres.js';
import type { FlagWrite, StoredFlag } from './model.js';
import type { FlagStore, StoreSink } from './store.js';

/** What the postgres store needs from a database: queries plus one LISTEN session. */
export interface SqlDriver {
  /** 'postgres' (a server through pg) or 'pglite' (embedded). */
  readonly kind: string;
  query(text: string, params?: unknown[]): Promise<Array<Record<string, unknown>>>;
  /** Several statements in one implicit transaction (simple query protocol). */
  exec(text: string): Promise<void>;
  /**
   * Hold a LISTEN session on `channel`, re-established after it drops. `onConnect` runs after every
   * (re)connection, once LISTEN is active; if it throws, the session is dropped and retried.
   */
  listen(channel: string, handlers: ListenHandlers): void;
  close(): Promise<void>;
}

export interface ListenHandlers {
  onPayload(payload: string): void;
  onConnect(): Promise<void>;
  onLost(error: unknown): void;
}

export interface PgDriverOptions {
  /** Connect and query timeout, ms (default 5000). */
  timeoutMs?: number;
  /** Reconnect backoff bounds, ms (default 100..2000). */
  minRetryMs?: number;
  maxRetryMs?: number;
  applicationName?: string;
}

const IDENTIFIER = /^[a-z_][a-z0-9_]{0,40}$/;

/**
 * A PostgreSQL server: queries on a small chassis `Db` pool (no schema: the table is named by the
 * store), notifications on a dedicated LISTEN connection with the same settings, reconnected here.
 */
export async function createPgDriver(url: string, options: PgDriverOptions = {}): Promise<SqlDriver> {
  const pg = await loadPg();
  const timeoutMs = options.timeoutMs ?? 5000;
  const minRetry = options.minRetryMs ?? 100;
  const maxRetry = options.maxRetryMs ?? 2000;
  const settings = {
    url,
    connectTimeoutMs: timeoutMs,
    queryTimeoutMs: timeoutMs,
    applicationName: options.applicationName ?? 'fleet-flags',
  };
  const connection = pgClientConfig(settings);
  // Idle pool connections that die (server restart, terminated backend) are dropped by the pool;
  // the listener reports the outage.
  const db = await openPostgresDb({ ...settings, poolMax: 3 });
  let closed = false;
  let listener: Client | undefined;
  let retryTimer: NodeJS.Timeout | undefined;
  let delay = minRetry;

  function listen(channel: string, handlers: ListenHandlers): void {
    const connect = async (): Promise<void> => {
      if (closed) return;
      const client: Client = new pg.Client(connection);
      let lost = false;
      const onLost = (error: unknown) => {
        if (lost) return;
        lost = true;
        if (listener === client) listener = undefined;
        client.removeAllListeners('notification');
        client.end().catch(() => {});
        if (closed) return;
        handlers.onLost(error);
        retryTimer = setTimeout(() => void connect(), delay);
        retryTimer.unref();
        delay = Math.min(delay * 2, maxRetry);
      };
      client.on('error', onLost);
      client.on('end', () => onLost(new Error('connection closed')));
      client.on('notification', (message) => {
        if (message.channel === channel && message.payload !== undefined) handlers.onPayload(message.payload);
      });
      try {
        await client.connect();
        await client.query(`LISTEN ${channel}`);
        if (closed) {
          lost = true;
          await client.end().catch(() => {});
          return;
        }
        listener = client;
        await handlers.onConnect();
        delay = minRetry;
      } catch (error) {
        onLost(error);
      }
    };
    void connect();
  }

  return {
    kind: 'postgres',
    query: (text, params) => db.query(text, params),
    exec: (text) => db.exec(text),
    listen,
    async close() {
      closed = true;
      clearTimeout(retryTimer);
      const current = listener;
      listener = undefined;
      await Promise.all([current?.end().catch(() => {}), db.close().catch(() => {})]);
    },
  };
}

/** An embedded PGlite database (one session; notifications are delivered to every listener). */
export function createPgliteDriver(db: PGlite, release: () => Promise<void> = async () => {}): SqlDriver {
  let unlisten: (() => Promise<void>) | undefined;
  return {
    kind: 'pglite',
    async query(text, params) {
      return (await db.query<Record<string, unknown>>(text, params)).rows;
    },
    async exec(text) {
      await db.exec(text);
    },
    listen(channel, handlers) {
      void (async () => {
        try {
          unlisten = await db.listen(channel, (payload) => handlers.onPayload(payload));
          await handlers.onConnect();
        } catch (error) {
          handlers.onLost(error);
        }
      })();
    },
    async close() {
      if (unlisten && !db.closed) await unlisten().catch(() => {});
      await release();
    },
  };
}

interface SharedPglite {
  db: Promise<PGlite>;
  refs: number;
}

const sharedPglite = new Map<string, SharedPglite>();

/** In memory, start from the chassis' cached initdb template (initdb is most of PGlite's start-up). */
async function openPglite(dir: string): Promise<PGlite> {
  if (dir) return createPglite({ dataDir: dir });
  // The cache is an optimisation only: without it, initdb
  const template = await cachedPgliteTemplate().catch(() => undefined);
  return createPglite(template ? { template } : {});
}

/**
 * The process-wide embedded database for a data directory ('' = in memory). Every service of the
 * process that uses the same directory shares one instance (a directory can only be opened once),
 * which is closed when the last one releases it.
 */
export async function acquirePglite(dir = ''): Promise<{ db: PGlite; release: () => Promise<void> }> {
  const key = dir ? resolve(dir) : ':memory:';
  let entry = sharedPglite.get(key);
  if (!entry) {
    const created: SharedPglite = { db: openPglite(dir), refs: 0 };
    created.db.catch(() => {
      if (sharedPglite.get(key) === created) sharedPglite.delete(key);
    });
    sharedPglite.set(key, created);
    entry = created;
  }
  const held = entry;
  held.refs++;
  let db: PGlite;
  try {
    db = await held.db;
  } catch (error) {
    held.refs--;
    throw error;
  }
  let released = false;
  return {
    db,
    release: async () => {
      if (released) return;
      released = true;
      if (--held.refs > 0) return;
      if (sharedPglite.get(key) === held) sharedPglite.delete(key);
      if (!db.closed) await db.close().catch(() => {});
    },
  };
}

export interface PostgresFlagStoreOptions {
  driver: SqlDriver;
  /** Table (and NOTIFY channel) name (default fleet_flags). */
  table?: string;
  /** Full reload interval, ms: a consistency backstop besides LISTEN/NOTIFY (default 5000). */
  reloadIntervalMs?: number;
}

/** Marks a table whose schema (columns, triggers) is current: later starts skip the DDL. */
const SCHEMA_MARKER = 'fleet-flags schema v1';

function schemaSql(table: string): string {
  const seq = `${table}_version_seq`;
  return `
SELECT pg_advisory_xact_lock(hashtext('fleet-flags:${table}'));
CREATE SEQUENCE IF NOT EXISTS ${seq};
CREATE TABLE IF NOT EXISTS ${table} (
  name text PRIMARY KEY CHECK (name ~ '^[a-z0-9_.-]{1,128}$'),
  value integer NOT NULL CHECK (value BETWEEN 0 AND 10000),
  description text NOT NULL DEFAULT '' CHECK (length(description) <= 1024),
  owner text NOT NULL DEFAULT '' CHECK (length(owner) <= 128),
  updated_at timestamptz NOT NULL DEFAULT now(),
  updated_by text NOT NULL DEFAULT '' CHECK (length(updated_by) <= 256),
  version bigint NOT NULL DEFAULT nextval('${seq}')
);
CREATE OR REPLACE FUNCTION ${table}_touch() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
  NEW.version := nextval('${seq}');
  NEW.updated_at := now();
  RETURN NEW;
END
$fn$;
CREATE OR REPLACE FUNCTION ${table}_notify() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
  IF TG_OP = 'DELETE' THEN
    PERFORM pg_notify('${table}', json_build_object('name', OLD.name, 'deleted', true)::text);
    RETURN OLD;
  END IF;
  PERFORM pg_notify('${table}', json_build_object(
    'name', NEW.name, 'value', NEW.value, 'description', NEW.description, 'owner', NEW.owner,
    'updated_at', NEW.updated_at, 'updated_by', NEW.updated_by, 'version', NEW.version)::text);
  RETURN NEW;
END
$fn$;
DO $do$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_trigger WHERE tgname = '${table}_touch' AND tgrelid = '${table}'::regclass) THEN
    CREATE TRIGGER ${table}_touch BEFORE UPDATE ON ${table} FOR EACH ROW EXECUTE FUNCTION ${table}_touch();
  END IF;
  IF NOT EXISTS (SELECT 1 FROM pg_trigger WHERE tgname = '${table}_notify' AND tgrelid = '${table}'::regclass) THEN
    CREATE TRIGGER ${table}_notify AFTER INSERT OR UPDATE OR DELETE ON ${table} FOR EACH ROW EXECUTE FUNCTION ${table}_notify();
  END IF;
END
$do$;
COMMENT ON TABLE ${table} IS '${SCHEMA_MARKER}';`;
}

const COLUMNS = 'name, value, description, owner, updated_at, updated_by, version';

function toRecord(row: Record<string, unknown>): StoredFlag {
  return {
    name: row.name as string,
    value: row.value as number,
    description: row.description as string,
    owner: row.owner as string,
    updatedAt:
      row.updated_at instanceof Date
        ? row.updated_at.toISOString()
        : new Date(String(row.updated_at)).toISOString(),
    updatedBy: row.updated_by as string,
    version: Number(row.version),
  };
}

/**
 * Flags in a PostgreSQL table; changes are pushed with LISTEN/NOTIFY by triggers (so edits made
 * with psql propagate too). On (re)connection, and every `reloadIntervalMs` as a backstop, the whole
 * table is reloaded. Works against a server (pg) or embedded PGlite.
 */
export class PostgresFlagStore implements FlagStore {
  readonly kind = 'postgres';
  readonly writable = true;
  readonly driver: SqlDriver;
  readonly table: string;
  readonly #reloadIntervalMs: number;
  #sink: StoreSink | undefined;
  #schemaReady = false;
  #listening = false;
  #timer: NodeJS.Timeout | undefined;

  constructor(options: PostgresFlagStoreOptions) {
    this.driver = options.driver;
    this.table = options.table ?? 'fleet_flags';
    if (!IDENTIFIER.test(this.table)) throw new Error(`invalid flag table name '${this.table}'`);
    this.#reloadIntervalMs = options.reloadIntervalMs ?? 5000;
  }

  /** A store on the PostgreSQL server at `url`. */
  static async connect(
    url: string,
    options: Omit<PostgresFlagStoreOptions, 'driver'> & PgDriverOptions = {},
  ): Promise<PostgresFlagStore> {
    return new PostgresFlagStore({ ...options, driver: await createPgDriver(url, options) });
  }

  /** A store on the embedded PGlite database of `dir` ('' = in memory), shared within the process. */
  static async embedded(
    dir = '',
    options: Omit<PostgresFlagStoreOptions, 'driver'> = {},
  ): Promise<PostgresFlagStore> {
    const { db, release } = await acquirePglite(dir);
    return new PostgresFlagStore({ ...options, driver: createPgliteDriver(db, release) });
  }

  async start(sink: StoreSink): Promise<void> {
    this.#sink = sink;
    let settle!: () => void;
    const firstAttempt = new Promise<void>((resolve) => {
      settle = resolve;
    });
    this.driver.listen(this.table, {
      onPayload: (payload) => this.#onNotification(payload),
      onConnect: async () => {
        await this.#ensureSchema();
        await this.#reload();
        this.#listening = true;
        sink.up();
        settle();
      },
      onLost: (error) => {
        this.#listening = false;
        sink.down(error);
        settle();
      },
    });
    this.#timer = setInterval(() => void this.#backstop(), this.#reloadIntervalMs);
    this.#timer.unref();
    await firstAttempt;
  }

  async write(change: FlagWrite): Promise<StoredFlag> {
    await this.#ensureSchema();
    const rows = await this.driver.query(
      `INSERT INTO ${this.table} AS f (name, value, description, owner, updated_by)
       VALUES ($1, $2, COALESCE($3::text, ''), COALESCE($4::text, ''), $5)
       ON CONFLICT (name) DO UPDATE SET value = EXCLUDED.value,
         description = COALESCE($3::text, f.description), owner = COALESCE($4::text, f.owner),
         updated_by = EXCLUDED.updated_by
       RETURNING ${COLUMNS}`,
      [change.name, change.value, change.description ?? null, change.owner ?? null, change.by],
    );
    return toRecord(rows[0]!);
  }

  async remove(name: string): Promise<boolean> {
    await this.#ensureSchema();
    const rows = await this.driver.query(`DELETE FROM ${this.table} WHERE name = $1 RETURNING name`, [name]);
    return rows.length > 0;
  }

  async close(): Promise<void> {
    clearInterval(this.#timer);
    this.#sink = undefined;
    await this.driver.close();
  }

  /**
   * Create the table, sequence and triggers unless a previous start did (idempotent, serialised by
   * an advisory lock for concurrent starts). A present schema needs no DDL rights.
   */
  async #ensureSchema(): Promise<void> {
    if (this.#schemaReady) return;
    const [row] = await this.driver.query(`SELECT obj_description(to_regclass($1), 'pg_class') AS marker`, [
      this.table,
    ]);
    if (row?.marker !== SCHEMA_MARKER) await this.driver.exec(schemaSql(this.table));
    this.#schemaReady = true;
  }

  async #reload(): Promise<void> {
    const rows = await this.driver.query(
      `SELECT (SELECT last_value FROM ${this.table}_version_seq) AS as_of,
              COALESCE((SELECT json_agg(json_build_object(
                'name', name, 'value', value, 'description', description, 'owner', owner,
                'updated_at', updated_at, 'updated_by', updated_by, 'version', version)) FROM ${this.table}), '[]') AS flags`,
    );
    const row = rows[0] ?? {};
    const flags = typeof row.flags === 'string' ? JSON.parse(row.flags) : row.flags;
    this.#sink?.replace(Array.isArray(flags) ? flags : [], Number(row.as_of));
  }

  async #backstop(): Promise<void> {
    if (!this.#listening || !this.#sink) return;
    try {
      await this.#reload();
      if (this.#listening) this.#sink?.up();
    } catch (error) {
      this.#sink?.down(error);
    }
  }

  #onNotification(payload: string): void {
    const sink = this.#sink;
    if (!sink) return;
    let message: unknown;
    try {
      message = JSON.parse(payload);
    } catch {
      sink.reject(`unparsable notification: ${payload.slice(0, 200)}`);
      return;
    }
    const record = message as { name?: unknown; deleted?: unknown };
    if (record?.deleted === true && typeof record.name === 'string') sink.remove(record.name);
    else sink.upsert(message);
  }
}
