import type { Queryable, Row } from '@fleet/chassis/db';
import type { Datatype, IndexSpec, RoleSpec } from './conf/render.js';

export interface IndexRecord extends IndexSpec {
  owner: string;
  cluster: string;
  createdBy: string;
  createdAt: string;
  updatedAt: string;
}

export interface RoleRecord extends RoleSpec {
  owner: string;
  createdBy: string;
  createdAt: string;
  updatedAt: string;
}

export interface AuditRecord {
  id: string;
  at: string;
  actor: string;
  action: string;
  resourceType: string;
  resourceName: string;
  cluster: string | null;
  before: unknown;
  after: unknown;
  requestId: string | null;
}

export type DeploymentStatus = 'running' | 'succeeded' | 'failed' | 'rolled_back';

export interface DeploymentStep {
  name: string;
  status: 'running' | 'succeeded' | 'failed' | 'skipped';
  startedAt: string;
  finishedAt?: string;
  detail?: string;
  error?: string;
}

export interface DeploymentRecord {
  id: string;
  cluster: string;
  status: DeploymentStatus;
  requestedBy: string;
  requestId: string | null;
  target: string;
  files: Array<{ name: string; sha256: string; bytes: number }>;
  steps: DeploymentStep[];
  error: string | null;
  createdAt: string;
  updatedAt: string;
  finishedAt: string | null;
}

export interface Page<T> {
  items: T[];
  nextCursor: string | null;
}

const iso = (value: unknown): string =>
  (value instanceof Date ? value : new Date(String(value))).toISOString();
const json = <T>(value: unknown): T => (typeof value === 'string' ? (JSON.parse(value) as T) : (value as T));

function toIndex(row: Row): IndexRecord {
  return {
    name: String(row.name),
    datatype: row.datatype as Datatype,
    frozenTimePeriodInSecs: Number(row.frozen_time_period_secs),
    maxTotalDataSizeMB: Number(row.max_total_data_size_mb),
    owner: String(row.owner),
    cluster: String(row.cluster),
    description: String(row.description),
    disabled: Boolean(row.disabled),
    createdBy: String(row.created_by),
    createdAt: iso(row.created_at),
    updatedAt: iso(row.updated_at),
  };
}

function toRole(row: Row): RoleRecord {
  return {
    name: String(row.name),
    owner: String(row.owner),
    indexesAllowed: json<string[]>(row.indexes_allowed),
    defaultIndexes: json<string[]>(row.default_indexes),
    importRoles: json<string[]>(row.import_roles),
    groups: json<string[]>(row.groups),
    createdBy: String(row.created_by),
    createdAt: iso(row.created_at),
    updatedAt: iso(row.updated_at),
  };
}

function toAudit(row: Row): AuditRecord {
  return {
    id: String(row.id),
    at: iso(row.at),
    actor: String(row.actor),
    action: String(row.action),
    resourceType: String(row.resource_type),
    resourceName: String(row.resource_name),
    cluster: row.cluster === null ? null : String(row.cluster),
    before: json(row.before) ?? null,
    after: json(row.after) ?? null,
    requestId: row.request_id === null ? null : String(row.request_id),
  };
}

function toDeployment(row: Row): DeploymentRecord {
  return {
    id: String(row.id),
    cluster: String(row.cluster),
    status: row.status as DeploymentStatus,
    requestedBy: String(row.requested_by),
    requestId: row.request_id === null ? null : String(row.request_id),
    target: String(row.target),
    files: json(row.files),
    steps: json(row.steps),
    error: row.error === null ? null : String(row.error),
    createdAt: iso(row.created_at),
    updatedAt: iso(row.updated_at),
    finishedAt: row.finished_at === null ? null : iso(row.finished_at),
  };
}

/** Opaque pagination cursors: base64url JSON of the last key seen. */
export function encodeCursor(key: string): string {
  return Buffer.from(JSON.stringify({ k: key })).toString('base64url');
}

export function decodeCursor(cursor: string): string | undefined {
  try {
    const value = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as { k?: unknown };
    return typeof value.k === 'string' ? value.k : undefined;
  } catch {
    return undefined;
  }
}

function page<T>(rows: T[], limit: number, key: (item: T) => string): Page<T> {
  const items = rows.slice(0, limit);
  return { items, nextCursor: rows.length > limit ? encodeCursor(key(items[items.length - 1]!)) : null };
}

