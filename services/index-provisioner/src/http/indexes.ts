import { sqlState, UNIQUE_VIOLATION } from '@fleet/chassis/db';
import { ownerFor, requireOwner, SCOPES } from '../domain/access.js';
import { clusterConfig } from '../domain/state.js';
import { DomainError, validateIndexName, validateText } from '../domain/validation.js';
import { getIndex, insertAudit, insertIndex, listIndexes, updateIndex } from '../store.js';
import type { App } from '../types.js';
import { type Context, cursorKey, indexView } from './context.js';
import {
  clusterName,
  createIndexBody,
  documented,
  index,
  indexName,
  pageOf,
  pageQuery,
  patchIndexBody,
  teamName,
} from './schemas.js';

type Retention = { days: number } | { frozenTimePeriodInSecs: number };

interface CreateIndexBody {
  name: string;
  datatype: 'event' | 'metric';
  retention: Retention;
  maxTotalDataSizeMB: number;
  owner: string;
  cluster: string;
  description?: string;
}

interface PatchIndexBody {
  retention?: Retention;
  maxTotalDataSizeMB?: number;
  description?: string;
}

export function retentionSecs(retention: Retention): number {
  return 'days' in retention ? retention.days * 86400 : retention.frozenTimePeriodInSecs;
}

const nameParams = {
  type: 'object',
  required: ['name'],
  additionalProperties: false,
  properties: { name: indexName },
};

const notFound = (name: string) => new DomainError(404, 'index_not_found', `no index '${name}'`, 'name');

