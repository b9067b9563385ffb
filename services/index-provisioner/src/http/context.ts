import type { MetricsRegistry, Principal } from '@fleet/chassis';
import type { Db } from '@fleet/chassis/db';
import type { AutoDeployer, Deployer } from '../deploy/deployer.js';
import { type Caller, callerOf } from '../domain/access.js';
import type { Settings } from '../domain/state.js';
import { DomainError } from '../domain/validation.js';
import { decodeCursor, type IndexRecord, type RoleRecord } from '../store.js';

/** What route handlers share. */
export class Context {
  readonly #changes;

  constructor(
    readonly db: Db,
    readonly settings: Settings,
    readonly adminScope: string,
    readonly deployer: Deployer,
    readonly autoDeploy: AutoDeployer | undefined,
    metrics: MetricsRegistry,
  ) {
    this.#changes = metrics.counter<'action'>({
      name: 'index_provisioner_changes_total',
      help: 'Changes made through the API, by action',
      labelNames: ['action'],
    });
  }

  caller(request: { principal: Principal | null }): Caller {
    return callerOf(request.principal, this.adminScope);
  }

  /** Count a change and schedule the automatic deployment of the clusters it affects. */
  changed(action: string, clusters: Iterable<string>): void {
    this.#changes.inc({ action });
    if (!this.autoDeploy) return;
    this.autoDeploy.schedule([...clusters].filter((c) => Object.hasOwn(this.settings.clusters, c)));
  }
}

export function cursorKey(cursor: string | undefined): string | undefined {
  if (cursor === undefined) return undefined;
  const key = decodeCursor(cursor);
  if (key === undefined)
    throw new DomainError(400, 'invalid_cursor', 'cursor is not one this API returned', 'cursor');
  return key;
}

export function indexView(index: IndexRecord) {
  return {
    name: index.name,
    datatype: index.datatype,
    retention: {
      frozenTimePeriodInSecs: index.frozenTimePeriodInSecs,
      days: Math.round((index.frozenTimePeriodInSecs / 86400) * 1000) / 1000,
    },
    maxTotalDataSizeMB: index.maxTotalDataSizeMB,
    owner: index.owner,
    cluster: index.cluster,
    description: index.description,
    disabled: index.disabled,
    createdBy: index.createdBy,
    createdAt: index.createdAt,
    updatedAt: index.updatedAt,
  };
}

export function roleView(role: RoleRecord) {
  return {
    name: role.name,
    owner: role.owner,
    indexesAllowed: role.indexesAllowed,
    defaultIndexes: role.defaultIndexes,
    importRoles: role.importRoles,
    groups: role.groups,
    createdBy: role.createdBy,
    createdAt: role.createdAt,
    updatedAt: role.updatedAt,
  };
}

export const STATUS_TEXT: Record<number, string> = {
  400: 'Bad Request',
  403: 'Forbidden',
  404: 'Not Found',
  409: 'Conflict',
  422: 'Unprocessable Entity',
};