/** Builds `WHERE a = $1 AND b = $2 ...` from the filters that are set. */
class Where {
  readonly clauses: string[] = [];
  readonly params: unknown[] = [];
  add(sql: (placeholder: string) => string, value: unknown): this {
    if (value === undefined) return this;
    this.params.push(value);
    this.clauses.push(sql(`$${this.params.length}`));
    return this;
  }
  get sql(): string {
    return this.clauses.length ? `WHERE ${this.clauses.join(' AND ')}` : '';
  }
  next(value: unknown): string {
    this.params.push(value);
    return `$${this.params.length}`;
  }
}

// ---------------------------------------------------------------------------------------------
// Indexes

export async function getIndex(
  q: Queryable,
  name: string,
  forUpdate = false,
): Promise<IndexRecord | undefined> {
  const rows = await q.query(`SELECT * FROM indexes WHERE name = $1${forUpdate ? ' FOR UPDATE' : ''}`, [
    name,
  ]);
  return rows[0] ? toIndex(rows[0]) : undefined;
}

export async function insertIndex(
  q: Queryable,
  index: IndexSpec & { owner: string; cluster: string; createdBy: string },
): Promise<IndexRecord> {
  const rows = await q.query(
    `INSERT INTO indexes (name, datatype, frozen_time_period_secs, max_total_data_size_mb, owner, cluster,
       description, disabled, created_by)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING *`,
    [
      index.name,
      index.datatype,
      index.frozenTimePeriodInSecs,
      index.maxTotalDataSizeMB,
      index.owner,
      index.cluster,
      index.description,
      index.disabled,
      index.createdBy,
    ],
  );
  return toIndex(rows[0]!);
}

export async function updateIndex(
  q: Queryable,
  name: string,
  change: Partial<
    Pick<IndexSpec, 'frozenTimePeriodInSecs' | 'maxTotalDataSizeMB' | 'description' | 'disabled'>
  >,
): Promise<IndexRecord> {
  const rows = await q.query(
    `UPDATE indexes SET
       frozen_time_period_secs = COALESCE($2, frozen_time_period_secs),
       max_total_data_size_mb = COALESCE($3, max_total_data_size_mb),
       description = COALESCE($4, description),
       disabled = COALESCE($5, disabled),
       updated_at = now()
     WHERE name = $1 RETURNING *`,
    [
      name,
      change.frozenTimePeriodInSecs ?? null,
      change.maxTotalDataSizeMB ?? null,
      change.description ?? null,
      change.disabled ?? null,
    ],
  );
  return toIndex(rows[0]!);
}

export interface IndexFilter {
  cluster?: string;
  owner?: string;
  datatype?: string;
  disabled?: boolean;
}

export async function listIndexes(
  q: Queryable,
  filter: IndexFilter,
  limit: number,
  after?: string,
): Promise<Page<IndexRecord>> {
  const where = new Where()
    .add((p) => `cluster = ${p}`, filter.cluster)
    .add((p) => `owner = ${p}`, filter.owner)
    .add((p) => `datatype = ${p}`, filter.datatype)
    .add((p) => `disabled = ${p}`, filter.disabled)
    .add((p) => `name > ${p}`, after);
  const rows = await q.query(
    `SELECT * FROM indexes ${where.sql} ORDER BY name LIMIT ${where.next(limit + 1)}`,
    where.params,
  );
  return page(rows.map(toIndex), limit, (i) => i.name);
}

export async function allIndexes(q: Queryable, cluster?: string): Promise<IndexRecord[]> {
  const rows = cluster
    ? await q.query('SELECT * FROM indexes WHERE cluster = $1 ORDER BY name', [cluster])
    : await q.query('SELECT * FROM indexes ORDER BY name');
  return rows.map(toIndex);
}

// ---------------------------------------------------------------------------------------------
// Roles

export async function getRole(
  q: Queryable,
  name: string,
  forUpdate = false,
): Promise<RoleRecord | undefined> {
  const rows = await q.query(`SELECT * FROM roles WHERE name = $1${forUpdate ? ' FOR UPDATE' : ''}`, [name]);
  return rows[0] ? toRole(rows[0]) : undefined;
}

