/**
 * The console's JSON API. Any valid token reads; writes need the admin scope (403 otherwise).
 * Writes that reach another service carry the caller's own token, so the service decides too.
 */
import {
  FlagError,
  type FlagInfo,
  type Flags,
  isValidFlagName,
  LOG_LEVELS,
  MAX_FLAG_VALUE,
  type Service,
} from '@fleet/chassis';
import type { AuditLog } from './audit.js';
import type { Collector } from './collector.js';
import type { ConsoleOwnConfig } from './config.js';
import { fetchService } from './fetch-json.js';
import { alfDropFlag, type FlagView, toFlagView } from './flag-views.js';

/** Default of POST /api/alf/throttle: drop 90 % of the service's events. */
export const DEFAULT_THROTTLE_BASIS_POINTS = 9000;
/** Audit entries included in GET /api/fleet. */
export const AUDIT_IN_SNAPSHOT = 200;

export interface ApiDeps {
  service: Service<ConsoleOwnConfig>;
  collector: Collector;
  audit: AuditLog;
}

/** The part of a Fastify reply these handlers use (fastify itself is the chassis's dependency). */
interface Reply {
  code(statusCode: number): { send(payload?: unknown): unknown };
}

interface Problem {
  path: string;
  message: string;
}

function badRequest(reply: Reply, message: string, details: Problem[]): unknown {
  return reply
    .code(400)
    .send({ statusCode: 400, error: 'Bad Request', code: 'validation_failed', message, details });
}

function record(value: unknown): Record<string, unknown> | null {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : null;
}

/** Problems with a basis-point value: an integer 0..10000, no coercion ("25" is refused). */
function valueProblems(value: unknown, path: string): Problem[] {
  if (typeof value !== 'number' || !Number.isInteger(value))
    return [{ path, message: 'must be an integer number of basis points (0..10000)' }];
  if (value < 0 || value > MAX_FLAG_VALUE)
    return [{ path, message: `must be between 0 and ${MAX_FLAG_VALUE}` }];
  return [];
}

function unknownKeys(body: Record<string, unknown>, allowed: string[]): Problem[] {
  return Object.keys(body)
    .filter((k) => !allowed.includes(k))
    .map((k) => ({ path: `/${k}`, message: 'unknown field' }));
}

