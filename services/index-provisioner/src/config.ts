import type { ServiceOptions } from '@fleet/chassis';
import { CONF_FILES, type ConfFileName } from './conf/render.js';
import { CONTROL_CHARS, NAME_PATTERNS } from './domain/validation.js';

/** Write the rendered files into `<root>/<path>` (an app's local directory), then run `command`. */
export interface DirectoryTargetConfig {
  type: 'directory';
  root: string;
  /** Relative to root (default `manager-apps/<app>/local` when clustered, `apps/<app>/local` otherwise). */
  path?: string;
  /** Run after writing (argv array or a whitespace-separated string; no shell), e.g. `splunk apply cluster-bundle --answer-yes`. */
  command?: string | string[];
}

/** Push the files through Splunk's management REST API (configs/conf-*), then call the _reload endpoints. */
export interface SplunkRestTargetConfig {
  type: 'splunk-rest';
  /** Management URL, e.g. https://sh1.example.com:8089 */
  url: string;
  /** Discouraged: prefer SPLUNK_TOKENS / SPLUNK_TOKEN (sensitive config). */
  token?: string;
  /** `Bearer` for Splunk authentication tokens (default), `Splunk` for session keys. */
  authScheme?: 'Bearer' | 'Splunk';
  /** App namespace the stanzas are written to (default provisioner.appName). */
  app?: string;
  /** Reload endpoints to POST after pushing (default: one per pushed file). */
  reload?: string[];
}

export type TargetConfig = DirectoryTargetConfig | SplunkRestTargetConfig;

export interface ClusterConfig {
  /** Indexer cluster: indexes get `repFactor = auto` and the directory target defaults to manager-apps. */
  clustered: boolean;
  target: TargetConfig;
  /** Which files this target receives (default all three). */
  files?: ConfFileName[];
}

export interface ProvisionerConfig {
  database: {
    url: string;
    schema: string;
    dataDir: string;
    pgliteTemplate: string;
    poolMax: number;
  };
  provisioner: {
    clusters: Record<string, ClusterConfig>;
    splunkToken: string;
    splunkTokens: Record<string, string>;
    authStrategy: string;
    appName: string;
    paths: { home: string; cold: string; thawed: string };
    importableRoles: string[];
    autoDeploy: { enabled: boolean; debounceMs: number };
    deploy: { timeoutMs: number; staleAfterMs: number };
  };
}

const CONTROL = CONTROL_CHARS;