export async function insertRole(
  q: Queryable,
  role: RoleSpec & { owner: string; createdBy: string },
): Promise<RoleRecord> {
  const rows = await q.query(
    `INSERT INTO roles (name, owner, indexes_allowed, default_indexes, import_roles, groups, created_by)
     VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING *`,
    [
      role.name,
      role.owner,
      JSON.stringify(role.indexesAllowed),
      JSON.stringify(role.defaultIndexes),
      JSON.stringify(role.importRoles),
      JSON.stringify(role.groups),
      role.createdBy,
    ],
  );
  return toRole(rows[0]!);
}

export async function updateRole(q: Queryable, role: RoleSpec & { owner: string }): Promise<RoleRecord> {
  const rows = await q.query(
    `UPDATE roles SET owner = $2, indexes_allowed = $3, default_indexes = $4, import_roles = $5, groups = $6,
       updated_at = now()
     WHERE name = $1 RETURNING *`,
    [
      role.name,
      role.owner,
      JSON.stringify(role.indexesAllowed),
      JSON.stringify(role.defaultIndexes),
      JSON.stringify(role.importRoles),
      JSON.stringify(role.groups),
    ],
  );
  return toRole(rows[0]!);
}

export async function deleteRole(q: Queryable, name: string): Promise<void> {
  await q.query('DELETE FROM roles WHERE name = $1', [name]);
}

export async function listRoles(
  q: Queryable,
  filter: { owner?: string },
  limit: number,
  after?: string,
): Promise<Page<RoleRecord>> {
  const where = new Where().add((p) => `owner = ${p}`, filter.owner).add((p) => `name > ${p}`, after);
  const rows = await q.query(
    `SELECT * FROM roles ${where.sql} ORDER BY name LIMIT ${where.next(limit + 1)}`,
    where.params,
  );
  return page(rows.map(toRole), limit, (r) => r.name);
}

export async function allRoles(q: Queryable): Promise<RoleRecord[]> {
  return (await q.query('SELECT * FROM roles ORDER BY name')).map(toRole);
}

// ---------------------------------------------------------------------------------------------
// Audit

export interface AuditEntry {
  actor: string;
  action: string;
  resourceType: string;
  resourceName: string;
  cluster?: string | null;
  before: unknown;
  after: unknown;
  requestId?: string | null;
}

