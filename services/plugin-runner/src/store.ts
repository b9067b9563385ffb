/**
 * Everything the runner keeps in the database: instances (config), their state (cursor, lease,
 * schedule, circuit, last run) and a short run history. The statements that guard correctness are
 * single UPDATEs, atomic on Postgres and PGlite alike:
 *
 * - acquire: takes the lease only if it is free or expired, and bumps the fencing token;
 * - renew / commit / release: apply only `WHERE fencing_token = <the holder's token>`, so a replica
 *   that was paused or partitioned past its lease can no longer touch the state;
 * - commit also requires the cursor sequence it read (`cursor_seq`): the cursor only moves forward
 *   from the value the writer started from.
 */
import type { Db, Queryable, Row } from '@fleet/chassis/db';
import type { ScheduleSpec } from './schedule.js';

export type InstanceSource = 'config' | 'api';

export interface InstanceDefinition {
  id: string;
  plugin: string;
  description?: string;
  config: Record<string, unknown>;
  schedule: ScheduleSpec;
  enabled?: boolean;
}

export interface InstanceRecord {
  id: string;
  plugin: string;
  description: string;
  config: Record<string, unknown>;
  schedule: ScheduleSpec;
  enabled: boolean;
  source: InstanceSource;
  createdBy: string;
  createdAt: Date;
  updatedAt: Date;
  version: number;
}

export interface RunErrorInfo {
  at: string;
  kind: string;
  message: string;
}

export interface LastRun {
  replica: string;
  fencing_token: number;
  started_at: string;
  finished_at: string;
  duration_ms: number;
  outcome: string;
  pages: number;
  events: number;
  error?: RunErrorInfo;
}

export interface InstanceState {
  cursor: unknown;
  cursorSeq: number;
  cursorUpdatedAt: Date | null;
  newestEventAt: Date | null;
  fencingToken: number;
  leaseHolder: string | null;
  leaseAcquiredAt: Date | null;
  leaseExpiresAt: Date | null;
  nextRunAt: Date;
  runRequestedAt: Date | null;
  consecutiveFailures: number;
  circuitOpens: number;
  circuitOpenUntil: Date | null;
  lastRun: LastRun | null;
  lastSuccessAt: Date | null;
  recentErrors: RunErrorInfo[];
  runsTotal: number;
  eventsTotal: number;
  pagesTotal: number;
}

export interface InstanceWithState extends InstanceRecord {
  state: InstanceState;
}

/** What a replica gets when it takes a lease. */
export interface Lease {
  instanceId: string;
  holder: string;
  /** The fencing token: every write of this holder is conditional on it. */
  token: number;
  cursor: unknown;
  cursorSeq: number;
  consecutiveFailures: number;
  circuitOpens: number;
  recentErrors: RunErrorInfo[];
}

/** Outcome of a run as written back when the lease is released. */
export interface RunResult {
  nextRunAt: Date;
  consecutiveFailures: number;
  circuitOpens: number;
  circuitOpenUntil: Date | null;
  lastRun: LastRun;
  succeeded: boolean;
  recentErrors: RunErrorInfo[];
}

export interface RunRecord {
  id: number;
  instanceId: string;
  replica: string;
  fencingToken: number;
  startedAt: Date;
  finishedAt: Date | null;
  outcome: string | null;
  pages: number;
  events: number;
  cursorBefore: unknown;
  cursorAfter: unknown;
  error: RunErrorInfo | null;
}

const num = (v: unknown): number => Number(v ?? 0);
const date = (v: unknown): Date | null =>
  v === null || v === undefined ? null : v instanceof Date ? v : new Date(String(v));
const json = (v: unknown): unknown => (typeof v === 'string' ? JSON.parse(v) : v);

function toInstance(row: Row): InstanceRecord {
  return {
    id: String(row.id),
    plugin: String(row.plugin),
    description: String(row.description ?? ''),
    config: json(row.config) as Record<string, unknown>,
    schedule: json(row.schedule) as ScheduleSpec,
    enabled: Boolean(row.enabled),
    source: row.source as InstanceSource,
    createdBy: String(row.created_by ?? ''),
    createdAt: date(row.created_at)!,
    updatedAt: date(row.updated_at)!,
    version: num(row.version),
  };
}

