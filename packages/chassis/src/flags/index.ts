export { type FlagItem, type FlagsAdminPluginOptions, flagsAdminPlugin, toFlagItem } from './admin.js';
export {
  type FlagChange,
  type FlagChangeListener,
  type FlagDefinition,
  type FlagHandle,
  type FlagInfo,
  type FlagKey,
  type Flags,
  FlagsClient,
  type FlagsClientOptions,
  type FlagsStatus,
  type SetFlagOptions,
} from './client.js';
export {
  type CreateFlagsOptions,
  createFlagStore,
  createFlags,
  flagsConfigProblems,
  parseFlagOverrides,
} from './config.js';
export { FileFlagStore, type FileFlagStoreOptions, parseFlagDocument } from './file.js';
export { BUCKETS, HashPrefix, murmur3, murmur3Bytes, rolloutBucket } from './hash.js';
export { HttpFlagStore, type HttpFlagStoreOptions } from './http.js';
export {
  assertFlagName,
  FLAG_NAME_PATTERN,
  FlagError,
  FlagNotFoundError,
  type FlagSource,
  FlagStoreReadOnlyError,
  FlagStoreUnavailableError,
  type FlagWrite,
  formatPercent,
  InvalidFlagNameError,
  InvalidFlagValueError,
  isValidFlagName,
  isValidFlagValue,
  MAX_FLAG_VALUE,
  parseFlagValue,
  type StoredFlag,
} from './model.js';
export { FleetFlagsProvider } from './openfeature.js';
export {
  acquirePglite,
  createPgDriver,
  createPgliteDriver,
  type ListenHandlers,
  type PgDriverOptions,
  PostgresFlagStore,
  type PostgresFlagStoreOptions,
  type SqlDriver,
} from './postgres.js';
export { FLAG_STORES, type FlagStoreKind, type FlagsConfig, flagsSchema } from './schema.js';
export { type FlagStore, MemoryFlagStore, type StoreSink } from './store.js';
