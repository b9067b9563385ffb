import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Output, ServiceProcess } from './child.js';
import { inheritedEnv, SERVICE_NAMES, type ServiceName, type StackPlan, serviceEnv } from './env.js';
import { type FakeApi, startFakeApi } from './fake-api.js';
import { hecInfra, kafkaInfra, pgliteTemplate } from './infra.js';
import { createPluginInstance, PLUGIN_INSTANCE } from './plugin.js';
import { freePorts } from './ports.js';
import { type DemoTokens, mintDemoTokens } from './tokens.js';

/** The repository root (this file is packages/demo/{src,dist}/demo.{ts,js}). */
export const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));

export interface DemoOptions {
  /** State, tokens and the Splunk directory target (default `<repo>/.dev/demo`). */
  home?: string;
  /** Interface the services listen on (default 127.0.0.1). */
  host?: string;
  /** First port to try; services take the next free ones (default: any free ports). Env DEMO_PORT. */
  basePort?: number;
  /** LOG_LEVEL of every service (default `warn`). */
  logLevel?: string;
  /** Real Kafka bootstrap brokers: no embedded broker; the topics are created if missing. */
  kafkaBrokers?: string;
  /** Real Splunk HEC (both needed): no embedded receiver. */
  hecUrl?: string;
  hecToken?: string;
  /** Real PostgreSQL for index-provisioner, plugin-runner (one schema each) and the flag store. */
  databaseUrl?: string;
  /** Run the console: `true` requires it, `false` skips it, `'auto'` (default) runs it when it is built. */
  console?: boolean | 'auto';
  /** How long every service gets to become ready (default 90 s: a first start initialises databases). */
  readyTimeoutMs?: number;
  /** log-generator: calm rate, flood rate (events/s) and whether the flood starts on. */
  loggen?: { rate?: number; floodRate?: number; flood?: boolean };
  /** A new item appears in the fake third-party API this often (default 1000 ms). */
  feedEveryMs?: number;
  /** plugin-runner polls the fake API this often (default 3 s). */
  pollEvery?: string;
  /** Progress and the children's warnings, one line at a time (default: stderr). */
  output?: Output;
  /** Environment the children inherit (default process.env), minus what the demo decides. */
  env?: NodeJS.ProcessEnv;
  /** Abort the start (Ctrl-C while starting): what was started is stopped and the promise rejects. */
  signal?: AbortSignal;
}

export interface DemoService {
  name: ServiceName;
  url: string;
  pid: number | undefined;
  /** Milliseconds from its spawn to ready. */
  readyMs: number | undefined;
}

export interface Demo {
  services: Partial<Record<ServiceName, DemoService>>;
  /** The console page with the admin token in the fragment, when the console runs. */
  consoleUrl?: string;
  tokens: DemoTokens;
  home: string;
  /** Where index-provisioner deploys the `dev` cluster's files. */
  splunkDir: string;
  kafka: { brokers: string; embedded: boolean };
  hec: { url: string; embedded: boolean; accepted(): number | undefined };
  fakeApi: { url: string; items(): number };
  /** The plugin-runner instance polling the fake API. */
  pluginInstance: string;
  /** Milliseconds from startDemo() to everything ready. */
  readyMs: number;
  /** Why the console does not run, when it does not. */
  consoleSkipped?: string;
  /** SIGTERM every child (SIGKILL after `graceMs`, default 12 s), then close the embedded servers. */
  stop(graceMs?: number): Promise<void>;
  /** SIGKILL every child at once (a second Ctrl-C). */
  kill(): void;
}

/** What the chassis http flag store logs once per outage of the store. */
const STORE_UNREACHABLE = 'flag store unreachable: serving the last good snapshot';

function entry(name: ServiceName): string {
  return join(REPO_ROOT, 'services', name, 'dist', 'main.js');
}

/** Options from the environment: DEMO_PORT, KAFKA_BROKERS, HEC_URL + HEC_TOKEN, DATABASE_URL, LOG_LEVEL. */
export function demoOptionsFromEnv(env: NodeJS.ProcessEnv = process.env): DemoOptions {
  const base = env.DEMO_PORT ? Number(env.DEMO_PORT) : undefined;
  if (base !== undefined && (!Number.isInteger(base) || base < 1 || base > 65_535))
    throw new Error(`DEMO_PORT must be a port number, got '${env.DEMO_PORT}'`);
  return {
    ...(base !== undefined ? { basePort: base } : {}),
    ...(env.KAFKA_BROKERS ? { kafkaBrokers: env.KAFKA_BROKERS } : {}),
    ...(env.HEC_URL ? { hecUrl: env.HEC_URL } : {}),
    ...(env.HEC_TOKEN ? { hecToken: env.HEC_TOKEN } : {}),
    ...(env.DATABASE_URL ? { databaseUrl: env.DATABASE_URL } : {}),
    ...(env.LOG_LEVEL ? { logLevel: env.LOG_LEVEL } : {}),
    ...(env.DEMO_HOME ? { home: resolve(env.DEMO_HOME) } : {}),
  };
}

/**
 * Starts the whole fleet: embedded infrastructure (or the real one named in the options), then
 * every service as a child process, waits until each is ready and creates the plugin instance.
 * On any failure, everything started so far is stopped before the error is thrown.
 */
