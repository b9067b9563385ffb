/**
 * Types of the chassis's libraries, reached through the chassis's own API so ALF does not depend
 * on pino, fastify, prom-client or convict directly.
 */
import type { MetricsRegistry, Service, ServiceOptions } from '@fleet/chassis';

export type Logger = Service['log'];
export type FastifyInstance = Service['app'];
export type ConfigSchema<C extends object> = NonNullable<ServiceOptions<C>['config']>;
export type Counter = ReturnType<MetricsRegistry['counter']>;
export type Gauge = ReturnType<MetricsRegistry['gauge']>;
export type Histogram = ReturnType<MetricsRegistry['histogram']>;
