import { writeSync } from 'node:fs';
import type convict from 'convict';
import Fastify, {
  type FastifyInstance,
  type FastifyPluginAsync,
  type FastifyPluginCallback,
  LogController,
} from 'fastify';
import type { DestinationStream, Logger } from 'pino';
import { adminPlugin } from './admin/plugin.js';
import { authPlugin } from './auth/plugin.js';
import { createTokenVerifier, type TokenVerifier } from './auth/verifier.js';
import { ConfigError } from './config/errors.js';
import { type ConfigSources, loadConfig, mergeSchemas } from './config/load.js';
import { type ChassisConfig, chassisSchema } from './config/schema.js';
import { errorsPlugin } from './errors/plugin.js';
import {
  createFlags,
  type FlagStore,
  type Flags,
  flagsAdminPlugin,
  flagsConfigProblems,
} from './flags/index.js';
import { healthPlugin } from './health/plugin.js';
import { HealthRegistry } from './health/registry.js';
import { KafkaModule } from './kafka/module.js';
import type { KafkaService } from './kafka/types.js';
import { createLogger, flushLogger } from './logging/logger.js';
import { requestLoggingPlugin } from './logging/plugin.js';
import { requestLoggerFactory } from './logging/request-logger.js';
import { metricsRoutesPlugin } from './metrics/plugin.js';
import { MetricsRegistry } from './metrics/registry.js';
import { type IdempotencyOptions, idempotencyPlugin } from './resilience/idempotency.js';
import { sleep } from './resilience/retry.js';
import { handleShutdownSignals, type ShutdownHook, ShutdownHooks } from './shutdown/lifecycle.js';
import { traceLogMixin } from './tracing/log-context.js';
import { traceContextPlugin, tracingRoutesPlugin } from './tracing/plugin.js';
import { startTracing, stopTracing, type TracingOptions } from './tracing/sdk.js';
import { CHASSIS_VERSION } from './version.js';

// biome-ignore lint/suspicious/noExplicitAny: plugins take any options
type AnyPlugin = FastifyPluginAsync<any> | FastifyPluginCallback<any>;

export interface ServiceOptions<C extends object = object> {
  name: string;
  version: string;
  /** The service's own convict schema, merged with the chassis schema (chassis keys are reserved). */
  config?: convict.Schema<C>;
  /** Where config comes from (default: process.env, process.argv, CONFIG_FILE). */
  configSources?: ConfigSources;
  /** Extra Fastify plugins, registered after the chassis concerns and before `routes`. */
  plugins?: Array<AnyPlugin | [AnyPlugin, Record<string, unknown>]>;
  /** The service's routes; `app` is the main Fastify instance. */
  routes?: (app: FastifyInstance, service: Service<C>) => void | Promise<void>;
  /** Log destination (default: stdout, asynchronous). */
  logDestination?: DestinationStream;
  /** Tracing pipeline overrides (tests); tracing itself is switched on by config. */
  tracing?: Pick<TracingOptions, 'spanProcessors'>;
  /** Idempotency-Key storage and policy. */
  idempotency?: IdempotencyOptions;
  /** Feature flags: a store instance instead of the configured one (tests, custom backends). */
  flags?: { store?: FlagStore };
}

export interface StartedAddresses {
  url: string;
  adminUrl: string;
}

/** A running (or ready-to-run) Fleet service. */
export interface Service<C extends object = object> {
  readonly name: string;
  readonly version: string;
  readonly chassisVersion: string;
  /** The main Fastify instance: add routes, hooks and plugins here. */
  readonly app: FastifyInstance;
  /** The instance serving health, metrics and /admin (the main one unless admin.port is set). */
  readonly adminApp: FastifyInstance;
  readonly config: Readonly<ChassisConfig & C>;
  readonly log: Logger;
  readonly metrics: MetricsRegistry;
  readonly health: HealthRegistry;
  readonly auth: TokenVerifier;
  /** Kafka producer and consumers (config group `kafka`; `configured` is false without brokers). */
  readonly kafka: KafkaService;
  /** Runtime feature flags (config group `flags`; see the README section "Feature flags"). */
  readonly flags: Flags;
  /** Run `fn` on shutdown, after the listener closed; hooks run last-registered first. */
  onShutdown(name: string, fn: ShutdownHook): void;
  /** Listen on the configured port(s); resolves with the addresses. */
  start(): Promise<StartedAddresses>;
  /** Readiness 503, drain in-flight requests, run shutdown hooks, flush telemetry. Idempotent. */
  stop(): Promise<void>;
}

