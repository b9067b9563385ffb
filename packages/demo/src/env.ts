import { join } from 'node:path';

/** The services of the demo, in start order (the console first: it holds the flags). */
export const SERVICE_NAMES = [
  'console',
  'index-provisioner',
  'plugin-runner',
  'alf',
  'log-generator',
] as const;
export type ServiceName = (typeof SERVICE_NAMES)[number];

/** The noisy service of log-generator's flood mode. */
export const FLOOD_SERVICE = 'chatty-search';

/** What the environment builders need to know about the stack. */
export interface StackPlan {
  home: string;
  host: string;
  logLevel: string;
  jwks: string;
  kafkaBrokers: string;
  embeddedKafka: boolean;
  hecUrl: string;
  hecTokenFile: string;
  databaseUrl?: string;
  pgliteTemplate?: string;
  urls: Record<ServiceName, string>;
  ports: Record<ServiceName, number>;
  withConsole: boolean;
  loggen: { rate: number; floodRate: number; flood: boolean };
}

/**
 * Variables the launcher decides for every child: anything inherited under these names (or
 * prefixes) is dropped, so a stray PORT or CONFIG_FILE in the caller's shell cannot change the demo.
 */
const CONTROLLED = [
  /^PORT$/,
  /^HOST$/,
  /^ADMIN_PORT$/,
  /^CONFIG_FILE$/,
  /^LOG_LEVEL$/,
  /^DATABASE_/,
  /^PGLITE_/,
  /^FLAGS_/,
  /^AUTH_/,
  /^KAFKA_BROKERS$/,
  /^HEC_/,
  /^ALF_/,
  /^LOGGEN_/,
  /^PLUGIN_/,
  /^PROVISIONER_/,
  /^CONSOLE_/,
];

export function inheritedEnv(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const out: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(env))
    if (!CONTROLLED.some((re) => re.test(key))) out[key] = value;
  return out;
}

function flagsEnv(plan: StackPlan, name: ServiceName): Record<string, string> {
  // The console is the fleet's flag store; with DATABASE_URL every service shares the postgres store directly.
  if (plan.databaseUrl) return { FLAGS_STORE: 'postgres', DATABASE_URL: plan.databaseUrl };
  if (name === 'console') return { FLAGS_STORE: 'postgres', FLAGS_PGLITE_DIR: join(plan.home, 'console') };
  if (!plan.withConsole) return { FLAGS_STORE: 'memory' };
  return {
    FLAGS_STORE: 'http',
    FLAGS_HTTP_URL: plan.urls.console,
    FLAGS_HTTP_TOKEN_FILE: join(plan.home, 'admin.token'),
    FLAGS_POLL_INTERVAL_MS: '500',
  };
}

function databaseEnv(plan: StackPlan, name: 'index-provisioner' | 'plugin-runner'): Record<string, string> {
  // Own schema per service: their tables differ, but keeping each in its namespace also keeps
  // migration bookkeeping and advisory locks apart, and lets one be dropped without the other.
  if (plan.databaseUrl)
    return {
      DATABASE_URL: plan.databaseUrl,
      DATABASE_SCHEMA: name.replace('-', '_'),
      DATABASE_POOL_MAX: '4',
    };
  return {
    PGLITE_DATA_DIR: join(plan.home, name),
    ...(plan.pgliteTemplate ? { PGLITE_TEMPLATE: plan.pgliteTemplate } : {}),
  };
}

/** ALF rules: errors to their own index, the flood to a `chatty` index (so it stands out in Splunk). */
export const ALF_RULES = {
  routes: [
    { match: { level: '>=error' }, index: 'errors', sourcetype: 'app' },
    { match: { service: 'chatty-*' }, index: 'chatty', sourcetype: 'app-debug' },
    { match: { service: 'status-feed' }, index: 'thirdparty', sourcetype: 'plugin' },
  ],
};

/** The environment of one child, over the inherited one. */
export function serviceEnv(plan: StackPlan, name: ServiceName, base: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const common: Record<string, string> = {
    PORT: String(plan.ports[name]),
    HOST: plan.host,
    LOG_LEVEL: plan.logLevel,
    AUTH_PUBLIC_KEYS: plan.jwks,
    SHUTDOWN_TIMEOUT_MS: '8000',
    ...flagsEnv(plan, name),
  };
  const kafka = { KAFKA_BROKERS: plan.kafkaBrokers };
  const own: Record<ServiceName, () => Record<string, string>> = {
    console: () => ({
      CONSOLE_SERVICES: JSON.stringify(
        SERVICE_NAMES.filter((s) => s !== 'console').map((s) => ({
          name: s,
          url: plan.urls[s],
          kind: s === 'log-generator' ? 'service' : s,
        })),
      ),
      CONSOLE_TOKEN_FILE: join(plan.home, 'admin.token'),
      CONSOLE_POLL_MS: '1000',
    }),
    'index-provisioner': () => ({
      ...databaseEnv(plan, 'index-provisioner'),
      PROVISIONER_CLUSTERS: JSON.stringify({
        dev: { clustered: true, target: { type: 'directory', root: join(plan.home, 'splunk') } },
      }),
    }),
    'plugin-runner': () => ({ ...kafka, ...databaseEnv(plan, 'plugin-runner'), PLUGIN_RUNNER_TOPIC: 'logs' }),
    alf: () => ({
      ...kafka,
      ...(plan.embeddedKafka ? { KAFKA_FROM_BEGINNING: 'true' } : {}),
      ALF_TOPICS: 'logs',
      ALF_DLQ_TOPIC: 'alf.dlq',
      ALF_RULES: JSON.stringify(ALF_RULES),
      HEC_URL: plan.hecUrl,
      HEC_TOKEN_FILE: plan.hecTokenFile,
      HEC_BATCH_LINGER_MS: '200',
    }),
    'log-generator': () => ({
      ...kafka,
      LOGGEN_TOPIC: 'logs',
      LOGGEN_RATE: String(plan.loggen.rate),
      LOGGEN_FLOOD_RATE: String(plan.loggen.floodRate),
      LOGGEN_FLOOD: String(plan.loggen.flood),
      LOGGEN_FLOOD_SERVICE: FLOOD_SERVICE,
    }),
  };
  return { ...base, ...common, ...own[name]() };
}
