import type { Logger } from 'pino';
import { ConfigError } from '../config/errors.js';
import type { HealthRegistry } from '../health/registry.js';
import type { MetricsRegistry } from '../metrics/registry.js';
import { FlagsClient } from './client.js';
import { FileFlagStore } from './file.js';
import { HttpFlagStore } from './http.js';
import { isValidFlagName, parseFlagValue } from './model.js';
import { PostgresFlagStore } from './postgres.js';
import type { FlagsConfig } from './schema.js';
import { type FlagStore, MemoryFlagStore } from './store.js';

/**
 * Parse `flags.overrides`: a JSON object (`{"alf.drop.debug": 10000, "search.new_ranker": "25%"}`)
 * or a comma list (`alf.drop.debug=10000,search.new_ranker=25%`). Values as in parseFlagValue.
 */
export function parseFlagOverrides(text: string): { overrides: Record<string, number>; problems: string[] } {
  const overrides: Record<string, number> = {};
  const problems: string[] = [];
  const trimmed = text.trim();
  if (trimmed === '') return { overrides, problems };
  let entries: Array<[string, unknown]>;
  if (trimmed.startsWith('{')) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(trimmed);
    } catch (err) {
      return { overrides, problems: [`flags.overrides: not valid JSON: ${(err as Error).message}`] };
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed))
      return { overrides, problems: ['flags.overrides: must be a JSON object of flag names to values'] };
    entries = Object.entries(parsed);
  } else {
    entries = trimmed
      .split(',')
      .map((part) => part.trim())
      .filter(Boolean)
      .map((part) => {
        const at = part.indexOf('=');
        return at < 0 ? [part, undefined] : [part.slice(0, at).trim(), part.slice(at + 1).trim()];
      });
  }
  for (const [name, value] of entries) {
    if (!isValidFlagName(name)) {
      problems.push(`flags.overrides: invalid flag name ${JSON.stringify(name)} (a-z, 0-9, '_', '.', '-')`);
      continue;
    }
    try {
      overrides[name] = parseFlagValue(value);
    } catch (err) {
      problems.push(`flags.overrides: ${name}: ${(err as Error).message}`);
    }
  }
  return { overrides, problems };
}

function isUrl(text: string, protocols: string[]): boolean {
  try {
    return protocols.includes(new URL(text).protocol);
  } catch {
    return false;
  }
}

/** Problems with the `flags` configuration group (combinations convict cannot check). */
export function flagsConfigProblems(config: FlagsConfig): string[] {
  const problems: string[] = [];
  if (config.store === 'file' && !config.file)
    problems.push("flags.file: required when flags.store is 'file' (set FLAGS_FILE)");
  if (config.store === 'http' && !config.httpUrl)
    problems.push("flags.httpUrl: required when flags.store is 'http' (set FLAGS_HTTP_URL)");
  if (config.httpUrl && !isUrl(config.httpUrl, ['http:', 'https:']))
    problems.push(`flags.httpUrl: not an http(s) URL: ${config.httpUrl}`);
  if (
    config.store === 'postgres' &&
    config.databaseUrl &&
    !isUrl(config.databaseUrl, ['postgres:', 'postgresql:'])
  )
    problems.push('flags.databaseUrl: DATABASE_URL is not a postgres:// URL');
  if (config.pollIntervalMs < 10) problems.push('flags.pollIntervalMs: must be at least 10 ms');
  problems.push(...parseFlagOverrides(config.overrides).problems);
  return problems;
}

/** The store the configuration asks for (postgres without a URL: embedded PGlite). */
export async function createFlagStore(config: FlagsConfig, serviceName = 'fleet'): Promise<FlagStore> {
  switch (config.store) {
    case 'postgres':
      return config.databaseUrl
        ? PostgresFlagStore.connect(config.databaseUrl, {
            reloadIntervalMs: Math.max(config.pollIntervalMs, 1000),
            applicationName: `fleet-flags ${serviceName}`.slice(0, 63),
          })
        : PostgresFlagStore.embedded(config.pgliteDir, {
            reloadIntervalMs: Math.max(config.pollIntervalMs, 1000),
          });
    case 'file':
      return new FileFlagStore({ path: config.file, pollIntervalMs: config.pollIntervalMs });
    case 'http':
      return new HttpFlagStore({
        url: config.httpUrl,
        token: config.httpToken,
        pollIntervalMs: config.pollIntervalMs,
      });
    default:
      return new MemoryFlagStore();
  }
}

export interface CreateFlagsOptions {
  config: FlagsConfig;
  log: Logger;
  /** Registers flag_evaluations_total, flag_value, flags_last_update_age_seconds, flags_store_up. */
  metrics?: MetricsRegistry;
  /** Registers a non-critical `flags` readiness check (an unreachable store never makes a service unready). */
  health?: HealthRegistry;
  /** A store instance instead of the configured one. */
  store?: FlagStore;
  serviceName?: string;
  /** How long to wait for the first load before serving defaults (default 5000 ms). */
  startTimeoutMs?: number;
}

/** Build and start the flags of a service. Throws ConfigError for an invalid `flags` group. */
export async function createFlags(options: CreateFlagsOptions): Promise<FlagsClient> {
  const { config } = options;
  const problems = flagsConfigProblems(config);
  if (problems.length > 0) throw new ConfigError(problems);
  const store = options.store ?? (await createFlagStore(config, options.serviceName));
  const client = new FlagsClient({
    store,
    log: options.log,
    overrides: parseFlagOverrides(config.overrides).overrides,
  });
  if (options.metrics) client.registerMetrics(options.metrics);
  options.health?.addCheck(
    'flags',
    () => {
      const status = client.status;
      if (!status.up)
        throw new Error(`${status.store} flag store unreachable: serving the last good snapshot`);
      return { store: status.store, age_s: Math.round(status.ageSeconds * 1000) / 1000 };
    },
    { critical: false },
  );
  await client.start(options.startTimeoutMs);
  return client;
}
