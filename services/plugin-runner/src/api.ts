/**
 * The admin API: /v1/plugins and /v1/instances (list, create, read, patch, delete, run now).
 * Bad input is a 400 with a machine-readable body: `validation_failed` (request shape, from the
 * route schemas) or `invalid_instance` (plugin config, schedule, secret references), each listing
 * `details: [{ path, message }]`.
 */
import type { Service } from '@fleet/chassis';
import { circuitView } from './circuit.js';
import {
  checkInstanceDefinition,
  checkPluginConfig,
  checkSchedule,
  INSTANCE_ID,
  type PluginRunnerConfig,
} from './config.js';
import type { ValidationIssue } from './json-schema.js';
import type { Plugin } from './plugin.js';
import { instanceFlag, pluginFlag, type Runner } from './runner.js';
import { parseSchedule } from './schedule.js';
import { redactConfig, type SecretPolicy } from './secrets.js';
import type { InstanceWithState, RunRecord, Store } from './store.js';

export interface ApiDeps {
  store: Store;
  runner: Runner;
  plugins: ReadonlyMap<string, Plugin>;
  secrets: SecretPolicy;
  config: PluginRunnerConfig;
}

const ID_PARAMS = {
  type: 'object',
  required: ['id'],
  properties: { id: { type: 'string', pattern: INSTANCE_ID.source } },
} as const;

const SCHEDULE = {
  anyOf: [
    { type: 'string', minLength: 1 },
    {
      type: 'object',
      properties: {
        every: { anyOf: [{ type: 'string' }, { type: 'number' }] },
        cron: { type: 'string', minLength: 1 },
        timezone: { type: 'string', minLength: 1 },
      },
      additionalProperties: false,
    },
  ],
} as const;

const CREATE_BODY = {
  type: 'object',
  required: ['id', 'plugin', 'schedule'],
  additionalProperties: false,
  properties: {
    id: { type: 'string', pattern: INSTANCE_ID.source },
    plugin: { type: 'string', minLength: 1, maxLength: 63 },
    description: { type: 'string', maxLength: 500 },
    config: { type: 'object' },
    schedule: SCHEDULE,
    enabled: { type: 'boolean' },
  },
} as const;

const PATCH_BODY = {
  type: 'object',
  minProperties: 1,
  additionalProperties: false,
  properties: {
    description: { type: 'string', maxLength: 500 },
    config: { type: 'object' },
    schedule: SCHEDULE,
    enabled: { type: 'boolean' },
    version: { type: 'integer', minimum: 1 },
  },
} as const;

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** RFC 7396 JSON merge patch: objects merge, null deletes, anything else replaces. */
export function mergePatch(target: unknown, patch: unknown): unknown {
  if (!isRecord(patch)) return patch;
  const out: Record<string, unknown> = isRecord(target) ? { ...target } : {};
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) delete out[key];
    else out[key] = mergePatch(out[key], value);
  }
  return out;
}

interface Reply {
  code(statusCode: number): { send(payload?: unknown): unknown };
}

function problem(
  reply: Reply,
  statusCode: number,
  code: string,
  message: string,
  details?: ValidationIssue[],
) {
  const error =
    statusCode === 400
      ? 'Bad Request'
      : statusCode === 404
        ? 'Not Found'
        : statusCode === 409
          ? 'Conflict'
          : 'Error';
  return reply.code(statusCode).send({ statusCode, error, code, message, ...(details ? { details } : {}) });
}

function iso(date: Date | null): string | null {
  return date ? date.toISOString() : null;
}

