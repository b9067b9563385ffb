import type { ServiceOptions } from '@fleet/chassis';
import { openDb } from '@fleet/chassis/db';
import { configSchema, type ProvisionerConfig } from './config.js';
import { DbIdempotencyStore } from './db/idempotency.js';
import { migrateDatabase } from './db/migrations.js';
import { AutoDeployer, Deployer } from './deploy/deployer.js';
import { DomainError } from './domain/validation.js';
import { Context, STATUS_TEXT } from './http/context.js';
import { indexRoutes } from './http/indexes.js';
import { openApiCollector } from './http/openapi.js';
import { operationRoutes } from './http/operations.js';
import { roleRoutes } from './http/roles.js';

export const NAME = 'index-provisioner';
export const VERSION = '0.1.0';

export type { ProvisionerConfig } from './config.js';

/**
 * The index-provisioner service: self-service Splunk indexes and roles. A factory, because each
 * service instance needs its own idempotency store bound to its own database.
 */
export function indexProvisionerOptions(
  overrides: Partial<Pick<ServiceOptions<ProvisionerConfig>, 'configSources' | 'logDestination'>> = {},
): ServiceOptions<ProvisionerConfig> {
  const idempotencyStore = new DbIdempotencyStore();
  return {
    name: NAME,
    version: VERSION,
    config: configSchema,
    idempotency: { store: idempotencyStore },
    ...overrides,
    async routes(app, service) {
      const config = service.config;
      const db = await openDb({
        url: config.database.url,
        schema: config.database.schema,
        dataDir: config.database.dataDir,
        pgliteTemplate: config.database.pgliteTemplate,
        poolMax: config.database.poolMax,
        applicationName: `fleet-${NAME}`,
      });
      try {
        const applied = await migrateDatabase(db);
        if (applied.length > 0) service.log.info({ migrations: applied }, 'database migrated');
      } catch (err) {
        await db.close().catch(() => {});
        throw err;
      }
      service.log.info({ database: db.kind, schema: config.database.schema || undefined }, 'database ready');
      idempotencyStore.attach(db);
      service.health.addCheck('database', () => db.query('SELECT 1').then(() => true), { critical: true });

      const settings = config.provisioner;
      const deployer = new Deployer({ db, settings, log: service.log, metrics: service.metrics });
      const autoDeploy = settings.autoDeploy.enabled
        ? new AutoDeployer(deployer, settings.autoDeploy.debounceMs, service.log)
        : undefined;
      const ctx = new Context(db, settings, config.admin.scope, deployer, autoDeploy, service.metrics);

      app.addHook('onClose', async () => {
        autoDeploy?.stop();
        await deployer.drain();
        await db.close();
      });

      // Domain errors carry the field at fault; anything else goes to the chassis error handler
      app.setErrorHandler((error, _request, reply) => {
        if (!(error instanceof DomainError)) throw error;
        return reply.code(error.statusCode).send({
          statusCode: error.statusCode,
          error: STATUS_TEXT[error.statusCode] ?? 'Error',
          code: error.code,
          message: error.message,
          ...(error.field ? { field: error.field } : {}),
          ...error.extra,
        });
      });

      // Registered before the collector: the document does not describe itself
      let document: () => object = () => ({});
      app.get('/docs/openapi.json', async () => document());
      document = openApiCollector(app, {
        title: 'Fleet index-provisioner',
        version: VERSION,
        description:
          'Self-service Splunk indexes and roles: teams create indexes and access policies; the service renders indexes.conf, authorize.conf and authentication.conf and deploys them.',
      });
      indexRoutes(app, ctx);
      roleRoutes(app, ctx);
      operationRoutes(app, ctx);
    },
  };
}

/** The options `main.ts` runs. */
export const indexProvisioner: ServiceOptions<ProvisionerConfig> = indexProvisionerOptions();
