import type convict from 'convict';

export const FLAG_STORES = ['memory', 'postgres', 'file', 'http'] as const;
export type FlagStoreKind = (typeof FLAG_STORES)[number];

/** The `flags` configuration group. */
export interface FlagsConfig {
  store: FlagStoreKind;
  databaseUrl: string;
  pgliteDir: string;
  file: string;
  httpUrl: string;
  httpToken: string;
  pollIntervalMs: number;
  /**
   * JSON object of flag name to value (`{"alf.drop.debug":10000}`), or `name=value,...`. A string,
   * not an object: convict splits object keys on dots, and flag names have dots.
   */
  overrides: string;
}

export const flagsSchema: convict.Schema<FlagsConfig> = {
  store: {
    doc: 'Flag store: memory (this process), postgres (table + LISTEN/NOTIFY; embedded PGlite without DATABASE_URL), file (JSON/YAML, watched), http (poll a central Fleet service)',
    format: [...FLAG_STORES],
    default: 'memory',
    env: 'FLAGS_STORE',
  },
  databaseUrl: {
    doc: 'PostgreSQL URL of the postgres flag store (empty: embedded PGlite)',
    format: String,
    default: '',
    env: 'DATABASE_URL',
    sensitive: true,
  },
  pgliteDir: {
    doc: 'Data directory of the embedded PGlite flag database (empty: in memory)',
    format: String,
    default: '',
    env: 'FLAGS_PGLITE_DIR',
  },
  file: {
    doc: 'JSON or YAML file of the file flag store (watched for changes)',
    format: String,
    default: '',
    env: 'FLAGS_FILE',
  },
  httpUrl: {
    doc: 'Base URL of the Fleet service whose GET /admin/flags the http flag store polls',
    format: String,
    default: '',
    env: 'FLAGS_HTTP_URL',
  },
  httpToken: {
    doc: 'Bearer token (admin scope) for the http flag store',
    format: String,
    default: '',
    env: 'FLAGS_HTTP_TOKEN',
    sensitive: true,
  },
  pollIntervalMs: {
    doc: 'Poll interval of the http store, polling fallback of the file store, consistency reload of the postgres store (at least 1 s)',
    format: 'nat',
    default: 5000,
    env: 'FLAGS_POLL_INTERVAL_MS',
  },
  overrides: {
    doc: 'Per-instance flag overrides that win over the store: JSON object of name to basis points, percentage or boolean',
    format: String,
    default: '',
    env: 'FLAGS_OVERRIDES',
  },
};