export function registerApi(app: Service['app'], deps: ApiDeps): void {
  const { service, collector, audit } = deps;
  const flags: Flags = service.flags;
  const read = { auth: true as const };
  const write = { auth: { scopes: [service.config.admin.scope] } };

  /** Write a flag through the store and record it in the audit trail. */
  async function setFlag(
    name: string,
    value: number,
    by: string,
  ): Promise<{ flag: FlagView; from: number | null; audited: boolean }> {
    const before = flags.get(name);
    const info: FlagInfo = await flags.set(name, value, { by });
    const from = before ? before.value : null;
    service.log.warn({ flag: name, from, to: value, by }, 'flag changed through the console');
    try {
      await audit.append({ at: new Date().toISOString(), by, flag: name, from, to: value });
    } catch (err) {
      // The flag did change: say so, and say loudly that the trail missed it (the log line above has it).
      service.log.error({ err, flag: name, by }, 'flag change not recorded in the audit trail');
      return { flag: toFlagView(info), from, audited: false };
    }
    return { flag: toFlagView(info), from, audited: true };
  }

  function sendFlagError(reply: Reply, err: unknown): unknown {
    if (!(err instanceof FlagError)) throw err;
    const statusCode = err.statusCode;
    const error =
      statusCode < 500 ? 'Bad Request' : statusCode === 503 ? 'Service Unavailable' : 'Bad Gateway';
    return reply.code(statusCode).send({ statusCode, error, code: err.code, message: err.message });
  }

  app.get('/api/whoami', read, async (request) => {
    const principal = request.principal;
    const scopes = [...(principal?.scopes ?? [])];
    return {
      subject: principal?.subject ?? '',
      scopes,
      canWrite: scopes.includes(service.config.admin.scope),
    };
  });

  app.get('/api/fleet', read, async () => {
    const services = collector.snapshots();
    const alf = {
      events_in_total: 0,
      forwarded_total: 0,
      dropped_total: 0,
      dropped_by_reason: {} as Record<string, number>,
    };
    for (const s of services) {
      if (!s.alf) continue;
      alf.events_in_total += s.alf.totals.events_in;
      alf.forwarded_total += s.alf.totals.forwarded;
      alf.dropped_total += s.alf.totals.dropped;
      for (const [reason, n] of Object.entries(s.alf.totals.dropped_by_reason))
        alf.dropped_by_reason[reason] = (alf.dropped_by_reason[reason] ?? 0) + n;
    }
    const status = flags.status;
    return {
      generated_at: new Date().toISOString(),
      poll_ms: service.config.console.pollMs,
      services,
      alf,
      flags: {
        store: { kind: status.store, up: status.up, synced: status.synced },
        items: flags.list().map(toFlagView),
      },
      audit: { storage: audit.kind, entries: await audit.recent(AUDIT_IN_SNAPSHOT) },
    };
  });

  app.get('/api/series', read, async () => collector.series());

  // A wildcard rather than `:name`: Fastify caps parametric segments at 100 characters, flag names have 128.
  app.put<{ Params: { '*': string } }>('/api/flags/*', write, async (request, reply) => {
    const name = request.params['*'];
    const body = record(request.body);
    const problems: Problem[] = [];
    if (!isValidFlagName(name))
      problems.push({ path: '/name', message: "must be 1-128 characters of a-z, 0-9, '_', '.', '-'" });
    if (!body) problems.push({ path: '', message: 'body must be a JSON object { "value": <basis points> }' });
    else {
      problems.push(...unknownKeys(body, ['value']));
      problems.push(...valueProblems(body.value, '/value'));
    }
    if (problems.length > 0 || !body) return badRequest(reply, 'invalid flag change', problems);
    try {
      const { flag, from, audited } = await setFlag(
        name,
        body.value as number,
        request.principal?.subject || 'unknown',
      );
      return { ...flag, previous: from, audited };
    } catch (err) {
      return sendFlagError(reply, err);
    }
  });

  app.post('/api/alf/throttle', write, async (request, reply) => {
    const body = record(request.body);
    const problems: Problem[] = [];
    if (!body)
      problems.push({ path: '', message: 'body must be a JSON object { "service": "...", "value"?: 9000 }' });
    else {
      problems.push(...unknownKeys(body, ['service', 'value']));
      if (typeof body.service !== 'string' || body.service.length === 0 || body.service.length > 100)
        problems.push({ path: '/service', message: 'must be a service name of 1-100 characters' });
      if (body.value !== undefined) problems.push(...valueProblems(body.value, '/value'));
    }
    if (problems.length > 0 || !body) return badRequest(reply, 'invalid throttle request', problems);
    const name = alfDropFlag(body.service as string);
    const value = (body.value as number | undefined) ?? DEFAULT_THROTTLE_BASIS_POINTS;
    try {
      const { flag, from, audited } = await setFlag(name, value, request.principal?.subject || 'unknown');
      return { service: body.service, ...flag, previous: from, audited };
    } catch (err) {
      return sendFlagError(reply, err);
    }
  });

  app.put<{ Params: { name: string } }>('/api/services/:name/log-level', write, async (request, reply) => {
    const target = collector.target(request.params.name);
    if (!target)
      return reply.code(404).send({
        statusCode: 404,
        error: 'Not Found',
        code: 'service_not_found',
        message: `no service '${request.params.name}' in CONSOLE_SERVICES`,
      });
    const body = record(request.body);
    const level = body?.level;
    if (!body || typeof level !== 'string' || !(LOG_LEVELS as readonly string[]).includes(level))
      return badRequest(reply, 'invalid log level', [
        { path: '/level', message: `must be one of ${LOG_LEVELS.join(', ')}` },
      ]);
    const token = (request.headers.authorization ?? '').replace(/^Bearer\s+/i, '');
    const result = await fetchService(`${target.url}/admin/log-level`, {
      method: 'PUT',
      token,
      body: { level },
      timeoutMs: service.config.console.requestTimeoutMs,
    });
    if (result.status === 0)
      return reply.code(502).send({
        statusCode: 502,
        error: 'Bad Gateway',
        code: 'service_unreachable',
        message: `${target.name}: ${result.error}`,
      });
    void collector.pollAgain();
    // The service's own answer, whatever it is (its 403 if the caller's token is not enough there).
    return reply.code(result.status).send(result.body ?? { status: result.status });
  });
}