export async function insertAudit(q: Queryable, entry: AuditEntry): Promise<void> {
  await q.query(
    `INSERT INTO audit_log (actor, action, resource_type, resource_name, cluster, before, after, request_id)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
    [
      entry.actor,
      entry.action,
      entry.resourceType,
      entry.resourceName,
      entry.cluster ?? null,
      entry.before === undefined || entry.before === null ? null : JSON.stringify(entry.before),
      entry.after === undefined || entry.after === null ? null : JSON.stringify(entry.after),
      entry.requestId ?? null,
    ],
  );
}

export interface AuditFilter {
  action?: string;
  resourceType?: string;
  resourceName?: string;
  actor?: string;
  cluster?: string;
  since?: string;
  until?: string;
}

/** Newest first; the cursor is the last id seen. */
export async function listAudit(
  q: Queryable,
  filter: AuditFilter,
  limit: number,
  before?: string,
): Promise<Page<AuditRecord>> {
  const where = new Where()
    .add((p) => `action = ${p}`, filter.action)
    .add((p) => `resource_type = ${p}`, filter.resourceType)
    .add((p) => `resource_name = ${p}`, filter.resourceName)
    .add((p) => `actor = ${p}`, filter.actor)
    .add((p) => `cluster = ${p}`, filter.cluster)
    .add((p) => `at >= ${p}::timestamptz`, filter.since)
    .add((p) => `at < ${p}::timestamptz`, filter.until)
    .add((p) => `id < ${p}::bigint`, before);
  const rows = await q.query(
    `SELECT * FROM audit_log ${where.sql} ORDER BY id DESC LIMIT ${where.next(limit + 1)}`,
    where.params,
  );
  return page(rows.map(toAudit), limit, (a) => a.id);
}

// ---------------------------------------------------------------------------------------------
// Deployments

/**
 * Take the cluster's deployment lock by inserting a running deployment; the partial unique index
 * lets only one exist per cluster (a second insert fails with a unique violation). A running
 * deployment that made no progress for `staleAfterMs` (its process died) is marked failed first.
 */
export async function insertDeployment(
  q: Queryable,
  deployment: Pick<
    DeploymentRecord,
    'id' | 'cluster' | 'requestedBy' | 'requestId' | 'target' | 'files' | 'steps'
  >,
  staleAfterMs: number,
): Promise<DeploymentRecord> {
  await q.query(
    `UPDATE deployments SET status = 'failed', finished_at = now(),
       error = 'abandoned: no progress for ' || $2::text || ' ms (the deploying process stopped?)'
     WHERE cluster = $1 AND status = 'running' AND updated_at < now() - ($2::bigint * interval '1 millisecond')`,
    [deployment.cluster, staleAfterMs],
  );
  const rows = await q.query(
    `INSERT INTO deployments (id, cluster, status, requested_by, request_id, target, files, steps)
     VALUES ($1, $2, 'running', $3, $4, $5, $6, $7) RETURNING *`,
    [
      deployment.id,
      deployment.cluster,
      deployment.requestedBy,
      deployment.requestId,
      deployment.target,
      JSON.stringify(deployment.files),
      JSON.stringify(deployment.steps),
    ],
  );
  return toDeployment(rows[0]!);
}

export async function updateDeployment(
  q: Queryable,
  id: string,
  change: { steps: DeploymentStep[]; status?: DeploymentStatus; error?: string | null },
): Promise<void> {
  const finished = change.status !== undefined && change.status !== 'running';
  await q.query(
    `UPDATE deployments SET steps = $2, status = COALESCE($3, status), error = COALESCE($4, error),
       updated_at = now()${finished ? ', finished_at = now()' : ''}
     WHERE id = $1`,
    [id, JSON.stringify(change.steps), change.status ?? null, change.error ?? null],
  );
}

export async function getDeployment(q: Queryable, id: string): Promise<DeploymentRecord | undefined> {
  const rows = await q.query('SELECT * FROM deployments WHERE id = $1', [id]);
  return rows[0] ? toDeployment(rows[0]) : undefined;
}

export async function runningDeployment(
  q: Queryable,
  cluster: string,
): Promise<DeploymentRecord | undefined> {
  const rows = await q.query("SELECT * FROM deployments WHERE cluster = $1 AND status = 'running'", [
    cluster,
  ]);
  return rows[0] ? toDeployment(rows[0]) : undefined;
}

export async function listDeployments(
  q: Queryable,
  filter: { cluster?: string; status?: string },
  limit: number,
  before?: string,
): Promise<Page<DeploymentRecord>> {
  const where = new Where()
    .add((p) => `cluster = ${p}`, filter.cluster)
    .add((p) => `status = ${p}`, filter.status)
    .add((p) => `(created_at, id) < (SELECT created_at, id FROM deployments WHERE id = ${p})`, before);
  const rows = await q.query(
    `SELECT * FROM deployments ${where.sql} ORDER BY created_at DESC, id DESC LIMIT ${where.next(limit + 1)}`,
    where.params,
  );
  return page(rows.map(toDeployment), limit, (d) => d.id);
}

export interface DeployedFiles {
  version: number;
  deploymentId: string;
  deployedAt: string;
  files: Record<string, string>;
}

/** What the last successful deployment of a cluster wrote. */
export async function lastDeployedFiles(q: Queryable, cluster: string): Promise<DeployedFiles | undefined> {
  const rows = await q.query(
    'SELECT * FROM deployed_files WHERE cluster = $1 ORDER BY version DESC LIMIT 1',
    [cluster],
  );
  const row = rows[0];
  if (!row) return undefined;
  return {
    version: Number(row.version),
    deploymentId: String(row.deployment_id),
    deployedAt: iso(row.deployed_at),
    files: json(row.files),
  };
}

export async function recordDeployedFiles(
  q: Queryable,
  cluster: string,
  deploymentId: string,
  files: Record<string, string>,
): Promise<void> {
  await q.query(
    `INSERT INTO deployed_files (cluster, version, deployment_id, files)
     SELECT $1, COALESCE(MAX(version), 0) + 1, $2, $3 FROM deployed_files WHERE cluster = $1`,
    [cluster, deploymentId, JSON.stringify(files)],
  );
}
