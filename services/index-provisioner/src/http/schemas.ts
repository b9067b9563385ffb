import { LIMITS, SCHEMA_PATTERNS } from '../domain/validation.js';

/** JSON schemas of the API: Fastify validates requests and serialises responses with them, and the OpenAPI document is built from them. */

const str = (extra: Record<string, unknown> = {}) => ({ type: 'string', ...extra });
const dateTime = { type: 'string', format: 'date-time' };

export const indexName = str({
  pattern: SCHEMA_PATTERNS.index,
  maxLength: 80,
  description: 'Splunk index name',
});
export const roleName = str({
  pattern: SCHEMA_PATTERNS.role,
  maxLength: 64,
  description: 'Splunk role name (without role_)',
});
export const teamName = str({ pattern: SCHEMA_PATTERNS.team, maxLength: 64 });
export const clusterName = str({ pattern: SCHEMA_PATTERNS.cluster, maxLength: 64 });
export const freeText = str({ pattern: SCHEMA_PATTERNS.text, maxLength: LIMITS.description });

const retention = {
  type: 'object',
  description:
    'Exactly one of: days, or frozenTimePeriodInSecs (Splunk freezes, i.e. deletes or archives, older buckets)',
  additionalProperties: false,
  minProperties: 1,
  maxProperties: 1,
  properties: {
    days: { type: 'integer', minimum: LIMITS.retentionDays.min, maximum: LIMITS.retentionDays.max },
    frozenTimePeriodInSecs: {
      type: 'integer',
      minimum: LIMITS.frozenSecs.min,
      maximum: LIMITS.frozenSecs.max,
    },
  },
};

const maxTotalDataSizeMB = {
  type: 'integer',
  minimum: LIMITS.maxTotalDataSizeMB.min,
  maximum: LIMITS.maxTotalDataSizeMB.max,
  description: 'Maximum size of the index in MB (Splunk freezes the oldest buckets beyond it)',
};

export const createIndexBody = {
  type: 'object',
  additionalProperties: false,
  required: ['name', 'datatype', 'retention', 'maxTotalDataSizeMB', 'owner', 'cluster'],
  properties: {
    name: indexName,
    datatype: { type: 'string', enum: ['event', 'metric'] },
    retention,
    maxTotalDataSizeMB,
    owner: { ...teamName, description: 'Team owning the index: only that team (or an admin) may change it' },
    cluster: { ...clusterName, description: 'Cluster (deployment target) the index lives on' },
    description: freeText,
  },
};

export const patchIndexBody = {
  type: 'object',
  additionalProperties: false,
  minProperties: 1,
  properties: { retention, maxTotalDataSizeMB, description: freeText },
};

export const index = {
  type: 'object',
  required: [
    'name',
    'datatype',
    'retention',
    'maxTotalDataSizeMB',
    'owner',
    'cluster',
    'description',
    'disabled',
  ],
  properties: {
    name: { type: 'string' },
    datatype: { type: 'string', enum: ['event', 'metric'] },
    retention: {
      type: 'object',
      properties: { frozenTimePeriodInSecs: { type: 'integer' }, days: { type: 'number' } },
    },
    maxTotalDataSizeMB: { type: 'integer' },
    owner: { type: 'string' },
    cluster: { type: 'string' },
    description: { type: 'string' },
    disabled: { type: 'boolean', description: 'Deleted through the API: disabled in Splunk, data kept' },
    createdBy: { type: 'string' },
    createdAt: dateTime,
    updatedAt: dateTime,
  },
};

const indexRefs = {
  type: 'array',
  maxItems: LIMITS.listItems,
  uniqueItems: true,
  items: str({ pattern: SCHEMA_PATTERNS.indexRef, maxLength: 80 }),
};

export const putRoleBody = {
  type: 'object',
  additionalProperties: false,
  required: ['indexesAllowed'],
  properties: {
    indexesAllowed: {
      ...indexRefs,
      description: 'srchIndexesAllowed: indexes (or, for admins, wildcards) the role may search',
    },
    defaultIndexes: {
      ...indexRefs,
      description: 'srchIndexesDefault: searched when a search names no index',
    },
    importRoles: {
      type: 'array',
      maxItems: LIMITS.listItems,
      uniqueItems: true,
      items: roleName,
      description: 'Roles whose capabilities and indexes this role inherits',
    },
    groups: {
      type: 'array',
      maxItems: LIMITS.groups,
      uniqueItems: true,
      items: str({ pattern: SCHEMA_PATTERNS.group, maxLength: LIMITS.group }),
      description: 'Directory (LDAP/SAML) groups mapped to this role in authentication.conf',
    },
    owner: { ...teamName, description: "Team managing the role (default: the caller's team)" },
  },
};