function view(instance: InstanceWithState, deps: ApiDeps, runs?: RunRecord[]) {
  const { state } = instance;
  const now = Date.now();
  const leaseLive =
    state.leaseHolder !== null && state.leaseExpiresAt !== null && state.leaseExpiresAt.getTime() > now;
  const circuit = {
    failures: state.consecutiveFailures,
    openUntil: state.circuitOpenUntil ? state.circuitOpenUntil.getTime() : null,
    opens: state.circuitOpens,
  };
  let scheduleText: string;
  try {
    scheduleText = parseSchedule(instance.schedule).text;
  } catch {
    scheduleText = 'invalid';
  }
  const switches = deps.runner.flagState(instance.plugin, instance.id);
  const pluginOn = switches.plugin;
  const instanceOn = switches.instance;
  return {
    id: instance.id,
    plugin: instance.plugin,
    description: instance.description,
    source: instance.source,
    enabled: instance.enabled,
    schedule: instance.schedule,
    schedule_text: scheduleText,
    config: redactConfig(instance.config),
    version: instance.version,
    created_by: instance.createdBy,
    created_at: iso(instance.createdAt),
    updated_at: iso(instance.updatedAt),
    status: {
      paused_by_flag: !(pluginOn && instanceOn),
      flags: { [pluginFlag(instance.plugin)]: pluginOn, [instanceFlag(instance.id)]: instanceOn },
      running: leaseLive,
      lease: leaseLive
        ? {
            holder: state.leaseHolder,
            fencing_token: state.fencingToken,
            expires_at: iso(state.leaseExpiresAt),
          }
        : null,
      fencing_token: state.fencingToken,
      next_run_at: iso(state.nextRunAt),
      run_requested: state.runRequestedAt !== null,
      cursor: state.cursor,
      cursor_seq: state.cursorSeq,
      cursor_updated_at: iso(state.cursorUpdatedAt),
      newest_event_at: iso(state.newestEventAt),
      lag_seconds: state.newestEventAt ? Math.max(0, (now - state.newestEventAt.getTime()) / 1000) : null,
      circuit: {
        state: circuitView(circuit, now, deps.config.runner.circuit.threshold),
        consecutive_failures: state.consecutiveFailures,
        open_until: iso(state.circuitOpenUntil),
      },
      last_run: state.lastRun,
      last_success_at: iso(state.lastSuccessAt),
      errors: state.recentErrors,
      totals: { runs: state.runsTotal, pages: state.pagesTotal, events: state.eventsTotal },
    },
    ...(runs
      ? {
          runs: runs.map((r) => ({
            id: r.id,
            replica: r.replica,
            fencing_token: r.fencingToken,
            started_at: iso(r.startedAt),
            finished_at: iso(r.finishedAt),
            outcome: r.outcome,
            pages: r.pages,
            events: r.events,
            error: r.error,
          })),
        }
      : {}),
  };
}

