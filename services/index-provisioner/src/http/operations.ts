import { unifiedDiff } from '../conf/diff.js';
import { parseConf } from '../conf/parser.js';
import { indexesFromConf, indexStanzas } from '../conf/render.js';
import { ownerFor, SCOPES } from '../domain/access.js';
import { clusterConfig, fileHashes, renderCluster } from '../domain/state.js';
import { checkRange, DomainError, LIMITS, validateIndexName, validateText } from '../domain/validation.js';
import {
  getDeployment,
  getIndex,
  type IndexRecord,
  insertAudit,
  insertIndex,
  lastDeployedFiles,
  listAudit,
  listDeployments,
} from '../store.js';
import type { App } from '../types.js';
import { type Context, cursorKey, indexView } from './context.js';
import {
  auditRecord,
  clusterName,
  deployment,
  documented,
  importBody,
  importResult,
  pageOf,
  pageQuery,
  renderResult,
} from './schemas.js';

/** Settings the service renders; an imported index's other settings are reported, not kept. */
const MANAGED_KEYS = new Set([
  'homePath',
  'coldPath',
  'thawedPath',
  'datatype',
  'frozenTimePeriodInSecs',
  'maxTotalDataSizeMB',
  'repFactor',
  'disabled',
]);

export function operationRoutes(app: App, ctx: Context): void {
  const { db, settings } = ctx;

  // -------------------------------------------------------------------------------------------
  // Audit log

  app.get<{
    Querystring: {
      action?: string;
      resourceType?: string;
      resourceName?: string;
      actor?: string;
      cluster?: string;
      since?: string;
      until?: string;
      limit: number;
      cursor?: string;
    };
  }>(
    '/v1/audit',
    {
      auth: { scopes: [SCOPES.read] },
      schema: documented({
        summary: 'Read the audit log (newest first)',
        description: 'One record per change: who (token subject), when, action, before, after, request id.',
        tags: ['audit'],
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: {
            action: {
              type: 'string',
              maxLength: 64,
              description: 'e.g. index.create, role.update, deployment.start',
            },
            resourceType: { type: 'string', enum: ['index', 'role', 'deployment'] },
            resourceName: { type: 'string', maxLength: 128 },
            actor: { type: 'string', maxLength: 256 },
            cluster: clusterName,
            since: { type: 'string', format: 'date-time' },
            until: { type: 'string', format: 'date-time' },
            ...pageQuery,
          },
        },
        response: { 200: pageOf(auditRecord) },
      }),
    },
    async (request) => {
      const { limit, cursor, ...filter } = request.query;
      const before = cursorKey(cursor);
      if (before !== undefined && !/^\d+$/.test(before))
        throw new DomainError(400, 'invalid_cursor', 'cursor is not one this API returned', 'cursor');
      return listAudit(db, filter, limit, before);
    },
  );

  // -------------------------------------------------------------------------------------------
  // Render preview

  app.get<{ Querystring: { cluster: string; content: boolean } }>(
    '/v1/render',
    {
      auth: { scopes: [SCOPES.read] },
      schema: documented({
        summary: "Preview a cluster's files and their diff against the last deployment",
        tags: ['deployments'],
        querystring: {
          type: 'object',
          additionalProperties: false,
          required: ['cluster'],
          properties: {
            cluster: clusterName,
            content: { type: 'boolean', default: true, description: 'Include file contents' },
          },
        },
        response: { 200: renderResult },
      }),
    },
    async (request) => {
      const { cluster } = request.query;
      const config = clusterConfig(settings, cluster);
      const [files, deployed] = await Promise.all([
        renderCluster(db, settings, cluster),
        lastDeployedFiles(db, cluster),
      ]);
      const hashes = fileHashes(files);
      return {
        cluster,
        clustered: config.clustered,
        lastDeployment: deployed
          ? {
              deploymentId: deployed.deploymentId,
              version: deployed.version,
              deployedAt: deployed.deployedAt,
            }
          : null,
        files: hashes.map((hash) => {
          const content = files[hash.name]!;
          const previous = deployed?.files[hash.name] ?? '';
          return {
            ...hash,
            changed: previous !== content,
            ...(request.query.content ? { content } : {}),
            diff: unifiedDiff(previous, content, {
              from: `a/${hash.name} (${deployed ? `deployed v${deployed.version}` : 'never deployed'})`,
              to: `b/${hash.name} (rendered)`,
            }),
          };
        }),
      };
    },
  );

  // -------------------------------------------------------------------------------------------
  // Import an existing indexes.conf

  app.post<{ Body: { text: string; cluster: string; owner: string; dryRun: boolean } }>(
    '/v1/import',
    {
      auth: { scopes: [SCOPES.write] },
      idempotent: true,
      schema: documented({
        summary: 'Adopt the indexes of an existing indexes.conf',
        description:
          'Each index stanza becomes a managed index of `owner` on `cluster`. Stanzas that break the naming rules, already exist, or whose paths differ from the templates (the data would move) are skipped with a reason. Settings the service does not render are reported as warnings.',
        tags: ['indexes'],
        body: importBody,
        response: { 200: importResult },
      }),
    },
    async (request) => {
      const caller = ctx.caller(request);
      const { text, cluster, owner, dryRun } = request.body;
      clusterConfig(settings, cluster);
      ownerFor(caller, owner);
      const conf = parseConf(text);
      const warnings = [...conf.warnings];
      const skipped: Array<{ name: string; line: number; code: string; reason: string }> = [];
      const candidates: Array<Parameters<typeof insertIndex>[1]> = [];
      const lines = new Map(indexStanzas(conf).map((s) => [s.name, s.line]));
      for (const parsed of indexesFromConf(conf)) {
        const line = lines.get(parsed.name) ?? 0;
        const skip = (code: string, reason: string) =>
          skipped.push({ name: parsed.name, line, code, reason });
        try {
          validateIndexName(parsed.name);
          if (parsed.datatype !== 'event' && parsed.datatype !== 'metric')
            throw new DomainError(
              422,
              'invalid_datatype',
              `datatype '${parsed.datatype}' is not event or metric`,
            );
          checkRange(parsed.frozenTimePeriodInSecs, LIMITS.frozenSecs, 'frozenTimePeriodInSecs');
          checkRange(parsed.maxTotalDataSizeMB, LIMITS.maxTotalDataSizeMB, 'maxTotalDataSizeMB');
          validateText(parsed.description, 'description');
        } catch (err) {
          if (!(err instanceof DomainError)) throw err;
          skip(err.code, `${err.field && err.field !== 'name' ? `${err.field}: ` : ''}${err.message}`);
          continue;
        }
        // Splunk expands $_index_name in paths; the templates must give the same paths, or the data would move
        const expected = {
          homePath: settings.paths.home,
          coldPath: settings.paths.cold,
          thawedPath: settings.paths.thawed,
        };
        const moved = Object.entries(expected).filter(([key, template]) => {
          const actual = (parsed.settings[key] ?? '').split('$_index_name').join(parsed.name);
          return actual !== template.split('{name}').join(parsed.name);
        });
        if (moved.length > 0) {
          skip(
            'custom_paths',
            `${moved.map(([k]) => k).join(', ')} differ from the path templates (importing would move the data)`,
          );
          continue;
        }
        const unmanaged = Object.keys(parsed.settings).filter((k) => !MANAGED_KEYS.has(k));
        if (unmanaged.length > 0)
          warnings.push({
            line,
            message: `index '${parsed.name}': settings the service does not render will be dropped: ${unmanaged.join(', ')}`,
          });
        candidates.push({
          name: parsed.name,
          datatype: parsed.datatype,
          frozenTimePeriodInSecs: parsed.frozenTimePeriodInSecs,
          maxTotalDataSizeMB: parsed.maxTotalDataSizeMB,
          description: parsed.description,
          disabled: parsed.disabled,
          owner,
          cluster,
          createdBy: caller.subject,
        });
      }
      const imported: IndexRecord[] = [];
      await db.transaction(async (tx) => {
        for (const candidate of candidates) {
          if (await getIndex(tx, candidate.name)) {
            skipped.push({
              name: candidate.name,
              line: lines.get(candidate.name) ?? 0,
              code: 'index_exists',
              reason: 'already managed',
            });
            continue;
          }
          if (dryRun) {
            const now = new Date().toISOString();
            imported.push({ ...candidate, createdAt: now, updatedAt: now });
            continue;
          }
          const record = await insertIndex(tx, candidate);
          await insertAudit(tx, {
            actor: caller.subject,
            action: 'index.import',
            resourceType: 'index',
            resourceName: record.name,
            cluster,
            before: null,
            after: indexView(record),
            requestId: request.id,
          });
          imported.push(record);
        }
      });
      if (!dryRun && imported.length > 0) ctx.changed('index.import', [cluster]);
      skipped.sort((a, b) => a.line - b.line);
      return { dryRun, imported: imported.map(indexView), skipped, warnings };
    },
  );

  // -------------------------------------------------------------------------------------------
  // Deployments

  app.post<{ Body: { cluster: string } }>(
    '/v1/deployments',
    {
      auth: { scopes: [SCOPES.deploy] },
      idempotent: true,
      schema: documented({
        summary: 'Deploy the rendered files to a cluster',
        description:
          'Answers 202 at once; follow the deployment at its Location. One deployment per cluster at a time (409). A failed reload restores the previous files.',
        tags: ['deployments'],
        body: {
          type: 'object',
          additionalProperties: false,
          required: ['cluster'],
          properties: { cluster: clusterName },
        },
        response: { 202: { ...deployment, description: 'Started' } },
      }),
    },
    async (request, reply) => {
      const caller = ctx.caller(request);
      const record = await ctx.deployer.start(request.body.cluster, {
        actor: caller.subject,
        requestId: request.id,
      });
      reply.code(202).header('location', `/v1/deployments/${record.id}`);
      return record;
    },
  );

  app.get<{ Querystring: { cluster?: string; status?: string; limit: number; cursor?: string } }>(
    '/v1/deployments',
    {
      auth: { scopes: [SCOPES.read] },
      schema: documented({
        summary: 'List deployments (newest first)',
        tags: ['deployments'],
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: {
            cluster: clusterName,
            status: { type: 'string', enum: ['running', 'succeeded', 'failed', 'rolled_back'] },
            ...pageQuery,
          },
        },
        response: { 200: pageOf(deployment) },
      }),
    },
    async (request) => {
      const { limit, cursor, ...filter } = request.query;
      return listDeployments(db, filter, limit, cursorKey(cursor));
    },
  );

  app.get<{ Params: { id: string } }>(
    '/v1/deployments/:id',
    {
      auth: { scopes: [SCOPES.read] },
      schema: documented({
        summary: 'A deployment: status, steps and the sha256 of each file',
        tags: ['deployments'],
        params: {
          type: 'object',
          required: ['id'],
          additionalProperties: false,
          properties: { id: { type: 'string', format: 'uuid' } },
        },
        response: { 200: deployment },
      }),
    },
    async (request) => {
      const found = await getDeployment(db, request.params.id);
      if (!found)
        throw new DomainError(404, 'deployment_not_found', `no deployment '${request.params.id}'`, 'id');
      return found;
    },
  );
}
