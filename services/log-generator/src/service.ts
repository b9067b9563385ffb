import type { Service, ServiceOptions } from '@fleet/chassis';
import { configSchema, type LoggenConfig, MAX_RATE, serviceNames } from './config.js';
import { LogGenerator } from './generator.js';

/** Port used when PORT is not set: chosen by create-service to be unique in the repository. */
export const DEFAULT_PORT = 3001;

/** Flag that turns the flood on (value in basis points scales the flood rate: 5000 = half of it). */
export const FLOOD_FLAG = 'log-generator.flood';

export type ServiceConfig = LoggenConfig;
type FastifyInstance = Service['app'];

/** Body of PUT /admin/loggen: any subset of the runtime-changeable settings. */
export interface LoggenUpdate {
  rate?: number;
  floodRate?: number;
}

/** log-generator: synthetic application logs to Kafka at a configurable rate, with a flood mode. */
export const serviceOptions: ServiceOptions<ServiceConfig> = {
  name: 'log-generator',
  version: '0.1.0',
  config: configSchema,
  routes(app, service) {
    const cfg = service.config.loggen;
    const produced = service.metrics.counter({
      name: 'loggen_events_produced_total',
      help: 'Synthetic log records acknowledged by Kafka',
      labelNames: ['service', 'level'],
    });
    const skipped = service.metrics.counter({
      name: 'loggen_events_skipped_total',
      help: 'Records not produced because Kafka was slower than the rate (backpressure)',
    });
    const failures = service.metrics.counter({
      name: 'loggen_produce_failures_total',
      help: 'Batches Kafka did not take',
    });
    const flood = service.flags.define(FLOOD_FLAG, {
      default: cfg.flood.enabled,
      description: `${cfg.flood.service} floods debug lines (value scales the flood rate)`,
      owner: 'log-generator',
    });
    const settings = { rate: cfg.rate, floodRate: cfg.flood.rate };
    const totals = { produced: 0, skipped: 0, failures: 0 };

    const generator = new LogGenerator({
      send: (messages) => service.kafka.produce(cfg.topic, messages),
      services: serviceNames(cfg.services),
      hostsPerService: cfg.hostsPerService,
      floodService: cfg.flood.service,
      rates: () => ({ calm: settings.rate, flood: (settings.floodRate * flood.value()) / 10_000 }),
      tickMs: cfg.tickMs,
      maxLagMs: cfg.maxLagMs,
      onProduced(name, level, count) {
        produced.inc({ service: name, level }, count);
        totals.produced += count;
      },
      onSkipped(count) {
        skipped.inc(count);
        totals.skipped += count;
      },
      onError(error) {
        failures.inc();
        totals.failures++;
        service.log.warn({ err: error, topic: cfg.topic }, 'producing a log batch failed');
      },
    });

    if (!service.kafka.configured) {
      service.log.warn('KAFKA_BROKERS is not set: no logs are produced');
    } else if (cfg.enabled) {
      app.addHook('onReady', async () => generator.start());
    }
    // Runs before the chassis disconnects the producer: the batch in flight is finished first.
    service.onShutdown('log-generator', () => generator.stop());

    const register = (scope: FastifyInstance) => adminRoutes(scope, service, settings, totals, generator);
    if (service.adminApp === service.app) register(app);
    else service.adminApp.register(async (scope) => register(scope));
  },
};

function adminRoutes(
  app: FastifyInstance,
  service: Service<ServiceConfig>,
  settings: { rate: number; floodRate: number },
  totals: { produced: number; skipped: number; failures: number },
  generator: LogGenerator,
): void {
  const cfg = service.config.loggen;
  const auth = { scopes: [service.config.admin.scope] };
  const state = () => {
    const floodValue = service.flags.value(FLOOD_FLAG);
    return {
      topic: cfg.topic,
      running: generator.running,
      rate: settings.rate,
      services: serviceNames(cfg.services),
      flood: {
        service: cfg.flood.service,
        flag: FLOOD_FLAG,
        flagValue: floodValue,
        on: floodValue > 0,
        rate: settings.floodRate,
        effectiveRate: (settings.floodRate * floodValue) / 10_000,
      },
      floodRate: settings.floodRate,
      totals: { ...totals },
    };
  };
  const rateSchema = { type: 'number', minimum: 0, maximum: MAX_RATE };

  app.get('/admin/loggen', { auth }, async () => state());
  app.put<{ Body: LoggenUpdate }>(
    '/admin/loggen',
    {
      auth,
      schema: {
        body: {
          type: 'object',
          additionalProperties: false,
          minProperties: 1,
          properties: { rate: rateSchema, floodRate: rateSchema },
        },
      },
    },
    async (request) => {
      const before = { ...settings };
      if (request.body.rate !== undefined) settings.rate = request.body.rate;
      if (request.body.floodRate !== undefined) settings.floodRate = request.body.floodRate;
      request.log.warn({ before, after: settings, by: request.principal?.subject }, 'log rates changed');
      return state();
    },
  );
}