export function registerApi(app: Service['app'], deps: ApiDeps): void {
  const { store, runner, plugins, config } = deps;
  const read = { auth: { scopes: [config.api.readScope] } };
  const write = { auth: { scopes: [config.api.writeScope] } };
  const context = { plugins, secrets: deps.secrets, minIntervalMs: config.runner.minIntervalMs };

  app.get('/v1/plugins', read, async () => ({
    plugins: [...plugins.values()].map((p) => ({
      name: p.name,
      version: p.version,
      description: p.description ?? '',
      config_schema: typeof p.configSchema === 'function' ? null : p.configSchema,
      flag: pluginFlag(p.name),
    })),
  }));

  app.get<{ Querystring: { plugin?: string } }>(
    '/v1/instances',
    {
      ...read,
      schema: {
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: { plugin: { type: 'string' } },
        },
      },
    },
    async (request) => ({ instances: (await store.list(request.query.plugin)).map((i) => view(i, deps)) }),
  );

  app.post<{ Body: Record<string, unknown> }>(
    '/v1/instances',
    { ...write, idempotent: true, schema: { body: CREATE_BODY } },
    async (request, reply) => {
      const { def, issues } = checkInstanceDefinition(request.body, context);
      if (!def) return problem(reply, 400, 'invalid_instance', 'the instance definition is invalid', issues);
      const created = await store.create(def, 'api', request.principal?.subject ?? '', new Date());
      if (!created) return problem(reply, 409, 'instance_exists', `instance '${def.id}' already exists`);
      runner.enabled(def.plugin, def.id);
      runner.kick();
      const full = await store.get(def.id);
      return reply.code(201).header('location', `/v1/instances/${def.id}`).send(view(full!, deps));
    },
  );

  app.get<{ Params: { id: string } }>(
    '/v1/instances/:id',
    { ...read, schema: { params: ID_PARAMS } },
    async (request, reply) => {
      const instance = await store.get(request.params.id);
      if (!instance) return problem(reply, 404, 'instance_not_found', `no instance '${request.params.id}'`);
      return view(instance, deps, await store.runs(instance.id, 10));
    },
  );

  app.patch<{ Params: { id: string }; Body: Record<string, unknown> }>(
    '/v1/instances/:id',
    { ...write, schema: { params: ID_PARAMS, body: PATCH_BODY } },
    async (request, reply) => {
      const existing = await store.get(request.params.id);
      if (!existing) return problem(reply, 404, 'instance_not_found', `no instance '${request.params.id}'`);
      if (existing.source === 'config')
        return problem(
          reply,
          409,
          'managed_by_config',
          `instance '${existing.id}' comes from configuration: change it there (pause it with flag ${instanceFlag(existing.id)})`,
        );
      const body = request.body;
      const issues: ValidationIssue[] = [];
      let nextConfig: Record<string, unknown> | undefined;
      if (body.config !== undefined) {
        nextConfig = mergePatch(existing.config, body.config) as Record<string, unknown>;
        const plugin = plugins.get(existing.plugin);
        if (!plugin)
          issues.push({ path: '/plugin', message: `plugin '${existing.plugin}' is not installed` });
        else issues.push(...checkPluginConfig(plugin, nextConfig, deps.secrets));
      }
      let nextRunAt: Date | undefined;
      const schedule =
        body.schedule !== undefined ? checkSchedule(body.schedule, config.runner.minIntervalMs) : undefined;
      if (schedule) {
        issues.push(...schedule.issues);
        if (schedule.spec) nextRunAt = parseSchedule(schedule.spec).next(new Date());
      }
      if (issues.length > 0) return problem(reply, 400, 'invalid_instance', 'the change is invalid', issues);
      const updated = await store.update(
        existing.id,
        {
          ...(nextConfig !== undefined ? { config: nextConfig } : {}),
          ...(schedule?.spec ? { schedule: schedule.spec } : {}),
          ...(body.enabled !== undefined ? { enabled: body.enabled as boolean } : {}),
          ...(body.description !== undefined ? { description: body.description as string } : {}),
        },
        nextRunAt,
        body.version as number | undefined,
      );
      if (!updated) {
        if (body.version !== undefined)
          return problem(
            reply,
            409,
            'version_conflict',
            `instance '${existing.id}' changed since version ${String(body.version)}`,
          );
        return problem(reply, 404, 'instance_not_found', `no instance '${existing.id}'`);
      }
      runner.kick();
      return view((await store.get(existing.id))!, deps);
    },
  );

  app.delete<{ Params: { id: string } }>(
    '/v1/instances/:id',
    { ...write, schema: { params: ID_PARAMS } },
    async (request, reply) => {
      const existing = await store.get(request.params.id);
      if (!existing) return problem(reply, 404, 'instance_not_found', `no instance '${request.params.id}'`);
      if (existing.source === 'config')
        return problem(
          reply,
          409,
          'managed_by_config',
          `instance '${existing.id}' comes from configuration: remove it there`,
        );
      await store.remove(existing.id);
      return reply.code(204).send();
    },
  );

  app.post<{ Params: { id: string } }>(
    '/v1/instances/:id/run',
    { ...write, schema: { params: ID_PARAMS } },
    async (request, reply) => {
      const existing = await store.get(request.params.id);
      if (!existing) return problem(reply, 404, 'instance_not_found', `no instance '${request.params.id}'`);
      if (!existing.enabled)
        return problem(
          reply,
          409,
          'instance_disabled',
          `instance '${existing.id}' is disabled (PATCH enabled: true)`,
        );
      if (!runner.enabled(existing.plugin, existing.id))
        return problem(
          reply,
          409,
          'instance_paused',
          `instance '${existing.id}' is paused by flag ${pluginFlag(existing.plugin)} or ${instanceFlag(existing.id)}`,
        );
      const nextRunAt = await store.requestRun(existing.id);
      runner.kick();
      return reply
        .code(202)
        .send({ id: existing.id, run_requested: true, next_run_at: iso(nextRunAt ?? null) });
    },
  );
}
