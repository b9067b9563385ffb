import { hostname } from 'node:os';
import pino, { type DestinationStream, type Logger } from 'pino';
import type { LogLevel } from '../config/schema.js';
import { stdoutDestination } from './destination.js';
import { redactSecrets } from './redact.js';

export interface LoggerOptions {
  service: string;
  version: string;
  level: LogLevel;
  /** Where lines go (default: stdout, one write per event-loop turn; see LineBatcher). */
  destination?: DestinationStream;
  /**
   * Extra fields for every line, computed per line (the tracing concern adds trace_id/span_id).
   * Return a fresh object, or an empty one (which may be shared and frozen) when there is nothing to add.
   */
  mixin?: () => Record<string, unknown>;
}

/** The chassis logger: JSON lines with service, version, hostname; secrets redacted by key name. */
export function createLogger(options: LoggerOptions): Logger {
  const destination = options.destination ?? stdoutDestination();
  return pino(
    {
      level: options.level,
      base: { service: options.service, version: options.version, hostname: hostname() },
      timestamp: isoTimeCached,
      messageKey: 'msg',
      formatters: {
        level: (label) => ({ level: label }),
        log: (object) => redactSecrets(object),
      },
      ...(options.mixin ? { mixin: options.mixin, mixinMergeStrategy } : {}),
      serializers: { err: pino.stdSerializers.err, error: pino.stdSerializers.err },
    },
    destination,
  );
}

/**
 * pino's default strategy assigns the line's fields into the mixin's object, which fails on a
 * shared frozen empty object; an empty mixin result costs nothing here.
 */
function mixinMergeStrategy(mergeObject: object, mixinObject: object): object {
  for (const _ in mixinObject) return Object.assign(mixinObject, mergeObject);
  return mergeObject;
}

/** `000` .. `999` */
export const MILLIS = Array.from({ length: 1000 }, (_, i) => String(i).padStart(3, '0'));
let lastMs = 0;
let lastSecond = -1;
let secondPrefix = '';
let lastTime = '';

/**
 * pino's `isoTime` (`,"time":"2026-11-21T09:15:27.123Z"`), cheaper: `Date#toISOString` costs more
 * than the rest of a log line, so the date is formatted once per second and the milliseconds
 * appended from a table, once per millisecond.
 */
export function isoTimeCached(): string {
  const now = Date.now();
  if (now !== lastMs) {
    lastMs = now;
    const second = Math.floor(now / 1000);
    if (second !== lastSecond) {
      lastSecond = second;
      secondPrefix = `,"time":"${new Date(second * 1000).toISOString().slice(0, 20)}`;
    }
    lastTime = `${secondPrefix}${MILLIS[now - second * 1000]}Z"`;
  }
  return lastTime;
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
