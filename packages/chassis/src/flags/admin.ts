import type { FastifyPluginCallback, FastifyReply, FastifySchemaValidationError } from 'fastify';
import fp from 'fastify-plugin';
import type { FlagInfo, Flags } from './client.js';
import {
  FlagError,
  FlagNotFoundError,
  formatPercent,
  InvalidFlagNameError,
  isValidFlagName,
  MAX_DESCRIPTION_LENGTH,
  MAX_FLAG_VALUE,
  MAX_OWNER_LENGTH,
} from './model.js';

export interface FlagsAdminPluginOptions {
  flags: Flags;
  /** Scope a token must carry (the chassis admin scope). */
  scope: string;
}

/** A flag as the admin API shows it. */
export interface FlagItem {
  name: string;
  value: number;
  percent: string;
  source: FlagInfo['source'];
  store_value: number | null;
  default: number | null;
  override: number | null;
  description: string;
  owner: string;
  updated_at: string | null;
  updated_by: string | null;
  version: number | null;
}

export function toFlagItem(info: FlagInfo): FlagItem {
  return {
    name: info.name,
    value: info.value,
    percent: formatPercent(info.value),
    source: info.source,
    store_value: info.storeValue,
    default: info.defaultValue,
    override: info.override,
    description: info.description,
    owner: info.owner,
    updated_at: info.updatedAt,
    updated_by: info.updatedBy,
    version: info.version,
  };
}

interface PutBody {
  value: number;
  description?: string;
  owner?: string;
}

const putBodySchema = {
  type: 'object',
  required: ['value'],
  additionalProperties: false,
  properties: {
    value: { type: 'integer', minimum: 0, maximum: MAX_FLAG_VALUE },
    description: { type: 'string', maxLength: MAX_DESCRIPTION_LENGTH },
    owner: { type: 'string', maxLength: MAX_OWNER_LENGTH },
  },
} as const;

function issue(
  instancePath: string,
  keyword: string,
  message: string,
  params: Record<string, unknown> = {},
): FastifySchemaValidationError {
  return { instancePath, keyword, schemaPath: `#/${keyword}`, message, params };
}

/**
 * Validates the PUT body like ajv would for `putBodySchema`, but without type coercion: the
 * service's ajv coerces (`"25"` or `true` would become a number), and a flag value must be exact.
 */
function validatePutBody(data: unknown): true | { error: FastifySchemaValidationError[] } {
  if (typeof data !== 'object' || data === null || Array.isArray(data))
    return { error: [issue('', 'type', 'must be object', { type: 'object' })] };
  const body = data as Record<string, unknown>;
  const errors: FastifySchemaValidationError[] = [];
  for (const key of Object.keys(body)) {
    if (!(key in putBodySchema.properties))
      errors.push(
        issue('', 'additionalProperties', 'must NOT have additional properties', { additionalProperty: key }),
      );
  }
  if (!('value' in body))
    errors.push(issue('', 'required', "must have required property 'value'", { missingProperty: 'value' }));
  else if (typeof body.value !== 'number' || !Number.isInteger(body.value))
    errors.push(issue('/value', 'type', 'must be integer', { type: 'integer' }));
  else if (body.value < 0)
    errors.push(issue('/value', 'minimum', 'must be >= 0', { comparison: '>=', limit: 0 }));
  else if (body.value > MAX_FLAG_VALUE)
    errors.push(
      issue('/value', 'maximum', `must be <= ${MAX_FLAG_VALUE}`, { comparison: '<=', limit: MAX_FLAG_VALUE }),
    );
  for (const [key, max] of [
    ['description', MAX_DESCRIPTION_LENGTH],
    ['owner', MAX_OWNER_LENGTH],
  ] as const) {
    const value = body[key];
    if (value === undefined) continue;
    if (typeof value !== 'string')
      errors.push(issue(`/${key}`, 'type', 'must be string', { type: 'string' }));
    else if (value.length > max)
      errors.push(issue(`/${key}`, 'maxLength', `must NOT have more than ${max} characters`, { limit: max }));
  }
  return errors.length > 0 ? { error: errors } : true;
}