function toState(row: Row): InstanceState {
  return {
    cursor: json(row.cursor) ?? null,
    cursorSeq: num(row.cursor_seq),
    cursorUpdatedAt: date(row.cursor_updated_at),
    newestEventAt: date(row.newest_event_at),
    fencingToken: num(row.fencing_token),
    leaseHolder: (row.lease_holder as string | null) ?? null,
    leaseAcquiredAt: date(row.lease_acquired_at),
    leaseExpiresAt: date(row.lease_expires_at),
    nextRunAt: date(row.next_run_at)!,
    runRequestedAt: date(row.run_requested_at),
    consecutiveFailures: num(row.consecutive_failures),
    circuitOpens: num(row.circuit_opens),
    circuitOpenUntil: date(row.circuit_open_until),
    lastRun: (json(row.last_run) as LastRun | null) ?? null,
    lastSuccessAt: date(row.last_success_at),
    recentErrors: (json(row.recent_errors) as RunErrorInfo[] | null) ?? [],
    runsTotal: num(row.runs_total),
    eventsTotal: num(row.events_total),
    pagesTotal: num(row.pages_total),
  };
}

const INSTANCE_COLUMNS =
  'i.id, i.plugin, i.description, i.config, i.schedule, i.enabled, i.source, i.created_by, i.created_at, i.updated_at, i.version';
const STATE_COLUMNS =
  's.cursor, s.cursor_seq, s.cursor_updated_at, s.newest_event_at, s.fencing_token, s.lease_holder, s.lease_acquired_at, s.lease_expires_at, s.next_run_at, s.run_requested_at, s.consecutive_failures, s.circuit_opens, s.circuit_open_until, s.last_run, s.last_success_at, s.recent_errors, s.runs_total, s.events_total, s.pages_total';

const MS = "* interval '1 millisecond'";

export class Store {
  constructor(readonly db: Db) {}

  // ---- instances ---------------------------------------------------------------------------

  async list(plugin?: string): Promise<InstanceWithState[]> {
    const rows = await this.db.query(
      `SELECT ${INSTANCE_COLUMNS}, ${STATE_COLUMNS} FROM plugin_instances i JOIN plugin_state s ON s.instance_id = i.id
       ${plugin ? 'WHERE i.plugin = $1' : ''} ORDER BY i.id`,
      plugin ? [plugin] : [],
    );
    return rows.map((row) => ({ ...toInstance(row), state: toState(row) }));
  }

  async get(id: string): Promise<InstanceWithState | undefined> {
    const [row] = await this.db.query(
      `SELECT ${INSTANCE_COLUMNS}, ${STATE_COLUMNS} FROM plugin_instances i JOIN plugin_state s ON s.instance_id = i.id WHERE i.id = $1`,
      [id],
    );
    return row ? { ...toInstance(row), state: toState(row) } : undefined;
  }

  /** Insert a new instance and its empty state; undefined when the id is taken. */
  async create(
    def: InstanceDefinition,
    source: InstanceSource,
    createdBy: string,
    firstRunAt: Date,
  ): Promise<InstanceRecord | undefined> {
    const rows = await this.db.query(
      `WITH i AS (
         INSERT INTO plugin_instances (id, plugin, description, config, schedule, enabled, source, created_by)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (id) DO NOTHING
         RETURNING *
       ), s AS (INSERT INTO plugin_state (instance_id, next_run_at) SELECT id, $9 FROM i)
       SELECT * FROM i`,
      [
        def.id,
        def.plugin,
        def.description ?? '',
        JSON.stringify(def.config),
        JSON.stringify(def.schedule),
        def.enabled ?? true,
        source,
        createdBy,
        firstRunAt,
      ],
    );
    return rows[0] ? toInstance(rows[0]) : undefined;
  }

