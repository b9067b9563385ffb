/**
 * The plugin-runner service: `pluginRunnerService()` gives the ServiceOptions to hand to
 * createService/runService. Opens the database (Postgres, or embedded PGlite without
 * DATABASE_URL), applies migrations, syncs the instances of the config files, serves the admin API
 * and starts the runner once the service is ready.
 */
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { ConfigError, type Service, type ServiceOptions } from '@fleet/chassis';
import { type Db, openDb } from '@fleet/chassis/db';
import { registerApi } from './api.js';
import { checkInstanceDefinition, configSchema, type PluginRunnerConfig } from './config.js';
import { migrateDatabase } from './db/migrations.js';
import { RunnerMetrics } from './metrics.js';
import type { Plugin } from './plugin.js';
import { builtinPlugins } from './plugins/index.js';
import { type EventSink, Runner, type RunnerSettings } from './runner.js';
import type { SecretPolicy } from './secrets.js';
import { Store } from './store.js';

export const VERSION = '0.1.0';

export interface PluginRunnerOptions {
  /** Plugins this replica can run (default: the built-in ones). */
  plugins?: readonly Plugin[];
  /** Plugins added to the built-in ones. */
  extraPlugins?: readonly Plugin[];
  /** Use this database instead of opening one from config (not closed on shutdown). */
  db?: Db;
  /** Where events go instead of the service's Kafka producer (tests). */
  sink?: EventSink;
  /** Environment that `${NAME}` secret references read (default process.env). */
  env?: NodeJS.ProcessEnv;
  /** Service name (default plugin-runner). */
  name?: string;
}

export interface PluginRunnerHandle {
  runner: Runner;
  store: Store;
  db: Db;
  plugins: ReadonlyMap<string, Plugin>;
}

const handles = new WeakMap<object, PluginRunnerHandle>();

/** The runner, store and database of a service made from pluginRunnerService() (after app.ready()). */
export function pluginRunnerOf(service: Service<PluginRunnerConfig>): PluginRunnerHandle {
  const handle = handles.get(service);
  if (!handle) throw new Error('not a plugin-runner service, or not ready yet (await service.app.ready())');
  return handle;
}

function pluginMap(options: PluginRunnerOptions): Map<string, Plugin> {
  const list = [...(options.plugins ?? builtinPlugins), ...(options.extraPlugins ?? [])];
  const map = new Map<string, Plugin>();
  for (const plugin of list) {
    if (map.has(plugin.name)) throw new Error(`two plugins are named '${plugin.name}'`);
    map.set(plugin.name, plugin);
  }
  return map;
}

export function runnerSettings(
  config: PluginRunnerConfig,
  secrets: SecretPolicy,
  serviceName: string,
): RunnerSettings {
  const r = config.runner;
  return {
    replicaId: r.replicaId || `${hostname()}-${process.pid}-${randomBytes(3).toString('hex')}`,
    topic: r.topic,
    tickMs: r.tickMs,
    leaseTtlMs: r.leaseTtlMs,
    maxConcurrentRuns: r.maxConcurrentRuns,
    maxRunMs: r.maxRunMs,
    maxPagesPerRun: r.maxPagesPerRun,
    maxEventsPerPage: r.maxEventsPerPage,
    produceBatchSize: r.produceBatchSize,
    shutdownGraceMs: r.shutdownGraceMs,
    http: { ...r.http, userAgent: `fleet-${serviceName}/${VERSION}` },
    failureBackoff: { ...r.failureBackoff },
    circuit: { ...r.circuit },
    keepRuns: r.keepRuns,
    secrets,
  };
}

export function pluginRunnerService(options: PluginRunnerOptions = {}): ServiceOptions<PluginRunnerConfig> {
  const plugins = pluginMap(options);
  return {
    name: options.name ?? 'plugin-runner',
    version: VERSION,
    config: configSchema,
    async routes(app, service) {
      const config = service.config;
      const secrets: SecretPolicy = {
        env: options.env ?? process.env,
        envPrefixes: config.runner.secrets.envPrefixes.map((p) => p.trim()).filter(Boolean),
        fileDirs: config.runner.secrets.fileDirs.map((d) => d.trim()).filter(Boolean),
      };
      // Instances of the config files: every plugin config checked now, so a bad file fails the start
      const problems: string[] = [];
      const definitions = config.runner.instances.flatMap((raw) => {
        const { def, issues } = checkInstanceDefinition(raw, {
          plugins,
          secrets,
          minIntervalMs: config.runner.minIntervalMs,
        });
        const id = (raw as { id?: unknown }).id;
        for (const issue of issues)
          problems.push(`runner.instances '${String(id)}'${issue.path}: ${issue.message}`);
        return def ? [def] : [];
      });
      if (!options.sink && !service.kafka.configured)
        problems.push('kafka.brokers: the plugin-runner delivers to Kafka; set KAFKA_BROKERS');
      if (problems.length > 0) throw new ConfigError(problems);

      const db =
        options.db ??
        (await openDb({
          url: config.database.url,
          schema: config.database.schema,
          dataDir: config.database.dataDir,
          pgliteTemplate: config.database.pgliteTemplate,
          poolMax: config.database.poolMax,
          applicationName: `fleet-${service.name}`,
        }));
      if (!options.db) service.onShutdown('database', () => db.close());
      if (db.kind === 'pglite')
        service.log.info(
          { data_dir: config.database.dataDir || '(memory)' },
          'embedded PGlite: single node only; set DATABASE_URL to run replicas',
        );
      const applied = await migrateDatabase(db);
      if (applied.length > 0) service.log.info({ versions: applied }, 'database migrated');
      const store = new Store(db);
      const sync = await store.syncConfigInstances(definitions, () => new Date());
      if (sync.created.length + sync.updated.length + sync.deleted.length > 0)
        service.log.info(sync, 'instances from configuration synced');

      const settings = runnerSettings(config, secrets, service.name);
      const metrics = new RunnerMetrics(service.metrics, settings.replicaId);
      const sink: EventSink = options.sink ?? {
        send: (topic, messages) => service.kafka.produce(topic, messages),
      };
      if (!options.sink) service.kafka.producer();
      const runner = new Runner({
        store,
        plugins,
        settings,
        log: service.log.child({ component: 'runner' }),
        metrics,
        flags: service.flags,
        sink,
      });
      handles.set(service, { runner, store, db, plugins });

      service.health.addCheck('plugin-runner:database', () => store.ping());
      // Non-critical: an open circuit pauses one instance, the replica is still useful
      service.health.addCheck(
        'plugin-runner:circuits',
        async () => {
          await runner.refreshSnapshot();
          const now = Date.now();
          const open = metrics.snapshot.filter(
            (s) => s.circuitOpenUntil && s.circuitOpenUntil.getTime() > now,
          );
          if (open.length > 0)
            throw new Error(
              `${open.length} instance(s) paused by an open circuit: ${open
                .map(
                  (s) =>
                    `${s.id} (${s.consecutiveFailures} failures, until ${s.circuitOpenUntil!.toISOString()})`,
                )
                .join(', ')}`,
            );
          return {
            replica: runner.replicaId,
            instances: metrics.snapshot.length,
            running: runner.running().map((r) => r.instanceId),
          };
        },
        { critical: false },
      );

      registerApi(app, { store, runner, plugins, secrets, config });
      app.addHook('onReady', async () => {
        runner.start();
      });
      service.onShutdown('plugin-runner', () => runner.stop());
      service.log.info(
        { replica: settings.replicaId, plugins: [...plugins.keys()], topic: settings.topic },
        'plugin-runner ready',
      );
    },
  };
}
