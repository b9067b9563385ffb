import { type Db, type Migration, migrate } from '@fleet/chassis/db';

/**
 * Schema migrations, applied in order, each once, in its own transaction. Append only: never edit
 * a migration that has shipped; add a new one.
 */
export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'initial',
    sql: `
      CREATE TABLE indexes (
        name text PRIMARY KEY,
        datatype text NOT NULL CHECK (datatype IN ('event', 'metric')),
        frozen_time_period_secs integer NOT NULL CHECK (frozen_time_period_secs > 0),
        max_total_data_size_mb integer NOT NULL CHECK (max_total_data_size_mb > 0),
        owner text NOT NULL,
        cluster text NOT NULL,
        description text NOT NULL DEFAULT '',
        disabled boolean NOT NULL DEFAULT false,
        created_by text NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now()
      );
      CREATE INDEX indexes_by_cluster ON indexes (cluster, name);
      CREATE INDEX indexes_by_owner ON indexes (owner, name);

      CREATE TABLE roles (
        name text PRIMARY KEY,
        owner text NOT NULL,
        indexes_allowed jsonb NOT NULL,
        default_indexes jsonb NOT NULL,
        import_roles jsonb NOT NULL,
        groups jsonb NOT NULL,
        created_by text NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now()
      );

      CREATE TABLE audit_log (
        id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        at timestamptz NOT NULL DEFAULT now(),
        actor text NOT NULL,
        action text NOT NULL,
        resource_type text NOT NULL,
        resource_name text NOT NULL,
        cluster text,
        before jsonb,
        after jsonb,
        request_id text
      );
      CREATE INDEX audit_by_resource ON audit_log (resource_type, resource_name, id);
      CREATE INDEX audit_by_actor ON audit_log (actor, id);

      CREATE TABLE deployments (
        id text PRIMARY KEY,
        cluster text NOT NULL,
        status text NOT NULL CHECK (status IN ('running', 'succeeded', 'failed', 'rolled_back')),
        requested_by text NOT NULL,
        request_id text,
        target text NOT NULL,
        files jsonb NOT NULL,
        steps jsonb NOT NULL DEFAULT '[]',
        error text,
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now(),
        finished_at timestamptz
      );
      -- The deployment lock: at most one running deployment per cluster
      CREATE UNIQUE INDEX deployments_one_running_per_cluster ON deployments (cluster) WHERE status = 'running';
      CREATE INDEX deployments_by_cluster ON deployments (cluster, created_at);

      CREATE TABLE deployed_files (
        cluster text NOT NULL,
        version integer NOT NULL,
        deployment_id text NOT NULL REFERENCES deployments (id),
        files jsonb NOT NULL,
        deployed_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (cluster, version)
      );

      CREATE TABLE idempotency_keys (
        key text PRIMARY KEY,
        fingerprint text NOT NULL,
        state text NOT NULL CHECK (state IN ('in-progress', 'done')),
        response jsonb,
        expires_at timestamptz NOT NULL
      );
    `,
  },
];

/**
 * Apply pending migrations (the chassis runner: replicas starting together serialise on an advisory
 * lock keyed by schema). Table and lock name are the ones this service has always used, so a rolling
 * upgrade still serialises with older replicas.
 */
export function migrateDatabase(db: Db, migrations: readonly Migration[] = MIGRATIONS): Promise<number[]> {
  return migrate(db, migrations, {
    table: 'schema_migrations',
    lockName: 'fleet-index-provisioner/migrations/',
  });
}
