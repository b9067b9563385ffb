import { hostname } from 'node:os';
import pino, { type DestinationStream, type Logger } from 'pino';
import type { LogLevel } from '../config/schema.js';
import { redactSecrets } from './redact.js';

export interface LoggerOptions {
  service: string;
  version: string;
  level: LogLevel;
  /** Where lines go (default: stdout, buffered asynchronously and flushed on shutdown). */
  destination?: DestinationStream;
  /** Extra fields for every line, computed per line (the tracing concern adds trace_id/span_id). */
  mixin?: () => Record<string, unknown>;
}

/** The chassis logger: JSON lines with service, version, hostname; secrets redacted by key name. */
export function createLogger(options: LoggerOptions): Logger {
  const destination = options.destination ?? pino.destination({ dest: 1, sync: false, minLength: 4096 });
  return pino(
    {
      level: options.level,
      base: { service: options.service, version: options.version, hostname: hostname() },
      timestamp: pino.stdTimeFunctions.isoTime,
      messageKey: 'msg',
      formatters: {
        level: (label) => ({ level: label }),
        log: (object) => redactSecrets(object),
      },
      ...(options.mixin ? { mixin: options.mixin } : {}),
      serializers: { err: pino.stdSerializers.err, error: pino.stdSerializers.err },
    },
    destination,
  );
}

/** Flush buffered log lines (call before exit). */
export function flushLogger(logger: Logger): Promise<void> {
  return new Promise((resolve) => {
    try {
      logger.flush(() => resolve());
    } catch {
      resolve();
    }
  });
}