export async function startDemo(options: DemoOptions = {}): Promise<Demo> {
  const startedAt = performance.now();
  const output = options.output ?? ((line: string) => process.stderr.write(`${line}\n`));
  const host = options.host ?? '127.0.0.1';
  const home = resolve(options.home ?? join(REPO_ROOT, '.dev', 'demo'));
  mkdirSync(home, { recursive: true });
  if (options.hecUrl && !options.hecToken) throw new Error('HEC_URL needs HEC_TOKEN');

  const consoleBuilt = existsSync(entry('console'));
  if (options.console === true && !consoleBuilt)
    throw new Error(
      `the console is not built (${entry('console')} is missing): npm run build -w @fleet/console`,
    );
  for (const name of SERVICE_NAMES)
    if (name !== 'console' && !existsSync(entry(name)))
      throw new Error(`${name} is not built (${entry(name)} is missing): run 'npm run build' first`);
  const withConsole = consoleBuilt && options.console !== false;
  const consoleSkipped = withConsole
    ? undefined
    : consoleBuilt
      ? 'disabled by the caller'
      : 'services/console is not built (npm run build -w @fleet/console); flags are per service meanwhile';

  const cleanups: Array<() => Promise<unknown>> = [];
  const children: ServiceProcess[] = [];
  const stopAll = async (graceMs = 12_000) => {
    // The console last: the others read their flags from it until they are gone.
    await Promise.all(children.filter((c) => c.name !== 'console').map((child) => child.stop(graceMs)));
    await Promise.all(children.map((child) => child.stop(graceMs)));
    for (const cleanup of cleanups.reverse()) await cleanup().catch(() => {});
    cleanups.length = 0;
  };

  try {
    const [tokens, ports, kafka, hec, template] = await Promise.all([
      mintDemoTokens(home),
      freePorts(SERVICE_NAMES.length + 1, host, options.basePort),
      kafkaInfra(options.kafkaBrokers),
      hecInfra(options.hecUrl, options.hecToken, host),
      options.databaseUrl ? Promise.resolve(undefined) : pgliteTemplate(),
    ]);
    if (kafka.embedded) cleanups.push(() => kafka.embedded!.close());
    if (hec.embedded) cleanups.push(() => hec.embedded!.close());
    const hecTokenFile = join(home, 'hec.token');
    writeFileSync(hecTokenFile, `${hec.token}\n`, { mode: 0o600 });

    const portOf = {} as Record<ServiceName, number>;
    const urls = {} as Record<ServiceName, string>;
    SERVICE_NAMES.forEach((name, i) => {
      portOf[name] = ports[i] as number;
      urls[name] = `http://${host}:${ports[i]}`;
    });
    const fakeApi: FakeApi = await startFakeApi({
      port: ports[SERVICE_NAMES.length] as number,
      host,
      everyMs: options.feedEveryMs ?? 1000,
    });
    cleanups.push(() => fakeApi.close());

    const plan: StackPlan = {
      home,
      host,
      logLevel: options.logLevel ?? 'warn',
      jwks: tokens.jwks,
      kafkaBrokers: kafka.brokers,
      embeddedKafka: kafka.embedded !== undefined,
      hecUrl: hec.url,
      hecTokenFile,
      ...(options.databaseUrl ? { databaseUrl: options.databaseUrl } : {}),
      ...(template ? { pgliteTemplate: template } : {}),
      urls,
      ports: portOf,
      withConsole,
      loggen: {
        rate: options.loggen?.rate ?? 200,
        floodRate: options.loggen?.floodRate ?? 2000,
        flood: options.loggen?.flood ?? true,
      },
    };
    const base = inheritedEnv(options.env ?? process.env);
    const timeout = options.readyTimeoutMs ?? 90_000;
    const launch = (name: ServiceName) => {
      const child = new ServiceProcess(name, urls[name], entry(name), serviceEnv(plan, name, base), output);
      children.push(child);
      return child;
    };

    // Everything starts at once. Services whose flag store is the console warn while it is still
    // starting (PGlite takes seconds); that one warning is expected and hidden until it is ready.
    const consoleChild = withConsole ? launch('console') : undefined;
    const rest = SERVICE_NAMES.filter((name) => name !== 'console').map(launch);
    if (consoleChild && !plan.databaseUrl) for (const child of rest) child.quiet.add(STORE_UNREACHABLE);
    await Promise.all([
      consoleChild?.waitReady(timeout, options.signal).then(() => {
        for (const child of rest) child.quiet.delete(STORE_UNREACHABLE);
      }),
      ...rest.map((child) => child.waitReady(timeout, options.signal)),
    ]);
    options.signal?.throwIfAborted();
    await createPluginInstance(urls['plugin-runner'], tokens.admin, fakeApi.url, options.pollEvery ?? '3s');

    const services: Demo['services'] = {};
    for (const child of children)
      services[child.name as ServiceName] = {
        name: child.name as ServiceName,
        url: child.url,
        pid: child.pid,
        readyMs: child.readyMs,
      };
    return {
      services,
      ...(withConsole ? { consoleUrl: `${urls.console}/#token=${tokens.admin}` } : {}),
      ...(consoleSkipped ? { consoleSkipped } : {}),
      tokens,
      home,
      splunkDir: join(home, 'splunk'),
      kafka: { brokers: kafka.brokers, embedded: kafka.embedded !== undefined },
      hec: {
        url: hec.url,
        embedded: hec.embedded !== undefined,
        accepted: () => hec.embedded?.acceptedCount,
      },
      fakeApi: { url: fakeApi.url, items: () => fakeApi.count() },
      pluginInstance: PLUGIN_INSTANCE,
      readyMs: Math.round(performance.now() - startedAt),
      stop: stopAll,
      kill: () => {
        for (const child of children) child.kill();
      },
    };
  } catch (error) {
    await stopAll(5000);
    throw error;
  }
}