export const role = {
  type: 'object',
  required: ['name', 'owner', 'indexesAllowed', 'defaultIndexes', 'importRoles', 'groups'],
  properties: {
    name: { type: 'string' },
    owner: { type: 'string' },
    indexesAllowed: { type: 'array', items: { type: 'string' } },
    defaultIndexes: { type: 'array', items: { type: 'string' } },
    importRoles: { type: 'array', items: { type: 'string' } },
    groups: { type: 'array', items: { type: 'string' } },
    createdBy: { type: 'string' },
    createdAt: dateTime,
    updatedAt: dateTime,
  },
};

export const pageQuery = {
  limit: { type: 'integer', minimum: 1, maximum: 500, default: 50 },
  cursor: { type: 'string', maxLength: 200, description: 'nextCursor of the previous page' },
};

export const pageOf = (item: object) => ({
  type: 'object',
  required: ['items', 'nextCursor'],
  properties: {
    items: { type: 'array', items: item },
    nextCursor: {
      type: ['string', 'null'],
      description: 'Pass as cursor for the next page; null on the last page',
    },
  },
});

export const auditRecord = {
  type: 'object',
  properties: {
    id: { type: 'string' },
    at: dateTime,
    actor: { type: 'string', description: 'Token subject' },
    action: { type: 'string' },
    resourceType: { type: 'string' },
    resourceName: { type: 'string' },
    cluster: { type: ['string', 'null'] },
    before: { description: 'The resource before the change (null on create)' },
    after: { description: 'The resource after the change (null on delete)' },
    requestId: { type: ['string', 'null'] },
  },
};

const fileHash = {
  type: 'object',
  properties: { name: { type: 'string' }, sha256: { type: 'string' }, bytes: { type: 'integer' } },
};

export const deployment = {
  type: 'object',
  properties: {
    id: { type: 'string' },
    cluster: { type: 'string' },
    status: { type: 'string', enum: ['running', 'succeeded', 'failed', 'rolled_back'] },
    requestedBy: { type: 'string' },
    requestId: { type: ['string', 'null'] },
    target: { type: 'string' },
    files: { type: 'array', items: fileHash },
    steps: {
      type: 'array',
      items: {
        type: 'object',
        properties: {
          name: { type: 'string' },
          status: { type: 'string' },
          startedAt: dateTime,
          finishedAt: dateTime,
          detail: { type: 'string' },
          error: { type: 'string' },
        },
      },
    },
    error: { type: ['string', 'null'] },
    createdAt: dateTime,
    updatedAt: dateTime,
    finishedAt: { type: ['string', 'null'], format: 'date-time' },
  },
};

export const renderResult = {
  type: 'object',
  properties: {
    cluster: { type: 'string' },
    clustered: { type: 'boolean' },
    lastDeployment: {
      type: ['object', 'null'],
      properties: { deploymentId: { type: 'string' }, version: { type: 'integer' }, deployedAt: dateTime },
    },
    files: {
      type: 'array',
      items: {
        type: 'object',
        properties: {
          name: { type: 'string' },
          sha256: { type: 'string' },
          bytes: { type: 'integer' },
          changed: { type: 'boolean', description: 'Differs from what was last deployed' },
          content: { type: 'string' },
          diff: {
            type: 'string',
            description: 'Unified diff from the last deployed version (empty: unchanged)',
          },
        },
      },
    },
  },
};

export const importBody = {
  type: 'object',
  additionalProperties: false,
  required: ['text', 'cluster', 'owner'],
  properties: {
    text: { type: 'string', maxLength: 5 * 1024 * 1024, description: 'An existing indexes.conf' },
    cluster: clusterName,
    owner: teamName,
    dryRun: { type: 'boolean', default: false, description: 'Report what would be imported, change nothing' },
  },
};

export const importResult = {
  type: 'object',
  properties: {
    dryRun: { type: 'boolean' },
    imported: { type: 'array', items: index },
    skipped: {
      type: 'array',
      items: {
        type: 'object',
        properties: {
          name: { type: 'string' },
          line: { type: 'integer' },
          code: { type: 'string' },
          reason: { type: 'string' },
        },
      },
    },
    warnings: {
      type: 'array',
      items: { type: 'object', properties: { line: { type: 'integer' }, message: { type: 'string' } } },
    },
  },
};

/** Error body of every 4xx (chassis format; domain errors add `field`). */
export const errorBody = {
  type: 'object',
  required: ['statusCode', 'error', 'code', 'message'],
  properties: {
    statusCode: { type: 'integer' },
    error: { type: 'string' },
    code: { type: 'string', description: 'Machine-readable error code' },
    message: { type: 'string' },
    field: { type: 'string', description: 'The request field at fault (domain errors)' },
    details: {
      type: 'array',
      description: 'Schema validation failures: one per problem',
      items: { type: 'object', properties: { path: { type: 'string' }, message: { type: 'string' } } },
    },
  },
};

/**
 * A route schema with OpenAPI annotations (summary, description, tags) next to Fastify's keys;
 * Fastify ignores the annotations, the OpenAPI collector reads them.
 */
export function documented<T extends { summary: string; tags: string[]; description?: string }>(
  schema: T,
): T {
  return schema;
}
