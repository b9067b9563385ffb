/**
 * The plugin-runner's configuration (merged with the chassis schema) and the checks of an instance
 * definition shared by config files and the admin API.
 */
import type { ServiceOptions } from '@fleet/chassis';
import { SCHEMA_PATTERN } from '@fleet/chassis/db';
import { ConfigValidationError } from './errors.js';
import type { ValidationIssue } from './json-schema.js';
import type { Plugin } from './plugin.js';
import { parseSchedule, type ScheduleSpec } from './schedule.js';
import { resolveSecrets, type SecretPolicy } from './secrets.js';
import type { InstanceDefinition } from './store.js';

export interface PluginRunnerConfig {
  database: { url: string; schema: string; dataDir: string; pgliteTemplate: string; poolMax: number };
  runner: {
    replicaId: string;
    topic: string;
    tickMs: number;
    leaseTtlMs: number;
    maxConcurrentRuns: number;
    maxRunMs: number;
    maxPagesPerRun: number;
    maxEventsPerPage: number;
    produceBatchSize: number;
    shutdownGraceMs: number;
    minIntervalMs: number;
    keepRuns: number;
    http: { timeoutMs: number; attempts: number; baseMs: number; maxMs: number; maxRateLimitWaitMs: number };
    failureBackoff: { baseMs: number; maxMs: number };
    circuit: { threshold: number; cooldownMs: number; maxCooldownMs: number };
    secrets: { envPrefixes: string[]; fileDirs: string[] };
    instances: unknown[];
  };
  api: { readScope: string; writeScope: string };
}

export const INSTANCE_ID = /^[a-z0-9][a-z0-9_-]{0,62}$/;

