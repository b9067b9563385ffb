import type { Service, ServiceOptions } from '@fleet/chassis';

/** The Fastify instance a service's routes receive (typed through the chassis, not Fastify itself). */
export type App = Parameters<NonNullable<ServiceOptions['routes']>>[0];
export type Logger = Service['log'];
