import { readFileSync } from 'node:fs';
import convict from 'convict';
import { ConfigError } from './errors.js';
import { parseYaml } from './yaml.js';

convict.addParser([
  { extension: ['yml', 'yaml'], parse: parseYaml },
  { extension: 'json', parse: JSON.parse },
]);

export interface ConfigSources {
  /** Environment (default: process.env). */
  env?: NodeJS.ProcessEnv;
  /** CLI arguments (default: process.argv.slice(2)). */
  argv?: string[];
  /** Config files, lowest precedence first (default: the comma list in CONFIG_FILE). */
  files?: string[];
}

type SchemaNode = Record<string, unknown>;

function isLeaf(node: unknown): node is { env?: string; sensitive?: boolean } {
  return typeof node === 'object' && node !== null && 'default' in node;
}

/** Every `env` name declared in a schema (walks nested groups). */
export function declaredEnvNames(schema: SchemaNode): string[] {
  const names: string[] = [];
  for (const node of Object.values(schema)) {
    if (isLeaf(node)) {
      if (node.env) names.push(node.env);
    } else if (typeof node === 'object' && node !== null) {
      names.push(...declaredEnvNames(node as SchemaNode));
    }
  }
  return names;
}

/** Merge schemas; a key defined twice is a programming error, reported at once. */
export function mergeSchemas(base: SchemaNode, extra: SchemaNode, path = ''): SchemaNode {
  const out: SchemaNode = { ...base };
  for (const [key, node] of Object.entries(extra)) {
    const existing = out[key];
    const full = path ? `${path}.${key}` : key;
    if (existing === undefined) out[key] = node;
    else if (!isLeaf(existing) && !isLeaf(node) && typeof existing === 'object' && typeof node === 'object')
      out[key] = mergeSchemas(existing as SchemaNode, node as SchemaNode, full);
    else throw new Error(`config key '${full}' is defined twice (chassis keys are reserved)`);
  }
  return out;
}

/**
 * `X_FILE=/path` supplies the variable `X` from a file (Kubernetes/Docker secrets).
 * Returns the environment with those values filled in, and the problems met.
 */
function resolveFileVariables(
  env: NodeJS.ProcessEnv,
  declared: string[],
): { env: NodeJS.ProcessEnv; problems: string[] } {
  const out: NodeJS.ProcessEnv = { ...env };
  const problems: string[] = [];
  for (const name of declared) {
    const path = env[`${name}_FILE`];
    if (!path) continue;
    if (env[name] !== undefined) {
      problems.push(`${name} and ${name}_FILE are both set; set only one`);
      continue;
    }
    try {
      out[name] = readFileSync(path, 'utf8').replace(/\r?\n$/, '');
    } catch (err) {
      problems.push(
        `${name}_FILE: cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`,
      );
    }
  }
  return { env: out, problems };
}

/**
 * Load configuration: defaults < config files < environment < CLI args.
 * Throws one ConfigError listing every problem (unknown keys, wrong types, missing values, unreadable files).
 */
export function loadConfig<T>(schema: SchemaNode, sources: ConfigSources = {}): convict.Config<T> {
  const rawEnv = sources.env ?? process.env;
  const { env, problems } = resolveFileVariables(rawEnv, declaredEnvNames(schema));
  const files =
    sources.files ??
    (rawEnv.CONFIG_FILE ?? '')
      .split(',')
      .map((f) => f.trim())
      .filter(Boolean);

  let conf: convict.Config<T>;
  try {
    conf = convict<T>(schema as convict.Schema<T>, { env, args: sources.argv ?? process.argv.slice(2) });
  } catch (err) {
    // convict throws while coercing env/args values it cannot parse (e.g. malformed JSON arrays)
    throw new ConfigError([...problems, (err as Error).message]);
  }
  for (const file of files) {
    try {
      conf.loadFile(file);
    } catch (err) {
      const e = err as NodeJS.ErrnoException;
      problems.push(`CONFIG_FILE ${file}: ${e.code === 'ENOENT' ? 'file not found' : e.message}`);
    }
  }
  try {
    conf.validate({ allowed: 'strict' });
  } catch (err) {
    problems.push(...(err as Error).message.split('\n').filter(Boolean));
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return conf;
}
