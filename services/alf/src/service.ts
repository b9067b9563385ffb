import type { Service, ServiceOptions } from '@fleet/chassis';
import { type AlfConfig, alfSchema } from './config.js';
import { Forwarder, type ForwarderOptions } from './forwarder.js';

export const ALF_VERSION = '0.1.0';

const forwarders = new WeakMap<object, Forwarder>();

/** The Forwarder running in a service built from `alfOptions` (tests, tools). */
export function forwarderOf(service: Service<AlfConfig>): Forwarder | undefined {
  return forwarders.get(service);
}

/** ALF's service definition; `options` reach the Forwarder (tests inject a flags client). */
export function alfOptions(options: ForwarderOptions = {}): ServiceOptions<AlfConfig> {
  return {
    name: 'alf',
    version: ALF_VERSION,
    config: alfSchema,
    routes(app, service) {
      const forwarder = new Forwarder(service, options);
      forwarders.set(service, forwarder);
      if (service.adminApp === service.app) forwarder.routes(app);
      else service.adminApp.register(async (scope) => forwarder.routes(scope));
      forwarder.start();
    },
  };
}

/** The Application Log Forwarder: Kafka → Splunk HEC. */
export const alf: ServiceOptions<AlfConfig> = alfOptions();
