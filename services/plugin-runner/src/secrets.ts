/**
 * Secrets in instance configs are references, resolved at the start of every run (so rotated
 * files are picked up) and never stored or shown resolved:
 *
 * - `"token_FILE": "/run/secrets/github-token"` supplies `token` from a file (one trailing newline
 *   dropped), as the chassis does for `X_FILE` variables;
 * - `"${PLUGIN_GITHUB_TOKEN}"` anywhere in a string is replaced by that environment variable
 *   (`$${` writes a literal `${`).
 *
 * Instances can be created through the API, so references are confined: variables must start with
 * one of `envPrefixes`, files must lie under one of `fileDirs`.
 */
import { readFileSync } from 'node:fs';
import { isAbsolute, normalize, sep } from 'node:path';
import { isSecretKey, REDACTED } from '@fleet/chassis';
import { ConfigValidationError } from './errors.js';
import type { ValidationIssue } from './json-schema.js';

export interface SecretPolicy {
  env: NodeJS.ProcessEnv;
  envPrefixes: readonly string[];
  fileDirs: readonly string[];
}

const FILE_SUFFIX = '_FILE';
const REFERENCE = /\$\$\{|\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g;
const ONLY_REFERENCE = /^\$\{[A-Za-z_][A-Za-z0-9_]*\}$/;

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function pointer(path: string, key: string | number): string {
  return `${path}/${String(key).replace(/~/g, '~0').replace(/\//g, '~1')}`;
}

function allowedFile(path: string, dirs: readonly string[]): boolean {
  if (!isAbsolute(path) || path.split(/[\\/]/).includes('..')) return false;
  const file = normalize(path);
  return dirs.some((dir) => {
    const base = normalize(dir).replace(/[\\/]+$/, '');
    return base !== '' && file.startsWith(`${base}${sep}`);
  });
}

function resolveString(text: string, path: string, policy: SecretPolicy, issues: ValidationIssue[]): string {
  return text.replace(REFERENCE, (match, name: string | undefined) => {
    if (name === undefined) return '${';
    if (!policy.envPrefixes.some((prefix) => name.startsWith(prefix))) {
      issues.push({
        path,
        message: `\${${name}}: only variables starting with ${policy.envPrefixes.join(', ') || '(none allowed)'} may be referenced`,
      });
      return match;
    }
    const value = policy.env[name];
    if (value === undefined) {
      issues.push({ path, message: `\${${name}}: environment variable is not set` });
      return match;
    }
    return value;
  });
}

function walk(value: unknown, path: string, policy: SecretPolicy, issues: ValidationIssue[]): unknown {
  if (typeof value === 'string') return resolveString(value, path, policy, issues);
  if (Array.isArray(value)) return value.map((item, i) => walk(item, pointer(path, i), policy, issues));
  if (!isRecord(value)) return value;
  const out: Record<string, unknown> = {};
  for (const [key, item] of Object.entries(value)) {
    if (key.endsWith(FILE_SUFFIX) && key.length > FILE_SUFFIX.length) {
      const target = key.slice(0, -FILE_SUFFIX.length);
      const where = pointer(path, key);
      if (value[target] !== undefined) {
        issues.push({ path: where, message: `'${target}' and '${key}' are both set; set only one` });
        continue;
      }
      if (typeof item !== 'string' || item === '') {
        issues.push({ path: where, message: 'must be the path of a file' });
        continue;
      }
      if (!allowedFile(item, policy.fileDirs)) {
        issues.push({
          path: where,
          message: `${item}: secret files must be absolute paths under ${policy.fileDirs.join(', ') || '(no directory allowed)'}`,
        });
        continue;
      }
      try {
        out[target] = readFileSync(item, 'utf8').replace(/\r?\n$/, '');
      } catch (err) {
        issues.push({
          path: where,
          message: `cannot read ${item}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`,
        });
      }
      continue;
    }
    out[key] = walk(item, pointer(path, key), policy, issues);
  }
  return out;
}

/** The config with every reference resolved; throws ConfigValidationError listing each bad one. */
export function resolveSecrets(config: unknown, policy: SecretPolicy): unknown {
  const issues: ValidationIssue[] = [];
  const resolved = walk(config, '', policy, issues);
  if (issues.length > 0) throw new ConfigValidationError(issues);
  return resolved;
}

/**
 * The config as the API shows it: references stay (they are not secrets), literal values under
 * secret-looking keys (`token`, `password`, `*_api_key`...) are redacted.
 */
export function redactConfig(value: unknown, depth = 0): unknown {
  if (depth > 10) return value;
  if (Array.isArray(value)) return value.map((item) => redactConfig(item, depth + 1));
  if (!isRecord(value)) return value;
  const out: Record<string, unknown> = {};
  for (const [key, item] of Object.entries(value)) {
    if (isSecretKey(key) && !(typeof item === 'string' && ONLY_REFERENCE.test(item))) out[key] = REDACTED;
    else out[key] = redactConfig(item, depth + 1);
  }
  return out;
}
