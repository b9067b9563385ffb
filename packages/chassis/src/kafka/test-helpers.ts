// Helpers of the Kafka tests (not part of the build: test-*.ts files are excluded).
import { Writable } from 'node:stream';
import type { KafkaBroker } from '@fleet/testkit';
import { createService, type Service, type ServiceOptions } from '../service.js';
import { kafkaTestEnv as quickKafkaEnv } from '../testing/kafka.js';

/** Settings that keep a test consumer quick: short waits, fast retries, frequent commits. */
export function kafkaTestEnv(
  broker: KafkaBroker,
  extra: Record<string, string> = {},
): Record<string, string> {
  return {
    LOG_LEVEL: 'silent',
    ...quickKafkaEnv(broker.brokers),
    KAFKA_RETRY_BASE_MS: '5',
    KAFKA_RETRY_MAX_MS: '20',
    ...extra,
  };
}

export interface LogCapture {
  lines: Array<Record<string, unknown>>;
  destination: Writable;
}

export function captureLogs(): LogCapture {
  const lines: Array<Record<string, unknown>> = [];
  const destination = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      for (const line of chunk.toString().split('\n')) if (line) lines.push(JSON.parse(line));
      callback();
    },
  });
  return { lines, destination };
}

const running = new Set<Service>();

export async function kafkaService(
  broker: KafkaBroker,
  env: Record<string, string> = {},
  options: Partial<ServiceOptions> = {},
): Promise<Service> {
  const service = await createService({
    name: 'kafka-test',
    version: '1.0.0',
    ...options,
    configSources: { env: kafkaTestEnv(broker, env), argv: [] },
  });
  running.add(service);
  return service;
}

/** Stop every service made by kafkaService (afterEach). */
export async function stopServices(): Promise<void> {
  const all = [...running];
  running.clear();
  await Promise.all(all.map((s) => s.stop()));
}

export async function waitFor(what: string, check: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

export const delay = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

let topicSeq = 0;
/** A topic name unique to this test run. */
export function uniqueTopic(prefix: string): string {
  return `${prefix}-${process.pid}-${++topicSeq}`;
}
