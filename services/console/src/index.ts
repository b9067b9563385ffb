export { type ApiDeps, DEFAULT_THROTTLE_BASIS_POINTS } from './api.js';
export { type AuditEntry, type AuditLog, MemoryAuditLog, openAuditLog, SqlAuditLog } from './audit.js';
export {
  type AlfView,
  Collector,
  type CollectorOptions,
  type SeriesView,
  type ServiceSnapshot,
} from './collector.js';
export {
  type ConsoleConfig,
  type ConsoleOwnConfig,
  consoleSchema,
  parseServices,
  SERVICE_KINDS,
  type ServiceKind,
  type ServiceTarget,
} from './config.js';
export { alfDropFlag, type FlagView, formatBasisPoints } from './flag-views.js';
export { parsePrometheus, quantileOfDelta } from './prometheus.js';
export { CONSOLE_VERSION, consoleOptions } from './service.js';