  /** Update config/schedule/enabled/description of an instance (optimistic on `version` when given). */
  async update(
    id: string,
    change: {
      config?: Record<string, unknown>;
      schedule?: ScheduleSpec;
      enabled?: boolean;
      description?: string;
    },
    nextRunAt: Date | undefined,
    expectedVersion?: number,
  ): Promise<InstanceRecord | undefined> {
    const rows = await this.db.query(
      `WITH i AS (
         UPDATE plugin_instances SET
           config = COALESCE($2::jsonb, config),
           schedule = COALESCE($3::jsonb, schedule),
           enabled = COALESCE($4::boolean, enabled),
           description = COALESCE($5::text, description),
           updated_at = now(),
           version = version + 1
         WHERE id = $1 AND ($6::integer IS NULL OR version = $6)
         RETURNING *
       ), s AS (
         UPDATE plugin_state SET next_run_at = LEAST(next_run_at, $7::timestamptz)
         WHERE instance_id IN (SELECT id FROM i) AND $7::timestamptz IS NOT NULL
       )
       SELECT * FROM i`,
      [
        id,
        change.config === undefined ? null : JSON.stringify(change.config),
        change.schedule === undefined ? null : JSON.stringify(change.schedule),
        change.enabled ?? null,
        change.description ?? null,
        expectedVersion ?? null,
        nextRunAt ?? null,
      ],
    );
    return rows[0] ? toInstance(rows[0]) : undefined;
  }

  async remove(id: string): Promise<boolean> {
    const rows = await this.db.query('DELETE FROM plugin_instances WHERE id = $1 RETURNING id', [id]);
    return rows.length > 0;
  }

  /**
   * Make the database hold exactly the instances of the config files (source 'config'): insert new
   * ones, update changed ones (a changed plugin starts from an empty state), delete the ones gone.
   * Instances created through the API are left alone unless the config claims their id.
   */
  async syncConfigInstances(
    defs: InstanceDefinition[],
    firstRunAt: (def: InstanceDefinition) => Date,
  ): Promise<{ created: string[]; updated: string[]; deleted: string[] }> {
    const created: string[] = [];
    const updated: string[] = [];
    for (const def of defs) {
      const existing = await this.get(def.id);
      if (!existing) {
        if (await this.create(def, 'config', 'config', firstRunAt(def))) created.push(def.id);
        continue;
      }
      const same =
        existing.plugin === def.plugin &&
        existing.source === 'config' &&
        existing.description === (def.description ?? '') &&
        existing.enabled === (def.enabled ?? true) &&
        JSON.stringify(existing.config) === JSON.stringify(def.config) &&
        JSON.stringify(existing.schedule) === JSON.stringify(def.schedule);
      if (same) continue;
      if (existing.plugin !== def.plugin) {
        await this.remove(def.id);
        await this.create(def, 'config', 'config', firstRunAt(def));
      } else {
        await this.db.query(
          `UPDATE plugin_instances SET description = $2, config = $3, schedule = $4, enabled = $5, source = 'config',
             updated_at = now(), version = version + 1 WHERE id = $1`,
          [
            def.id,
            def.description ?? '',
            JSON.stringify(def.config),
            JSON.stringify(def.schedule),
            def.enabled ?? true,
          ],
        );
        await this.db.query(
          'UPDATE plugin_state SET next_run_at = LEAST(next_run_at, $2) WHERE instance_id = $1',
          [def.id, firstRunAt(def)],
        );
      }
      updated.push(def.id);
    }
    const rows = await this.db.query(
      `DELETE FROM plugin_instances WHERE source = 'config' AND NOT (id = ANY($1::text[])) RETURNING id`,
      [defs.map((d) => d.id)],
    );
    return { created, updated, deleted: rows.map((r) => String(r.id)) };
  }

  /** Ask for a run as soon as possible (any replica takes it; a running run is followed by another). */
  async requestRun(id: string): Promise<Date | undefined> {
    const [row] = await this.db.query(
      `UPDATE plugin_state SET run_requested_at = now(), next_run_at = LEAST(next_run_at, now())
       WHERE instance_id = $1 RETURNING next_run_at`,
      [id],
    );
    return row ? date(row.next_run_at)! : undefined;
  }

  // ---- scheduling and leases ---------------------------------------------------------------