function atLeast(min: number) {
  return (value: unknown) => {
    if (typeof value !== 'number' || !Number.isInteger(value) || value < min)
      throw new Error(`must be an integer >= ${min}`);
  };
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Structure of the instances list (plugin configs are checked against their plugins at start). */
function checkInstanceList(value: unknown): void {
  if (!Array.isArray(value))
    throw new Error('must be a JSON array of instances [{ "id", "plugin", "schedule", "config" }]');
  const ids = new Set<string>();
  value.forEach((item, i) => {
    if (!isRecord(item)) throw new Error(`[${i}]: must be an object`);
    const id = item.id;
    if (typeof id !== 'string' || !INSTANCE_ID.test(id))
      throw new Error(`[${i}].id: must match ${INSTANCE_ID}`);
    if (ids.has(id)) throw new Error(`[${i}]: id '${id}' appears twice`);
    ids.add(id);
    if (typeof item.plugin !== 'string' || item.plugin === '')
      throw new Error(`instance '${id}': plugin is required`);
    try {
      parseSchedule(item.schedule);
    } catch (err) {
      throw new Error(`instance '${id}': ${(err as Error).message}`);
    }
  });
}

export const configSchema: NonNullable<ServiceOptions<PluginRunnerConfig>['config']> = {
  database: {
    url: {
      doc: 'Postgres URL for instances, cursors and leases (empty: embedded PGlite, single node only)',
      format: String,
      default: '',
      env: 'DATABASE_URL',
      sensitive: true,
    },
    schema: {
      doc: 'Postgres schema (created if missing; empty: the default search_path)',
      format: (value: unknown) => {
        if (value !== '' && !(typeof value === 'string' && SCHEMA_PATTERN.test(value)))
          throw new Error(`must match ${SCHEMA_PATTERN}`);
      },
      default: '',
      env: 'DATABASE_SCHEMA',
    },
    dataDir: {
      doc: 'PGlite data directory (empty: in memory, state lost on exit)',
      format: String,
      default: '',
      env: 'PGLITE_DATA_DIR',
    },
    pgliteTemplate: {
      doc: 'A PGlite dumpDataDir() tarball a new PGlite database starts from (skips initdb)',
      format: String,
      default: '',
      env: 'PGLITE_TEMPLATE',
    },
    poolMax: {
      doc: 'Postgres connections per replica',
      format: atLeast(1),
      default: 5,
      env: 'DATABASE_POOL_MAX',
    },
  },
  runner: {
    replicaId: {
      doc: 'Name of this replica in leases and logs (empty: hostname-pid-random)',
      format: String,
      default: '',
      env: 'PLUGIN_RUNNER_REPLICA_ID',
    },
    topic: {
      doc: 'Kafka topic the events go to (the one ALF consumes)',
      format: (value: unknown) => {
        if (typeof value !== 'string' || !/^[A-Za-z0-9._-]{1,249}$/.test(value))
          throw new Error('must be a Kafka topic name');
      },
      default: 'logs.plugin-runner',
      env: 'PLUGIN_RUNNER_TOPIC',
    },
    tickMs: {
      doc: 'How often a replica looks for due instances',
      format: atLeast(10),
      default: 1000,
      env: 'PLUGIN_RUNNER_TICK_MS',
    },
    leaseTtlMs: {
      doc: 'Lease time to live; renewed every third of it while a run lasts. A dead replica is replaced within it',
      format: atLeast(100),
      default: 30_000,
      env: 'PLUGIN_RUNNER_LEASE_TTL_MS',
    },
    maxConcurrentRuns: {
      doc: 'Runs at once on one replica (each instance runs at most once at a time across replicas)',
      format: atLeast(1),
      default: 4,
      env: 'PLUGIN_RUNNER_MAX_CONCURRENT_RUNS',
    },
    maxRunMs: {
      doc: 'Longest a run may take before it is aborted',
      format: atLeast(100),
      default: 600_000,
      env: 'PLUGIN_RUNNER_MAX_RUN_MS',
    },
    maxPagesPerRun: {
      doc: 'Pages per run; with more to fetch the next run is due at once (lets other instances in)',
      format: atLeast(1),
      default: 100,
      env: 'PLUGIN_RUNNER_MAX_PAGES_PER_RUN',
    },
    maxEventsPerPage: {
      doc: 'Largest page accepted from a plugin',
      format: atLeast(1),
      default: 10_000,
      env: 'PLUGIN_RUNNER_MAX_EVENTS_PER_PAGE',
    },
    produceBatchSize: {
      doc: 'Events per Kafka produce request',
      format: atLeast(1),
      default: 500,
      env: 'PLUGIN_RUNNER_PRODUCE_BATCH',
    },
    shutdownGraceMs: {
      doc: 'On shutdown, how long a page whose delivery has begun may take to be produced and committed',
      format: atLeast(0),
      default: 5000,
      env: 'PLUGIN_RUNNER_SHUTDOWN_GRACE_MS',
    },
    minIntervalMs: {
      doc: 'Shortest schedule interval accepted for an instance',
      format: atLeast(1),
      default: 1000,
      env: 'PLUGIN_RUNNER_MIN_INTERVAL_MS',
    },
    keepRuns: {
      doc: 'Run records kept per instance',
      format: atLeast(1),
      default: 50,
      env: 'PLUGIN_RUNNER_KEEP_RUNS',
    },
    http: {
      timeoutMs: {
        doc: 'Timeout of one upstream request attempt',
        format: atLeast(1),
        default: 30_000,
        env: 'PLUGIN_HTTP_TIMEOUT_MS',
      },
      attempts: {
        doc: 'Attempts per upstream request, the first included',
        format: atLeast(1),
        default: 4,
        env: 'PLUGIN_HTTP_ATTEMPTS',
      },
      baseMs: {
        doc: 'Backoff base between attempts (exponential, jittered)',
        format: atLeast(1),
        default: 500,
        env: 'PLUGIN_HTTP_BACKOFF_BASE_MS',
      },
      maxMs: {
        doc: 'Largest backoff between attempts',
        format: atLeast(1),
        default: 30_000,
        env: 'PLUGIN_HTTP_BACKOFF_MAX_MS',
      },
      maxRateLimitWaitMs: {
        doc: 'Longest wait for a rate-limit reset inside a run; a later reset ends the run and schedules the next one after it',
        format: atLeast(0),
        default: 60_000,
        env: 'PLUGIN_HTTP_MAX_RATE_LIMIT_WAIT_MS',
      },
    },
    failureBackoff: {
      baseMs: {
        doc: 'Delay before retrying a failed run (doubles per failure, jittered)',
        format: atLeast(1),
        default: 5000,
        env: 'PLUGIN_RUNNER_FAILURE_BACKOFF_BASE_MS',
      },
      maxMs: {
        doc: 'Longest delay before retrying a failed run',
        format: atLeast(1),
        default: 300_000,
        env: 'PLUGIN_RUNNER_FAILURE_BACKOFF_MAX_MS',
      },
    },
    circuit: {
      threshold: {
        doc: 'Failed runs in a row that open an instance circuit (pause it)',
        format: atLeast(1),
        default: 5,
        env: 'PLUGIN_RUNNER_CIRCUIT_THRESHOLD',
      },
      cooldownMs: {
        doc: 'First pause of an open circuit (doubles per reopening)',
        format: atLeast(1),
        default: 60_000,
        env: 'PLUGIN_RUNNER_CIRCUIT_COOLDOWN_MS',
      },
      maxCooldownMs: {
        doc: 'Longest pause of an open circuit',
        format: atLeast(1),
        default: 3_600_000,
        env: 'PLUGIN_RUNNER_CIRCUIT_MAX_COOLDOWN_MS',
      },
    },
    secrets: {
      envPrefixes: {
        // biome-ignore lint/suspicious/noTemplateCurlyInString: the reference syntax, documented
        doc: 'Environment variables an instance config may reference as ${NAME} must start with one of these',
        format: Array,
        default: ['PLUGIN_SECRET_'],
        env: 'PLUGIN_SECRET_ENV_PREFIXES',
      },
      fileDirs: {
        doc: 'Directories whose files an instance config may reference with a *_FILE key',
        format: Array,
        default: ['/run/secrets', '/var/run/secrets'],
        env: 'PLUGIN_SECRET_FILE_DIRS',
      },
    },
    instances: {
      doc: 'Instances from configuration: JSON array [{ "id", "plugin", "schedule", "config", "description"?, "enabled"? }] (PLUGIN_INSTANCES_FILE reads it from a file)',
      format: checkInstanceList,
      default: [],
      env: 'PLUGIN_INSTANCES',
    },
  },
  api: {
    readScope: {
      doc: 'Scope for GET /v1/instances and /v1/plugins',
      format: String,
      default: 'plugins:read',
      env: 'PLUGIN_API_READ_SCOPE',
    },
    writeScope: {
      doc: 'Scope for changes and manual runs',
      format: String,
      default: 'plugins:write',
      env: 'PLUGIN_API_WRITE_SCOPE',
    },
  },
};

export interface DefinitionContext {
  plugins: ReadonlyMap<string, Plugin>;
  secrets: SecretPolicy;
  minIntervalMs: number;
}

function prefixed(prefix: string, issues: ValidationIssue[]): ValidationIssue[] {
  return issues.map((i) => ({ path: `${prefix}${i.path}`, message: i.message }));
}

/** Check a plugin config: secret references resolve and the result satisfies the plugin. */
export function checkPluginConfig(plugin: Plugin, config: unknown, secrets: SecretPolicy): ValidationIssue[] {
  if (!isRecord(config)) return [{ path: '/config', message: 'must be an object' }];
  try {
    plugin.validateConfig(resolveSecrets(config, secrets));
    return [];
  } catch (err) {
    if (err instanceof ConfigValidationError) return prefixed('/config', err.details);
    return [{ path: '/config', message: (err as Error).message }];
  }
}

export function checkSchedule(
  schedule: unknown,
  minIntervalMs: number,
): { spec?: ScheduleSpec; issues: ValidationIssue[] } {
  try {
    return { spec: parseSchedule(schedule, minIntervalMs).spec, issues: [] };
  } catch (err) {
    return { issues: [{ path: '/schedule', message: (err as Error).message }] };
  }
}

/** Check a whole instance definition (config files and POST); every problem with its path. */
export function checkInstanceDefinition(
  raw: unknown,
  ctx: DefinitionContext,
): { def?: InstanceDefinition; issues: ValidationIssue[] } {
  if (!isRecord(raw)) return { issues: [{ path: '', message: 'must be an object' }] };
  const issues: ValidationIssue[] = [];
  const known = ['id', 'plugin', 'description', 'config', 'schedule', 'enabled'];
  for (const key of Object.keys(raw))
    if (!known.includes(key)) issues.push({ path: `/${key}`, message: 'is not allowed (unknown property)' });
  if (typeof raw.id !== 'string' || !INSTANCE_ID.test(raw.id))
    issues.push({ path: '/id', message: `must match ${INSTANCE_ID}` });
  if (raw.description !== undefined && (typeof raw.description !== 'string' || raw.description.length > 500))
    issues.push({ path: '/description', message: 'must be a string of at most 500 characters' });
  if (raw.enabled !== undefined && typeof raw.enabled !== 'boolean')
    issues.push({ path: '/enabled', message: 'must be boolean' });
  const schedule = checkSchedule(raw.schedule, ctx.minIntervalMs);
  issues.push(...schedule.issues);
  const plugin = typeof raw.plugin === 'string' ? ctx.plugins.get(raw.plugin) : undefined;
  if (!plugin)
    issues.push({
      path: '/plugin',
      message: `must be one of the installed plugins: ${[...ctx.plugins.keys()].join(', ')}`,
    });
  const config = raw.config ?? {};
  if (plugin) issues.push(...checkPluginConfig(plugin, config, ctx.secrets));
  if (issues.length > 0) return { issues };
  return {
    def: {
      id: raw.id as string,
      plugin: raw.plugin as string,
      description: (raw.description as string | undefined) ?? '',
      config: config as Record<string, unknown>,
      schedule: schedule.spec!,
      enabled: (raw.enabled as boolean | undefined) ?? true,
    },
    issues: [],
  };
}
