// Helpers of ALF's end-to-end tests: a test broker, a HEC receiver, ALF services in-process.
import { createService, type Service } from '@fleet/chassis';
import { createTestKeys, kafkaTestEnv, type TestKeys } from '@fleet/chassis/testing';
import type { HecEvent, KafkaBroker } from '@fleet/testkit';
import type { AlfConfig } from '../src/config.js';
import type { Forwarder } from '../src/forwarder.js';
import { alfOptions, forwarderOf } from '../src/service.js';

export const TOKEN = '0f6c2f1e-5b0a-4c4e-9a57-3c1d2e4f5a6b';

/** Settings that make ALF and its consumer quick in tests. */
export function alfTestEnv(
  broker: KafkaBroker,
  hecUrl: string,
  extra: Record<string, string> = {},
): Record<string, string> {
  return {
    LOG_LEVEL: process.env.ALF_TEST_LOG_LEVEL ?? 'silent',
    PORT: '0',
    HOST: '127.0.0.1',
    ...kafkaTestEnv(broker.brokers),
    KAFKA_DRAIN_TIMEOUT_MS: '3000',
    HEC_URL: hecUrl,
    HEC_TOKEN: TOKEN,
    HEC_BATCH_LINGER_MS: '20',
    HEC_RETRY_BASE_MS: '20',
    HEC_RETRY_MAX_MS: '300',
    HEC_TIMEOUT_MS: '2000',
    HEC_EJECT_BASE_MS: '100',
    HEC_EJECT_MAX_MS: '500',
    ALF_RULES_POLL_MS: '100',
    ...extra,
  };
}

export interface RunningAlf {
  service: Service<AlfConfig>;
  forwarder: Forwarder;
  url: string;
}

const running = new Set<Service<AlfConfig>>();

export async function startAlf(env: Record<string, string>): Promise<RunningAlf> {
  const service = await createService({ ...alfOptions(), configSources: { env, argv: [] } });
  running.add(service);
  const { url } = await service.start();
  const forwarder = forwarderOf(service)!;
  await forwarder.consumer!.ready(15_000);
  return { service, forwarder, url };
}

export async function stopAll(): Promise<void> {
  const all = [...running];
  running.clear();
  await Promise.all(all.map((s) => s.stop()));
}

let keys: TestKeys | undefined;
/** Signing keys trusted by services started with `authEnv()`. */
export async function authEnv(): Promise<{ env: Record<string, string>; adminToken: string }> {
  keys ??= await createTestKeys();
  const adminToken = await keys.mint({ subject: 'operator', scopes: ['admin'], expiresIn: '1h' });
  return { env: { AUTH_PUBLIC_KEYS: keys.jwks }, adminToken };
}

export async function waitFor(what: string, check: () => boolean, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

let seq = 0;
export function unique(prefix: string): string {
  return `${prefix}-${process.pid}-${++seq}`;
}

/** A log record with an id the receiver recognises. */
export function record(
  id: string,
  service: string,
  extra: Record<string, unknown> = {},
): Record<string, unknown> {
  return {
    id,
    timestamp: new Date().toISOString(),
    service,
    level: 'info',
    host: `${service}-host`,
    message: `event ${id} ${'lorem ipsum '.repeat(4)}`,
    ...extra,
  };
}

/** Write records to a topic, spread over its partitions; ids `<prefix><p>-<i>`. Returns the ids. */
export function produceSpread(
  broker: KafkaBroker,
  topic: string,
  partitions: number,
  perPartition: number,
  make: (id: string, p: number, i: number) => Record<string, unknown> | string,
  prefix = 'e',
): string[] {
  const ids: string[] = [];
  for (let p = 0; p < partitions; p++) {
    const records = Array.from({ length: perPartition }, (_, i) => {
      const id = `${prefix}${p}-${i}`;
      ids.push(id);
      const value = make(id, p, i);
      return { value: typeof value === 'string' ? value : JSON.stringify(value) };
    });
    broker.produce(topic, records, { partition: p });
  }
  return ids;
}

export const eventIdOf = (e: HecEvent): string | undefined =>
  typeof e.event === 'object' && e.event !== null
    ? ((e.event as { id?: unknown }).id as string | undefined)
    : undefined;

/** Committed offsets of a group for one topic, as [partition] → offset. */
export function committed(broker: KafkaBroker, group: string, topic: string): Record<number, number> {
  return broker.committedOffsets(group)[topic] ?? {};
}

export function allCommitted(broker: KafkaBroker, group: string, topic: string): boolean {
  const c = committed(broker, group, topic);
  return broker.highWatermarks(topic).every((hw, p) => (c[p] ?? 0) >= hw);
}