  /**
   * Enabled instances whose run is due and whose lease is free, oldest due first; not those in
   * `exclude`, and only of `plugins` when given (what this replica can run and has not paused).
   */
  async due(
    limit: number,
    exclude: readonly string[],
    plugins?: readonly string[],
  ): Promise<Array<{ id: string; plugin: string }>> {
    const rows = await this.db.query(
      `SELECT i.id, i.plugin FROM plugin_instances i JOIN plugin_state s ON s.instance_id = i.id
       WHERE i.enabled AND s.next_run_at <= now()
         AND (s.lease_expires_at IS NULL OR s.lease_expires_at <= now())
         AND NOT (i.id = ANY($2::text[]))
         AND ($3::text[] IS NULL OR i.plugin = ANY($3::text[]))
       ORDER BY s.next_run_at LIMIT $1`,
      [limit, exclude, plugins ?? null],
    );
    return rows.map((r) => ({ id: String(r.id), plugin: String(r.plugin) }));
  }

  /**
   * Take the lease of a due instance: succeeds for one caller only, while the lease is free or
   * expired. The fencing token grows by one. `force` skips the "due" condition.
   */
  async acquire(id: string, holder: string, ttlMs: number, force = false): Promise<Lease | undefined> {
    const [row] = await this.db.query(
      `UPDATE plugin_state SET
         lease_holder = $2,
         lease_acquired_at = now(),
         lease_expires_at = now() + $3::double precision ${MS},
         fencing_token = fencing_token + 1
       WHERE instance_id = $1
         AND (lease_expires_at IS NULL OR lease_expires_at <= now())
         AND ($4::boolean OR next_run_at <= now())
       RETURNING fencing_token, cursor, cursor_seq, consecutive_failures, circuit_opens, recent_errors`,
      [id, holder, ttlMs, force],
    );
    if (!row) return undefined;
    return {
      instanceId: id,
      holder,
      token: num(row.fencing_token),
      cursor: json(row.cursor) ?? null,
      cursorSeq: num(row.cursor_seq),
      consecutiveFailures: num(row.consecutive_failures),
      circuitOpens: num(row.circuit_opens),
      recentErrors: (json(row.recent_errors) as RunErrorInfo[] | null) ?? [],
    };
  }

  /** Extend the lease; false when this token no longer holds it. */
  async renew(id: string, holder: string, token: number, ttlMs: number): Promise<boolean> {
    const rows = await this.db.query(
      `UPDATE plugin_state SET lease_expires_at = now() + $4::double precision ${MS}
       WHERE instance_id = $1 AND lease_holder = $2 AND fencing_token = $3 RETURNING 1 AS ok`,
      [id, holder, token, ttlMs],
    );
    return rows.length > 0;
  }

  /**
   * Move the cursor after a page was delivered: only for the current fencing token and from the
   * cursor sequence the writer read. False when either has changed (the caller lost the lease).
   */
  async commitCursor(
    id: string,
    token: number,
    expectedSeq: number,
    cursorJson: string,
    newestEventMs: number | undefined,
    events: number,
  ): Promise<boolean> {
    const rows = await this.db.query(
      `UPDATE plugin_state SET
         cursor = $4::jsonb,
         cursor_seq = cursor_seq + 1,
         cursor_updated_at = now(),
         newest_event_at = CASE WHEN $5::timestamptz IS NULL THEN newest_event_at
                                ELSE GREATEST(COALESCE(newest_event_at, $5::timestamptz), $5::timestamptz) END,
         events_total = events_total + $6,
         pages_total = pages_total + 1
       WHERE instance_id = $1 AND fencing_token = $2 AND cursor_seq = $3
       RETURNING cursor_seq`,
      [
        id,
        token,
        expectedSeq,
        cursorJson,
        newestEventMs === undefined ? null : new Date(newestEventMs),
        events,
      ],
    );
    return rows.length > 0;
  }

  /** Give the lease back with the run's outcome; false when the token no longer holds it. */
  async release(id: string, token: number, result: RunResult): Promise<boolean> {
    const rows = await this.db.query(
      `UPDATE plugin_state SET
         lease_holder = NULL,
         lease_expires_at = NULL,
         next_run_at = CASE WHEN run_requested_at IS NOT NULL AND run_requested_at > lease_acquired_at
                            THEN now() ELSE $3::timestamptz END,
         run_requested_at = CASE WHEN run_requested_at IS NOT NULL AND run_requested_at > lease_acquired_at
                                 THEN run_requested_at ELSE NULL END,
         consecutive_failures = $4,
         circuit_opens = $5,
         circuit_open_until = $6,
         last_run = $7::jsonb,
         last_success_at = CASE WHEN $8::boolean THEN now() ELSE last_success_at END,
         recent_errors = $9::jsonb,
         runs_total = runs_total + 1
       WHERE instance_id = $1 AND fencing_token = $2
       RETURNING 1 AS ok`,
      [
        id,
        token,
        result.nextRunAt,
        result.consecutiveFailures,
        result.circuitOpens,
        result.circuitOpenUntil,
        JSON.stringify(result.lastRun),
        result.succeeded,
        JSON.stringify(result.recentErrors),
      ],
    );
    return rows.length > 0;
  }

