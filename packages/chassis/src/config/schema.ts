import type convict from 'convict';
import { type FlagsConfig, flagsSchema } from '../flags/schema.js';
import { type KafkaConfig, kafkaSchema } from '../kafka/config.js';
import { TRACING_PROPAGATIONS, type TracingPropagation } from '../tracing/propagation.js';

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** Configuration every Fleet service has. Services add their own keys next to these. */
export interface ChassisConfig {
  port: number;
  host: string;
  log: { level: LogLevel; requests: boolean };
  auth: {
    jwksUrl: string;
    publicKeys: string;
    issuer: string;
    audience: string;
    algorithms: string[];
    clockToleranceSec: number;
    jwksCooldownMs: number;
    jwksCacheMaxAgeMs: number;
  };
  admin: { port: number; scope: string };
  telemetry: {
    metrics: { enabled: boolean; path: string };
    tracing: { enabled: boolean; propagation: TracingPropagation };
  };
  health: { checkTimeoutMs: number };
  shutdown: { timeoutMs: number; drainDelayMs: number };
  kafka: KafkaConfig;
  flags: FlagsConfig;
}

/** The chassis's own convict schema. Keys here are reserved: a service schema may not redefine them. */
export const chassisSchema: convict.Schema<ChassisConfig> = {
  port: { doc: 'HTTP port to listen on', format: 'port', default: 3000, env: 'PORT', arg: 'port' },
  host: { doc: 'Interface to bind', format: String, default: '0.0.0.0', env: 'HOST', arg: 'host' },
  log: {
    level: {
      doc: 'Log level (changeable at runtime via PUT /admin/log-level)',
      format: [...LOG_LEVELS],
      default: 'info',
      env: 'LOG_LEVEL',
      arg: 'log-level',
    },
    requests: {
      doc: 'Write one access log line per request',
      format: Boolean,
      default: true,
      env: 'LOG_REQUESTS',
    },
  },
  auth: {
    jwksUrl: {
      doc: 'JWKS URL to verify bearer tokens against',
      format: String,
      default: '',
      env: 'AUTH_JWKS_URL',
    },
    publicKeys: {
      doc: 'Public keys as a JWKS JSON document or PEM (SPKI) block(s), instead of or besides a JWKS URL',
      format: String,
      default: '',
      env: 'AUTH_PUBLIC_KEYS',
    },
    issuer: {
      doc: 'Required `iss` claim (empty: not checked)',
      format: String,
      default: '',
      env: 'AUTH_ISSUER',
    },
    audience: {
      doc: 'Required `aud` claim (empty: not checked)',
      format: String,
      default: '',
      env: 'AUTH_AUDIENCE',
    },
    algorithms: {
      doc: 'Allowed JWS algorithms',
      format: Array,
      default: ['RS256', 'ES256', 'EdDSA'],
      env: 'AUTH_ALGORITHMS',
    },
    clockToleranceSec: {
      doc: 'Clock skew tolerated on exp/nbf, seconds',
      format: 'nat',
      default: 5,
      env: 'AUTH_CLOCK_TOLERANCE_SEC',
    },
    jwksCooldownMs: {
      doc: 'Minimum time between two JWKS fetches triggered by unknown kids, ms',
      format: 'nat',
      default: 30_000,
      env: 'AUTH_JWKS_COOLDOWN_MS',
    },
    jwksCacheMaxAgeMs: {
      doc: 'How long a fetched JWKS is used before it is fetched again, ms',
      format: 'nat',
      default: 600_000,
      env: 'AUTH_JWKS_CACHE_MAX_AGE_MS',
    },
  },
  admin: {
    port: {
      doc: 'Separate port for health, metrics and admin routes (0: serve them on the main port)',
      format: 'port',
      default: 0,
      env: 'ADMIN_PORT',
    },
    scope: {
      doc: 'Scope a token needs for /admin routes',
      format: String,
      default: 'admin',
      env: 'ADMIN_SCOPE',
    },
  },
  telemetry: {
    metrics: {
      enabled: { doc: 'Serve Prometheus metrics', format: Boolean, default: true, env: 'METRICS_ENABLED' },
      path: { doc: 'Metrics route', format: String, default: '/metrics', env: 'METRICS_PATH' },
    },
    tracing: {
      enabled: {
        doc: 'Enable OpenTelemetry tracing (exporter, sampler and endpoint from the standard OTEL_* variables)',
        format: Boolean,
        default: false,
        env: 'TRACING_ENABLED',
      },
      propagation: {
        doc:
          "How a request's trace context reaches its code: 'async-context' (AsyncLocalStorage: automatic " +
          "across await, fetch CLIENT spans) or 'request' (no AsyncLocalStorage, cheaper on Node 20: " +
          'outgoing calls take request.traceHeaders() / request.traceContext())',
        format: [...TRACING_PROPAGATIONS],
        default: 'async-context',
        env: 'TRACING_PROPAGATION',
      },
    },
  },
  health: {
    checkTimeoutMs: {
      doc: 'Default timeout of one health check',
      format: 'nat',
      default: 2000,
      env: 'HEALTH_CHECK_TIMEOUT_MS',
    },
  },
  shutdown: {
    timeoutMs: {
      doc: 'Deadline for graceful shutdown before the process exits anyway',
      format: 'nat',
      default: 10_000,
      env: 'SHUTDOWN_TIMEOUT_MS',
    },
    drainDelayMs: {
      doc: 'Time between readiness turning 503 and closing the listener (lets load balancers notice)',
      format: 'nat',
      default: 0,
      env: 'SHUTDOWN_DRAIN_DELAY_MS',
    },
  },
  kafka: kafkaSchema,
  flags: flagsSchema,
};