/**
 * Build a service with every chassis concern wired in. Throws ConfigError (exit code 78) listing
 * every configuration problem. Nothing listens until `start()`; `app.inject` works after `app.ready()`.
 */
export async function createService<C extends object = object>(
  options: ServiceOptions<C>,
): Promise<Service<C>> {
  const schema = mergeSchemas(
    chassisSchema as Record<string, unknown>,
    (options.config ?? {}) as Record<string, unknown>,
  );
  const conf = loadConfig<ChassisConfig & C>(schema, options.configSources);
  const config = Object.freeze(conf.getProperties()) as Readonly<ChassisConfig & C>;
  // Checks across keys that convict cannot express; reported together with the auth keys below
  const problems = flagsConfigProblems(config.flags);
  if (config.admin.port > 0 && config.admin.port === config.port)
    problems.unshift(
      `admin.port: must differ from port (both are ${config.port}); use 0 to serve admin on the main port`,
    );
  const redactedConfig = JSON.parse(conf.toString()) as Record<string, unknown>;

  const tracingEnabled = config.telemetry.tracing.enabled;
  const log = createLogger({
    service: options.name,
    version: options.version,
    level: config.log.level,
    ...(options.logDestination ? { destination: options.logDestination } : {}),
    ...(tracingEnabled ? { mixin: traceLogMixin } : {}),
  });

  let verifier: TokenVerifier | undefined;
  try {
    verifier = await createTokenVerifier(config.auth);
  } catch (err) {
    const message = (err as Error).message;
    problems.push(message.startsWith('auth.') ? message : `auth.publicKeys: ${message}`);
  }
  if (problems.length > 0 || !verifier) throw new ConfigError(problems);
  if (!verifier.configured)
    log.warn('auth is not configured (auth.jwksUrl / auth.publicKeys): protected routes answer 401');

  const metrics = new MetricsRegistry({});
  const health = new HealthRegistry(config.health.checkTimeoutMs);
  const hooks = new ShutdownHooks();
  const kafka = new KafkaModule({ config: config.kafka, serviceName: options.name, log, metrics, health });
  const flags = await createFlags({
    config: config.flags,
    log,
    metrics,
    health,
    serviceName: options.name,
    ...(options.flags?.store ? { store: options.flags.store } : {}),
  });
  hooks.add('flags', () => flags.close());
  // Started after the last step that can fail, so a failed createService leaves no SDK running
  const tracePropagation = tracingEnabled
    ? startTracing({
        service: options.name,
        version: options.version,
        propagation: config.telemetry.tracing.propagation,
        warn: (message) => log.warn(message),
        ...options.tracing,
      })
    : config.telemetry.tracing.propagation;
  if (tracePropagation !== config.telemetry.tracing.propagation)
    log.warn(
      { configured: config.telemetry.tracing.propagation, in_effect: tracePropagation },
      'telemetry.tracing.propagation: the tracing SDK of this process already runs in another mode',
    );
  const startedAt = Date.now();

  const fastifyOptions = {
    loggerInstance: log,
    // The chassis writes one access line per request itself (logging/plugin.ts)
    logController: new LogController({ disableRequestLogging: true, requestIdLogLabel: 'request_id' }),
    // request.log: a pino child created on first use (most requests only write the access line)
    childLoggerFactory: requestLoggerFactory,
    requestIdHeader: 'x-request-id',
    forceCloseConnections: 'idle' as const,
    return503OnClosing: true,
    ajv: { customOptions: { removeAdditional: false, allErrors: true, coerceTypes: 'array' as const } },
  };
  const app = Fastify(fastifyOptions) as unknown as FastifyInstance;
  const separateAdmin = config.admin.port > 0;
  const adminApp = separateAdmin ? (Fastify(fastifyOptions) as unknown as FastifyInstance) : app;

  // Concerns in order: errors, tracing (outermost hooks), auth, metrics, access log, health/admin.
  app.register(errorsPlugin);
  // when off, request.traceContext()/traceHeaders() still exist (ROOT_CONTEXT / {})
  app.register(tracingEnabled ? tracingRoutesPlugin : traceContextPlugin, { propagation: tracePropagation });
  app.register(authPlugin, { verifier });
  app.register(idempotencyPlugin, options.idempotency ?? {});
  const metricsPath = config.telemetry.metrics.enabled ? config.telemetry.metrics.path : false;
  const info = { service: options.name, version: options.version, chassis_version: CHASSIS_VERSION };
  app.register(metricsRoutesPlugin, { metrics, info, path: separateAdmin ? false : metricsPath });
  app.register(requestLoggingPlugin, { enabled: config.log.requests });
  if (separateAdmin) {
    adminApp.register(errorsPlugin);
    adminApp.register(authPlugin, { verifier });
    adminApp.register(metricsRoutesPlugin, { metrics, path: metricsPath, recordRequests: false });
  }
  adminApp.register(healthPlugin, { registry: health });
  adminApp.register(flagsAdminPlugin, { flags, scope: config.admin.scope });
  adminApp.register(adminPlugin, {
    scope: config.admin.scope,
    logger: log,
    info: () => ({
      service: options.name,
      version: options.version,
      chassis_version: CHASSIS_VERSION,
      node_version: process.version,
      started_at: new Date(startedAt).toISOString(),
      uptime_s: Math.round((Date.now() - startedAt) / 1000),
      config: redactedConfig,
    }),
  });

  let stopping: Promise<void> | undefined;
  const service: Service<C> = {
    name: options.name,
    version: options.version,
    chassisVersion: CHASSIS_VERSION,
    app,
    adminApp,
    config,
    log,
    metrics,
    health,
    auth: verifier,
    kafka,
    flags,
    onShutdown: (name, fn) => hooks.add(name, fn),
    async start() {
      const url = await app.listen({ port: config.port, host: config.host });
      let adminUrl = url;
      if (separateAdmin) {
        try {
          adminUrl = await adminApp.listen({ port: config.admin.port, host: config.host });
        } catch (err) {
          // Do not leave the main listener open behind a failed start
          await app.close();
          throw err;
        }
      }
      log.info({ url, admin_url: adminUrl, chassis_version: CHASSIS_VERSION }, 'service started');
      return { url, adminUrl };
    },
    stop() {
      stopping ??= (async () => {
        health.markShuttingDown();
        if (config.shutdown.drainDelayMs > 0) await sleep(config.shutdown.drainDelayMs);
        await closeDraining(app);
        // Consumers drain and commit before hooks close what handlers use; the producer goes last
        await kafka.stopConsumers();
        await hooks.runAll(log);
        await kafka.close();
        if (separateAdmin) await adminApp.close();
        const traceError = tracingEnabled ? await stopTracing() : undefined;
        if (traceError) log.warn({ err: traceError }, 'tracing: the last spans could not be exported');
        log.info('service stopped');
        await flushLogger(log);
      })();
      return stopping;
    },
  };

  for (const entry of options.plugins ?? []) {
    const [plugin, pluginOptions] = Array.isArray(entry) ? entry : [entry, {}];
    app.register(plugin, pluginOptions);
  }
  if (options.routes) {
    const routes = options.routes;
    app.register(async (scope) => routes(scope, service));
  }
  return service;
}