type Wildcard = { '*': string };

/**
 * The flag name of a `/admin/flags/*` route. A wildcard rather than `:name`: Fastify caps
 * parametric segments at 100 characters (414), and flag names may have 128.
 */
function flagParam(params: Wildcard): string {
  const name = params['*'];
  if (!isValidFlagName(name)) throw new InvalidFlagNameError(name);
  return name;
}

/** Server-side flag errors (store unavailable, central service failing) keep their code and message. */
function sendFlagError(reply: FastifyReply, err: unknown): FastifyReply {
  if (err instanceof FlagError && err.statusCode >= 500) {
    return reply.code(err.statusCode).send({
      statusCode: err.statusCode,
      error: err.statusCode === 503 ? 'Service Unavailable' : 'Bad Gateway',
      code: err.code,
      message: err.message,
    });
  }
  throw err;
}

/**
 * GET /admin/flags, GET|PUT|DELETE /admin/flags/:name; every route needs the admin scope. Changes
 * are audit-logged (warn) with the token subject.
 */
const flagsAdmin: FastifyPluginCallback<FlagsAdminPluginOptions> = (app, options, done) => {
  const { flags } = options;
  const auth = { scopes: [options.scope] };

  app.get('/admin/flags', { auth }, async () => {
    const status = flags.status;
    return {
      store: {
        kind: status.store,
        up: status.up,
        synced: status.synced,
        last_sync_at: status.lastSyncAt,
        age_s: Math.round(status.ageSeconds * 1000) / 1000,
      },
      flags: flags.list().map(toFlagItem),
    };
  });

  app.get<{ Params: Wildcard }>('/admin/flags/*', { auth }, async (request) => {
    const name = flagParam(request.params);
    const info = flags.get(name);
    if (!info) throw new FlagNotFoundError(name);
    return toFlagItem(info);
  });

  app.put<{ Params: Wildcard; Body: PutBody }>(
    '/admin/flags/*',
    {
      auth,
      schema: { body: putBodySchema },
      validatorCompiler: ({ httpPart }) => (httpPart === 'body' ? validatePutBody : () => true),
    },
    async (request, reply) => {
      const name = flagParam(request.params);
      const { value, description, owner } = request.body;
      const before = flags.get(name);
      const by = request.principal?.subject || 'unknown';
      let info: FlagInfo;
      try {
        info = await flags.set(name, value, {
          by,
          ...(description !== undefined ? { description } : {}),
          ...(owner !== undefined ? { owner } : {}),
        });
      } catch (err) {
        return sendFlagError(reply, err);
      }
      request.log.warn(
        {
          flag: name,
          value,
          previous: before?.storeValue ?? null,
          effective: info.value,
          source: info.source,
          by,
          ...(description !== undefined ? { description } : {}),
          ...(owner !== undefined ? { owner } : {}),
        },
        'flag changed',
      );
      return { ...toFlagItem(info), previous: before?.storeValue ?? null };
    },
  );

  app.delete<{ Params: Wildcard }>('/admin/flags/*', { auth }, async (request, reply) => {
    const name = flagParam(request.params);
    const before = flags.get(name);
    const by = request.principal?.subject || 'unknown';
    let existed: boolean;
    try {
      existed = await flags.remove(name, { by });
    } catch (err) {
      return sendFlagError(reply, err);
    }
    if (!existed) throw new FlagNotFoundError(name);
    request.log.warn({ flag: name, previous: before?.storeValue ?? null, by }, 'flag deleted');
    const after = flags.get(name);
    return { deleted: name, flag: after ? toFlagItem(after) : null };
  });

  done();
};

export const flagsAdminPlugin = fp(flagsAdmin, {
  name: 'fleet-flags-admin',
  fastify: '5.x',
  dependencies: ['fleet-auth'],
});
