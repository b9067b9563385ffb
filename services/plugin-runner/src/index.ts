// Public API of @fleet/plugin-runner: what plugin authors and embedders import.

export { type Db, type DbOptions, openDb } from '@fleet/chassis/db';
export { type CircuitPolicy, type CircuitState, circuitAfterRun, circuitView } from './circuit.js';
export {
  checkInstanceDefinition,
  configSchema,
  INSTANCE_ID,
  type PluginRunnerConfig,
} from './config.js';
export { MIGRATIONS, migrateDatabase } from './db/migrations.js';
export {
  ConfigValidationError,
  ERROR_KINDS,
  type ErrorKind,
  errorKind,
  HttpError,
  LeaseLostError,
  MalformedPageError,
  NetworkError,
  ProduceError,
  RateLimitedError,
  StoreError,
} from './errors.js';
export {
  createHttpClient,
  type HttpClient,
  type HttpPolicy,
  type HttpRequestInit,
  jitteredBackoff,
  parseReset,
  type RateLimitState,
} from './http.js';
export { applyDefaults, type JsonSchema, type ValidationIssue, validateJsonSchema } from './json-schema.js';
export {
  type ConfigValidator,
  definePlugin,
  EVENT_LEVELS,
  type EventLevel,
  type FieldValue,
  type Logger,
  type Page,
  type Plugin,
  type PluginDefinition,
  type PluginEvent,
  type PollContext,
  preparePage,
} from './plugin.js';
export {
  builtinPlugins,
  type GithubConfig,
  type GithubCursor,
  githubPlugin,
  type HttpJsonConfig,
  httpJsonPlugin,
  type JenkinsConfig,
  type JenkinsCursor,
  jenkinsPlugin,
  parseJsonPath,
  parseLinkHeader,
  type SlackConfig,
  type SlackCursor,
  selectPath,
  slackPlugin,
} from './plugins/index.js';
export {
  type EventSink,
  instanceFlag,
  pluginFlag,
  type RunInfo,
  Runner,
  type RunnerSettings,
  type RunOutcome,
} from './runner.js';
export { parseDuration, parseSchedule, type Schedule, ScheduleError, type ScheduleSpec } from './schedule.js';
export { redactConfig, resolveSecrets, type SecretPolicy } from './secrets.js';
export {
  type PluginRunnerHandle,
  type PluginRunnerOptions,
  pluginRunnerOf,
  pluginRunnerService,
  VERSION,
} from './service.js';
export {
  type InstanceDefinition,
  type InstanceRecord,
  type InstanceState,
  type Lease,
  Store,
} from './store.js';