export function indexRoutes(app: App, ctx: Context): void {
  const { db, settings } = ctx;
  const tags = ['indexes'];

  app.post<{ Body: CreateIndexBody }>(
    '/v1/indexes',
    {
      auth: { scopes: [SCOPES.write] },
      idempotent: true,
      schema: documented({
        summary: 'Create an index',
        description:
          'The owner must be one of your teams (token `team` claim) unless you hold the admin scope. Names are unique across clusters.',
        tags,
        body: createIndexBody,
        response: { 201: { ...index, description: 'Created' } },
      }),
    },
    async (request, reply) => {
      const caller = ctx.caller(request);
      const body = request.body;
      validateIndexName(body.name);
      clusterConfig(settings, body.cluster);
      ownerFor(caller, body.owner);
      if (body.description !== undefined) validateText(body.description, 'description');
      let created: Awaited<ReturnType<typeof insertIndex>>;
      try {
        created = await db.transaction(async (tx) => {
          const record = await insertIndex(tx, {
            name: body.name,
            datatype: body.datatype,
            frozenTimePeriodInSecs: retentionSecs(body.retention),
            maxTotalDataSizeMB: body.maxTotalDataSizeMB,
            owner: body.owner,
            cluster: body.cluster,
            description: body.description ?? '',
            disabled: false,
            createdBy: caller.subject,
          });
          await insertAudit(tx, {
            actor: caller.subject,
            action: 'index.create',
            resourceType: 'index',
            resourceName: record.name,
            cluster: record.cluster,
            before: null,
            after: indexView(record),
            requestId: request.id,
          });
          return record;
        });
      } catch (err) {
        if (sqlState(err) === UNIQUE_VIOLATION)
          throw new DomainError(409, 'index_exists', `index '${body.name}' already exists`, 'name');
        throw err;
      }
      ctx.changed('index.create', [created.cluster]);
      reply.code(201).header('location', `/v1/indexes/${created.name}`);
      return indexView(created);
    },
  );

  app.get<{
    Querystring: {
      cluster?: string;
      owner?: string;
      datatype?: string;
      disabled?: boolean;
      limit: number;
      cursor?: string;
    };
  }>(
    '/v1/indexes',
    {
      auth: { scopes: [SCOPES.read] },
      schema: documented({
        summary: 'List indexes',
        tags,
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: {
            cluster: clusterName,
            owner: teamName,
            datatype: { type: 'string', enum: ['event', 'metric'] },
            disabled: { type: 'boolean' },
            ...pageQuery,
          },
        },
        response: { 200: pageOf(index) },
      }),
    },
    async (request) => {
      const { limit, cursor, ...filter } = request.query;
      const page = await listIndexes(db, filter, limit, cursorKey(cursor));
      return { items: page.items.map(indexView), nextCursor: page.nextCursor };
    },
  );

  app.get<{ Params: { name: string } }>(
    '/v1/indexes/:name',
    {
      auth: { scopes: [SCOPES.read] },
      schema: documented({ summary: 'Get an index', tags, params: nameParams, response: { 200: index } }),
    },
    async (request) => {
      const found = await getIndex(db, request.params.name);
      if (!found) throw notFound(request.params.name);
      return indexView(found);
    },
  );

  app.patch<{ Params: { name: string }; Body: PatchIndexBody }>(
    '/v1/indexes/:name',
    {
      auth: { scopes: [SCOPES.write] },
      idempotent: true,
      schema: documented({
        summary: 'Change retention, size or description',
        description: "Only the owner team or an admin. A deleted (disabled) index can't be changed.",
        tags,
        params: nameParams,
        body: patchIndexBody,
        response: { 200: index },
      }),
    },
    async (request) => {
      const caller = ctx.caller(request);
      const body = request.body;
      if (body.description !== undefined) validateText(body.description, 'description');
      const { name } = request.params;
      const result = await db.transaction(async (tx) => {
        const before = await getIndex(tx, name, true);
        if (!before) throw notFound(name);
        requireOwner(caller, before.owner, `index '${name}'`);
        if (before.disabled)
          throw new DomainError(409, 'index_disabled', `index '${name}' is deleted (disabled)`, 'name');
        const change = {
          ...(body.retention ? { frozenTimePeriodInSecs: retentionSecs(body.retention) } : {}),
          ...(body.maxTotalDataSizeMB !== undefined ? { maxTotalDataSizeMB: body.maxTotalDataSizeMB } : {}),
          ...(body.description !== undefined ? { description: body.description } : {}),
        };
        const unchanged = Object.entries(change).every(
          ([key, value]) => before[key as keyof typeof before] === value,
        );
        if (unchanged) return { record: before, changed: false };
        const after = await updateIndex(tx, name, change);
        await insertAudit(tx, {
          actor: caller.subject,
          action: 'index.update',
          resourceType: 'index',
          resourceName: name,
          cluster: after.cluster,
          before: indexView(before),
          after: indexView(after),
          requestId: request.id,
        });
        return { record: after, changed: true };
      });
      if (result.changed) ctx.changed('index.update', [result.record.cluster]);
      return indexView(result.record);
    },
  );

  app.delete<{ Params: { name: string } }>(
    '/v1/indexes/:name',
    {
      auth: { scopes: [SCOPES.write] },
      schema: documented({
        summary: 'Delete an index (disable it; its data is kept)',
        description:
          'Marks the index `disabled = true` in indexes.conf. The service never deletes data; the name stays taken.',
        tags,
        params: nameParams,
        response: { 200: index },
      }),
    },
    async (request) => {
      const caller = ctx.caller(request);
      const { name } = request.params;
      const result = await db.transaction(async (tx) => {
        const before = await getIndex(tx, name, true);
        if (!before) throw notFound(name);
        requireOwner(caller, before.owner, `index '${name}'`);
        if (before.disabled) return { record: before, changed: false };
        const after = await updateIndex(tx, name, { disabled: true });
        await insertAudit(tx, {
          actor: caller.subject,
          action: 'index.delete',
          resourceType: 'index',
          resourceName: name,
          cluster: after.cluster,
          before: indexView(before),
          after: indexView(after),
          requestId: request.id,
        });
        return { record: after, changed: true };
      });
      if (result.changed) ctx.changed('index.delete', [result.record.cluster]);
      return indexView(result.record);
    },
  );
}
