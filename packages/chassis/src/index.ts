export { type AdminPluginOptions, adminPlugin } from './admin/plugin.js';
export { type MintOptions, mintToken } from './auth/mint.js';
export { type AuthPluginOptions, type AuthRequirement, authPlugin } from './auth/plugin.js';
export {
  createTokenVerifier,
  DEFAULT_ALGORITHMS,
  InvalidTokenError,
  type Principal,
  type TokenVerifier,
  type VerifierOptions,
} from './auth/verifier.js';
export { CONFIG_ERROR_EXIT_CODE, ConfigError } from './config/errors.js';
export { type ConfigSources, loadConfig, mergeSchemas } from './config/load.js';
export { type ChassisConfig, chassisSchema, LOG_LEVELS, type LogLevel } from './config/schema.js';
export { type ErrorBody, errorsPlugin, type ValidationDetail } from './errors/plugin.js';
export {
  acquirePglite,
  BUCKETS,
  type CreateFlagsOptions,
  createFlagStore,
  createFlags,
  createPgDriver,
  createPgliteDriver,
  FileFlagStore,
  type FlagChange,
  type FlagChangeListener,
  type FlagDefinition,
  FlagError,
  type FlagHandle,
  type FlagInfo,
  type FlagItem,
  type FlagKey,
  FlagNotFoundError,
  type FlagSource,
  type FlagStore,
  FlagStoreReadOnlyError,
  FlagStoreUnavailableError,
  type Flags,
  FlagsClient,
  type FlagsConfig,
  FleetFlagsProvider,
  flagsAdminPlugin,
  flagsConfigProblems,
  flagsSchema,
  HashPrefix,
  HttpFlagStore,
  InvalidFlagNameError,
  InvalidFlagValueError,
  isValidFlagName,
  MAX_FLAG_VALUE,
  MemoryFlagStore,
  murmur3,
  PostgresFlagStore,
  parseFlagOverrides,
  parseFlagValue,
  rolloutBucket,
  type SetFlagOptions,
  type SqlDriver,
  type StoredFlag,
  type StoreSink,
} from './flags/index.js';
export { type HealthPluginOptions, healthPlugin } from './health/plugin.js';
export {
  type CheckResult,
  type HealthCheckFn,
  type HealthCheckOptions,
  HealthRegistry,
  type ReadinessReport,
} from './health/registry.js';
export type { KafkaConfig } from './kafka/config.js';
// the Kafka module's public surface is its types file (KafkaModule and the offset tracker stay internal)
export * from './kafka/types.js';
export { createLogger, flushLogger, type LoggerOptions } from './logging/logger.js';
export { type RequestLoggingOptions, requestLoggingPlugin } from './logging/plugin.js';
export { isSecretKey, REDACTED, redactSecrets } from './logging/redact.js';
export { type MetricsPluginOptions, metricsRoutesPlugin } from './metrics/plugin.js';
export { LATENCY_BUCKETS, MetricsRegistry } from './metrics/registry.js';
export {
  type IdempotencyOptions,
  type IdempotencyRecord,
  type IdempotencyStore,
  idempotencyPlugin,
  MemoryIdempotencyStore,
  type StoredResponse,
} from './resilience/idempotency.js';
export {
  backoffDelay,
  parseRetryAfter,
  RetryableHttpError,
  type RetryOptions,
  retry,
  sleep,
} from './resilience/retry.js';
export { TimeoutError, withTimeout } from './resilience/timeout.js';
export {
  createService,
  runService,
  type Service,
  type ServiceOptions,
  type StartedAddresses,
} from './service.js';
export { handleShutdownSignals, type ShutdownHook, ShutdownHooks } from './shutdown/lifecycle.js';
export { traceLogMixin } from './tracing/log-context.js';
export { type TracingPluginOptions, tracingRoutesPlugin } from './tracing/plugin.js';
export { TRACING_PROPAGATIONS, type TracingPropagation } from './tracing/propagation.js';
export { startTracing, stopTracing, type TracingOptions } from './tracing/sdk.js';
export { CHASSIS_VERSION } from './version.js';