function fail(message: string): never {
  throw new Error(message);
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function checkKeys(where: string, value: Record<string, unknown>, allowed: string[]): void {
  for (const key of Object.keys(value))
    if (!allowed.includes(key)) fail(`${where}: unknown key '${key}' (allowed: ${allowed.join(', ')})`);
}

/** Validate `provisioner.clusters` (a convict format function: throws on the first problem). */
export function validateClusters(value: unknown): void {
  if (!isObject(value)) fail('must be a JSON object { "<cluster>": { clustered, target } }');
  for (const [name, cluster] of Object.entries(value)) {
    const where = `cluster '${name}'`;
    if (!NAME_PATTERNS.cluster.test(name)) fail(`${where}: name must match ${NAME_PATTERNS.cluster}`);
    if (!isObject(cluster)) fail(`${where}: must be an object`);
    checkKeys(where, cluster, ['clustered', 'target', 'files']);
    if (typeof cluster.clustered !== 'boolean') fail(`${where}: 'clustered' must be a boolean`);
    if (cluster.files !== undefined) {
      if (!Array.isArray(cluster.files) || cluster.files.length === 0)
        fail(`${where}: 'files' must be a non-empty array`);
      for (const f of cluster.files)
        if (!CONF_FILES.includes(f as ConfFileName))
          fail(`${where}: unknown file '${String(f)}' (allowed: ${CONF_FILES.join(', ')})`);
    }
    const target = cluster.target;
    if (!isObject(target)) fail(`${where}: 'target' must be an object`);
    if (target.type === 'directory') {
      checkKeys(`${where} target`, target, ['type', 'root', 'path', 'command']);
      if (typeof target.root !== 'string' || !target.root) fail(`${where}: target.root must be a path`);
      if (target.path !== undefined) {
        if (
          typeof target.path !== 'string' ||
          target.path.startsWith('/') ||
          target.path.split(/[\\/]/).includes('..')
        )
          fail(`${where}: target.path must be a relative path without '..'`);
      }
      const command = target.command;
      if (command !== undefined) {
        const ok =
          (typeof command === 'string' && command.trim() !== '') ||
          (Array.isArray(command) && command.length > 0 && command.every((c) => typeof c === 'string' && c));
        if (!ok) fail(`${where}: target.command must be a non-empty string or array of strings`);
      }
    } else if (target.type === 'splunk-rest') {
      checkKeys(`${where} target`, target, ['type', 'url', 'token', 'authScheme', 'app', 'reload']);
      let url: URL;
      try {
        url = new URL(String(target.url));
      } catch {
        fail(`${where}: target.url must be a URL`);
      }
      if (url.protocol !== 'https:' && url.protocol !== 'http:') fail(`${where}: target.url must be http(s)`);
      if (target.token !== undefined && (typeof target.token !== 'string' || CONTROL.test(target.token)))
        fail(`${where}: target.token must be a string`);
      if (target.authScheme !== undefined && target.authScheme !== 'Bearer' && target.authScheme !== 'Splunk')
        fail(`${where}: target.authScheme must be 'Bearer' or 'Splunk'`);
      if (target.app !== undefined && (typeof target.app !== 'string' || !NAME_PATTERNS.app.test(target.app)))
        fail(`${where}: target.app must match ${NAME_PATTERNS.app}`);
      if (target.reload !== undefined) {
        if (
          !Array.isArray(target.reload) ||
          !target.reload.every((p) => typeof p === 'string' && p.startsWith('/') && !CONTROL.test(p))
        )
          fail(`${where}: target.reload must be an array of paths starting with '/'`);
      }
    } else {
      fail(`${where}: target.type must be 'directory' or 'splunk-rest'`);
    }
  }
}

function validateTokens(value: unknown): void {
  if (!isObject(value)) fail('must be a JSON object { "<cluster>": "<token>" }');
  for (const [name, token] of Object.entries(value))
    if (typeof token !== 'string' || CONTROL.test(token)) fail(`token for '${name}' must be a string`);
}

function pathTemplate(value: unknown): void {
  if (typeof value !== 'string' || !value.includes('{name}') || CONTROL.test(value) || value.endsWith('\\'))
    fail("must be a path containing '{name}'");
}

/** The service's own configuration, merged with the chassis schema. */
export const configSchema = {
  database: {
    url: {
      doc: 'Postgres connection string; empty: embedded PGlite',
      format: String,
      default: '',
      env: 'DATABASE_URL',
      sensitive: true,
    },
    schema: {
      doc: 'Postgres schema to use (created if missing; empty: the default search_path)',
      format: (value: unknown) => {
        if (value !== '' && !(typeof value === 'string' && /^[a-z_][a-z0-9_]{0,62}$/.test(value)))
          fail('must match ^[a-z_][a-z0-9_]{0,62}$');
      },
      default: '',
      env: 'DATABASE_SCHEMA',
    },
    dataDir: {
      doc: 'PGlite data directory (empty: in memory, lost on exit)',
      format: String,
      default: '',
      env: 'PGLITE_DATA_DIR',
    },
    pgliteTemplate: {
      doc: 'A PGlite dumpDataDir() tarball to start a new PGlite database from, skipping initdb (faster starts)',
      format: String,
      default: '',
      env: 'PGLITE_TEMPLATE',
    },
    poolMax: { doc: 'Postgres pool size', format: 'nat', default: 10, env: 'DATABASE_POOL_MAX' },
  },
  provisioner: {
    clusters: {
      doc: 'Deployment targets per cluster (JSON): { "<cluster>": { "clustered": bool, "target": {...}, "files"?: [...] } }',
      format: validateClusters,
      default: {},
      env: 'PROVISIONER_CLUSTERS',
    },
    splunkToken: {
      doc: 'Splunk management token for splunk-rest targets (all clusters)',
      format: String,
      default: '',
      env: 'SPLUNK_TOKEN',
      sensitive: true,
    },
    splunkTokens: {
      doc: 'Splunk management tokens per cluster (JSON object), override SPLUNK_TOKEN',
      format: validateTokens,
      default: {},
      env: 'SPLUNK_TOKENS',
      sensitive: true,
    },
    authStrategy: {
      doc: 'authentication.conf strategy the group mappings belong to ([roleMap_<strategy>])',
      format: (value: unknown) => {
        if (typeof value !== 'string' || !NAME_PATTERNS.strategy.test(value))
          fail(`must match ${NAME_PATTERNS.strategy}`);
      },
      default: 'corp_ldap',
      env: 'PROVISIONER_AUTH_STRATEGY',
    },
    appName: {
      doc: 'Splunk app the files are deployed in',
      format: (value: unknown) => {
        if (typeof value !== 'string' || !NAME_PATTERNS.app.test(value))
          fail(`must match ${NAME_PATTERNS.app}`);
      },
      default: 'fleet_indexes',
      env: 'PROVISIONER_APP_NAME',
    },
    paths: {
      home: {
        doc: 'homePath template',
        format: pathTemplate,
        default: '$SPLUNK_DB/{name}/db',
        env: 'PROVISIONER_HOME_PATH',
      },
      cold: {
        doc: 'coldPath template',
        format: pathTemplate,
        default: '$SPLUNK_DB/{name}/colddb',
        env: 'PROVISIONER_COLD_PATH',
      },
      thawed: {
        doc: 'thawedPath template',
        format: pathTemplate,
        default: '$SPLUNK_DB/{name}/thaweddb',
        env: 'PROVISIONER_THAWED_PATH',
      },
    },
    importableRoles: {
      doc: 'Splunk roles a non-admin may list in importRoles (besides roles their team manages here)',
      format: Array,
      default: ['user'],
      env: 'PROVISIONER_IMPORTABLE_ROLES',
    },
    autoDeploy: {
      enabled: {
        doc: 'Deploy automatically after each change',
        format: Boolean,
        default: false,
        env: 'AUTO_DEPLOY',
      },
      debounceMs: {
        doc: 'Wait this long after the last change before an automatic deployment',
        format: 'nat',
        default: 5000,
        env: 'AUTO_DEPLOY_DEBOUNCE_MS',
      },
    },
    deploy: {
      timeoutMs: {
        doc: 'Timeout of one Splunk REST call or of the post-write command',
        format: 'nat',
        default: 30_000,
        env: 'DEPLOY_TIMEOUT_MS',
      },
      staleAfterMs: {
        doc: 'A running deployment without progress for this long is considered abandoned (its lock is released)',
        format: 'nat',
        default: 600_000,
        env: 'DEPLOY_STALE_AFTER_MS',
      },
    },
  },
} as unknown as NonNullable<ServiceOptions<ProvisionerConfig>['config']>;
