import { type Db, type Migration, migrate } from '@fleet/chassis/db';

/**
 * Schema migrations, applied in order, each once, in its own transaction. Append only: never edit
 * a migration that has shipped; add a new one.
 */
export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'instances, state, runs',
    sql: `
      CREATE TABLE plugin_instances (
        id text PRIMARY KEY,
        plugin text NOT NULL,
        description text NOT NULL DEFAULT '',
        config jsonb NOT NULL,
        schedule jsonb NOT NULL,
        enabled boolean NOT NULL DEFAULT true,
        source text NOT NULL CHECK (source IN ('config', 'api')),
        created_by text NOT NULL DEFAULT '',
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now(),
        version integer NOT NULL DEFAULT 1
      );

      -- What the runner keeps per instance. The cursor only moves through a fenced UPDATE
      -- (WHERE fencing_token = <the writer's token>); fencing_token grows by one per acquired lease.
      CREATE TABLE plugin_state (
        instance_id text PRIMARY KEY REFERENCES plugin_instances (id) ON DELETE CASCADE,
        cursor jsonb,
        cursor_seq bigint NOT NULL DEFAULT 0,
        cursor_updated_at timestamptz,
        newest_event_at timestamptz,
        fencing_token bigint NOT NULL DEFAULT 0,
        lease_holder text,
        lease_acquired_at timestamptz,
        lease_expires_at timestamptz,
        next_run_at timestamptz NOT NULL DEFAULT now(),
        run_requested_at timestamptz,
        consecutive_failures integer NOT NULL DEFAULT 0,
        circuit_opens integer NOT NULL DEFAULT 0,
        circuit_open_until timestamptz,
        last_run jsonb,
        last_success_at timestamptz,
        recent_errors jsonb NOT NULL DEFAULT '[]',
        runs_total bigint NOT NULL DEFAULT 0,
        events_total bigint NOT NULL DEFAULT 0,
        pages_total bigint NOT NULL DEFAULT 0
      );
      CREATE INDEX plugin_state_due ON plugin_state (next_run_at);

      -- Run history (pruned to the newest runs per instance).
      CREATE TABLE plugin_runs (
        id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        instance_id text NOT NULL,
        replica text NOT NULL,
        fencing_token bigint NOT NULL,
        started_at timestamptz NOT NULL DEFAULT clock_timestamp(),
        finished_at timestamptz,
        outcome text,
        pages integer NOT NULL DEFAULT 0,
        events integer NOT NULL DEFAULT 0,
        cursor_before jsonb,
        cursor_after jsonb,
        error jsonb
      );
      CREATE INDEX plugin_runs_by_instance ON plugin_runs (instance_id, id);
    `,
  },
];

/**
 * Apply pending migrations (the chassis runner: replicas starting together serialise on an advisory
 * lock keyed by schema, callers sharing one PGlite in a process queue). Table and lock name are the
 * ones this service has always used, so a rolling upgrade still serialises with older replicas.
 */
export function migrateDatabase(db: Db, migrations: readonly Migration[] = MIGRATIONS): Promise<number[]> {
  return migrate(db, migrations, {
    table: 'plugin_runner_migrations',
    lockName: 'fleet-plugin-runner/migrations/',
  });
}
