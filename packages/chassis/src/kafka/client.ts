/**
 * The kafkajs side of the module: building the client from config (brokers, SASL, TLS, timeouts)
 * and bridging its logs into the service logger. Nothing here is exported from the package.
 */
import { readFileSync } from 'node:fs';
import type { ConnectionOptions } from 'node:tls';
import type { IHeaders, Kafka, KafkaConfig as KafkaJsConfig, LogEntry, SASLOptions } from 'kafkajs';
import type { Logger } from 'pino';
import { ConfigError } from '../config/errors.js';
import { type KafkaConfig, POSITIVE_KEYS } from './config.js';
import { kafkajs } from './kafkajs.js';

/** Check the parts of the Kafka config convict cannot; every problem in one ConfigError. */
export function validateKafkaConfig(config: KafkaConfig): void {
  const problems: string[] = [];
  for (const key of POSITIVE_KEYS) {
    const [group, name] = key.split('.') as [keyof KafkaConfig, string];
    const value = (config[group] as unknown as Record<string, number>)[name];
    if (!(typeof value === 'number' && value >= 1)) problems.push(`kafka.${key}: must be at least 1`);
  }
  for (const broker of brokerList(config)) {
    if (!/^[^\s:]+:\d{1,5}$/.test(broker) && !/^\[[^\]]+\]:\d{1,5}$/.test(broker))
      problems.push(`kafka.brokers: '${broker}' is not host:port`);
  }
  const { sasl, tls, consumer } = config;
  if (sasl.mechanism && (!sasl.username || !sasl.password))
    problems.push('kafka.sasl: username and password are required with a SASL mechanism');
  if (tls.certFile && !tls.keyFile) problems.push('kafka.tls.keyFile: required with kafka.tls.certFile');
  if (tls.enabled) {
    for (const [key, path] of [
      ['caFile', tls.caFile],
      ['certFile', tls.certFile],
      ['keyFile', tls.keyFile],
    ] as const) {
      if (!path) continue;
      try {
        readFileSync(path);
      } catch (err) {
        problems.push(`kafka.tls.${key}: cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? err}`);
      }
    }
  }
  if (consumer.heartbeatIntervalMs >= consumer.sessionTimeoutMs)
    problems.push('kafka.consumer.heartbeatIntervalMs: must be lower than kafka.consumer.sessionTimeoutMs');
  if (problems.length > 0) throw new ConfigError(problems);
}

export function brokerList(config: KafkaConfig): string[] {
  return config.brokers.map((b) => String(b).trim()).filter(Boolean);
}

/** kafkajs log levels → pino. Client internals go to debug: the module logs what matters itself. */
export function kafkaLogCreator(log: Logger): KafkaJsConfig['logCreator'] {
  const child = log.child({ component: 'kafkajs' });
  return () =>
    ({ namespace, label, log: entry }: LogEntry) => {
      if (!child.isLevelEnabled('debug')) return;
      const {
        message,
        timestamp: _timestamp,
        logger: _logger,
        ...extra
      } = entry as LogEntry['log'] & {
        logger?: unknown;
      };
      child.debug({ kafkajs: { namespace, level: label, ...extra } }, message);
    };
}

/** One kafkajs client per service; producer, consumers and the health probe are made from it. */
export function createKafkaClient(config: KafkaConfig, clientId: string, log: Logger): Kafka {
  const { sasl, tls } = config;
  let ssl: ConnectionOptions | boolean = false;
  if (tls.enabled) {
    ssl = {
      rejectUnauthorized: tls.rejectUnauthorized,
      ...(tls.caFile ? { ca: [readFileSync(tls.caFile, 'utf8')] } : {}),
      ...(tls.certFile ? { cert: readFileSync(tls.certFile, 'utf8') } : {}),
      ...(tls.keyFile ? { key: readFileSync(tls.keyFile, 'utf8') } : {}),
    };
  }
  const { Kafka, logLevel } = kafkajs();
  return new Kafka({
    clientId,
    brokers: brokerList(config),
    ssl,
    ...(sasl.mechanism
      ? {
          sasl: {
            mechanism: sasl.mechanism,
            username: sasl.username,
            password: sasl.password,
          } as SASLOptions,
        }
      : {}),
    connectionTimeout: config.connectionTimeoutMs,
    requestTimeout: config.requestTimeoutMs,
    retry: clientRetry(config),
    logLevel: log.isLevelEnabled('trace') ? logLevel.DEBUG : logLevel.INFO,
    logCreator: kafkaLogCreator(log),
  });
}

export function clientRetry(config: KafkaConfig): {
  retries: number;
  initialRetryTime: number;
  maxRetryTime: number;
} {
  return {
    retries: config.clientRetry.retries,
    initialRetryTime: Math.max(1, config.clientRetry.initialMs),
    maxRetryTime: Math.max(1, config.clientRetry.maxMs),
  };
}

/** Read a kafkajs header value (Buffer, string or repeated) as a string: its last value. */
export function headerString(value: IHeaders[string]): string | undefined {
  const last = Array.isArray(value) ? value[value.length - 1] : value;
  if (last === undefined) return undefined;
  return typeof last === 'string' ? last : last.toString('utf8');
}

export function decodeHeaders(headers: IHeaders | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  if (!headers) return out;
  for (const [name, value] of Object.entries(headers)) {
    const text = headerString(value);
    if (text !== undefined) out[name] = text;
  }
  return out;
}
