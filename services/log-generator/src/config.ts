import type { ServiceOptions } from '@fleet/chassis';

/** Largest rate accepted (events/s), from configuration or the admin route: keeps a typo from melting a laptop. */
export const MAX_RATE = 100_000;

export interface LoggenConfig {
  loggen: {
    enabled: boolean;
    topic: string;
    rate: number;
    /** Comma list; `serviceNames()` splits it. */
    services: string;
    hostsPerService: number;
    tickMs: number;
    maxLagMs: number;
    flood: { enabled: boolean; service: string; rate: number };
  };
}

function rate(value: unknown): void {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0 || value > MAX_RATE)
    throw new Error(`must be a number of events per second between 0 and ${MAX_RATE}`);
}

function serviceName(value: unknown): void {
  if (typeof value !== 'string' || !/^[a-z0-9][a-z0-9_.-]{0,62}$/.test(value))
    throw new Error('must be a service name: lower-case letters, digits, _ . - (at most 63 characters)');
}

/** The fake services of a comma list. */
export function serviceNames(list: string): string[] {
  return list
    .split(',')
    .map((name) => name.trim())
    .filter((name) => name !== '');
}

function serviceList(value: unknown): void {
  const names = typeof value === 'string' ? serviceNames(value) : [];
  if (names.length === 0 || names.length > 50)
    throw new Error('must list 1 to 50 service names (comma list)');
  for (const name of names) serviceName(name);
  if (new Set(names).size !== names.length) throw new Error('must not repeat a service name');
}

function between(min: number, max: number) {
  return (value: unknown): void => {
    if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max)
      throw new Error(`must be an integer between ${min} and ${max}`);
  };
}

/** log-generator's own keys, merged with the chassis schema. */
export const configSchema: NonNullable<ServiceOptions<LoggenConfig>['config']> = {
  loggen: {
    enabled: {
      doc: 'Produce from the start (needs KAFKA_BROKERS); PUT /admin/loggen changes rates at runtime',
      format: Boolean,
      default: true,
      env: 'LOGGEN_ENABLED',
    },
    topic: {
      doc: 'Kafka topic the log records go to (the one ALF consumes)',
      format: (value: unknown) => {
        if (typeof value !== 'string' || !/^[A-Za-z0-9._-]{1,249}$/.test(value))
          throw new Error('must be a Kafka topic name');
      },
      default: 'logs',
      env: 'LOGGEN_TOPIC',
    },
    rate: {
      doc: 'Events per second of all the calm services together',
      format: rate,
      default: 200,
      env: 'LOGGEN_RATE',
    },
    services: {
      doc: 'Names of the fake application services (comma list)',
      format: serviceList,
      default: 'checkout,users,search-api,payments',
      env: 'LOGGEN_SERVICES',
    },
    hostsPerService: {
      doc: 'Hosts each fake service runs on (the records name them round-robin)',
      format: between(1, 100),
      default: 3,
      env: 'LOGGEN_HOSTS_PER_SERVICE',
    },
    tickMs: {
      doc: 'Produce one batch this often',
      format: between(10, 10_000),
      default: 100,
      env: 'LOGGEN_TICK_MS',
    },
    maxLagMs: {
      doc: 'While Kafka is slower than the rate, events owed are kept up to this many ms worth; older ones are skipped (counted)',
      format: between(0, 60_000),
      default: 1000,
      env: 'LOGGEN_MAX_LAG_MS',
    },
    flood: {
      enabled: {
        doc: 'Default of the flag log-generator.flood: the flood service floods debug lines',
        format: Boolean,
        default: false,
        env: 'LOGGEN_FLOOD',
      },
      service: {
        doc: 'The noisy service of flood mode',
        format: serviceName,
        default: 'chatty-search',
        env: 'LOGGEN_FLOOD_SERVICE',
      },
      rate: {
        doc: 'Debug events per second of the flood service at flag value 100 %',
        format: rate,
        default: 2000,
        env: 'LOGGEN_FLOOD_RATE',
      },
    },
  },
};