  // ---- run history -------------------------------------------------------------------------

  async insertRun(id: string, replica: string, token: number, cursorBefore: unknown): Promise<number> {
    const [row] = await this.db.query(
      'INSERT INTO plugin_runs (instance_id, replica, fencing_token, cursor_before) VALUES ($1, $2, $3, $4::jsonb) RETURNING id',
      [id, replica, token, JSON.stringify(cursorBefore ?? null)],
    );
    return num(row!.id);
  }

  async finishRun(
    runId: number,
    outcome: string,
    pages: number,
    events: number,
    cursorAfter: unknown,
    error: RunErrorInfo | undefined,
    keep: number,
  ): Promise<void> {
    const [row] = await this.db.query(
      `UPDATE plugin_runs SET finished_at = clock_timestamp(), outcome = $2, pages = $3, events = $4,
         cursor_after = $5::jsonb, error = $6::jsonb WHERE id = $1 RETURNING instance_id`,
      [
        runId,
        outcome,
        pages,
        events,
        JSON.stringify(cursorAfter ?? null),
        error ? JSON.stringify(error) : null,
      ],
    );
    if (row && runId % 10 === 0) {
      await this.db.query(
        `DELETE FROM plugin_runs WHERE instance_id = $1 AND id <= (
           SELECT id FROM plugin_runs WHERE instance_id = $1 ORDER BY id DESC OFFSET $2 LIMIT 1)`,
        [row.instance_id, keep],
      );
    }
  }

  async runs(id: string, limit = 20): Promise<RunRecord[]> {
    const rows = await this.db.query(
      'SELECT * FROM plugin_runs WHERE instance_id = $1 ORDER BY id DESC LIMIT $2',
      [id, limit],
    );
    return rows.map((r) => ({
      id: num(r.id),
      instanceId: String(r.instance_id),
      replica: String(r.replica),
      fencingToken: num(r.fencing_token),
      startedAt: date(r.started_at)!,
      finishedAt: date(r.finished_at),
      outcome: (r.outcome as string | null) ?? null,
      pages: num(r.pages),
      events: num(r.events),
      cursorBefore: json(r.cursor_before) ?? null,
      cursorAfter: json(r.cursor_after) ?? null,
      error: (json(r.error) as RunErrorInfo | null) ?? null,
    }));
  }

  /** A light view of every instance for metrics and readiness. */
  async snapshot(): Promise<
    Array<{
      id: string;
      plugin: string;
      enabled: boolean;
      newestEventAt: Date | null;
      leaseHolder: string | null;
      leaseExpiresAt: Date | null;
      circuitOpenUntil: Date | null;
      consecutiveFailures: number;
      dbNow: Date;
    }>
  > {
    const rows = await this.db.query(
      `SELECT i.id, i.plugin, i.enabled, s.newest_event_at, s.lease_holder, s.lease_expires_at, s.circuit_open_until,
              s.consecutive_failures, now() AS db_now
       FROM plugin_instances i JOIN plugin_state s ON s.instance_id = i.id ORDER BY i.id`,
    );
    return rows.map((r) => ({
      id: String(r.id),
      plugin: String(r.plugin),
      enabled: Boolean(r.enabled),
      newestEventAt: date(r.newest_event_at),
      leaseHolder: (r.lease_holder as string | null) ?? null,
      leaseExpiresAt: date(r.lease_expires_at),
      circuitOpenUntil: date(r.circuit_open_until),
      consecutiveFailures: num(r.consecutive_failures),
      dbNow: date(r.db_now)!,
    }));
  }

  async ping(q: Queryable = this.db): Promise<void> {
    await q.query('SELECT 1');
  }
}