/**
 * Close the listener and wait for in-flight requests. Keep-alive connections that turn idle after
 * their last response are closed as they do, so a client holding one cannot stall shutdown.
 */
async function closeDraining(app: FastifyInstance): Promise<void> {
  const sweep = setInterval(() => app.server.closeIdleConnections(), 50);
  try {
    await app.close();
  } finally {
    clearInterval(sweep);
  }
}

/** Print every problem of a ConfigError and exit 78; anything else returns. */
function exitOnConfigError(name: string, err: unknown): void {
  if (!(err instanceof ConfigError)) return;
  // Synchronous write: the message must be out before exit
  writeSync(2, `${name}: ${err.message}\n`);
  process.exit(err.exitCode);
}

/**
 * The entry point of a service's main module: create, start, and stop gracefully on SIGTERM/SIGINT.
 * A configuration error prints every problem to stderr and exits 78.
 */
export async function runService<C extends object = object>(options: ServiceOptions<C>): Promise<Service<C>> {
  let service: Service<C>;
  try {
    service = await createService(options);
  } catch (err) {
    exitOnConfigError(options.name, err);
    throw err;
  }
  handleShutdownSignals({
    stop: () => service.stop(),
    timeoutMs: service.config.shutdown.timeoutMs,
    log: service.log,
  });
  try {
    await service.start();
  } catch (err) {
    // Plugins and routes may validate their own config while the app boots
    exitOnConfigError(options.name, err);
    service.log.fatal({ err }, 'service failed to start');
    await flushLogger(service.log);
    process.exit(1);
  }
  return service;
}
