import { KafkaApiKey, type KafkaBroker, startKafkaBroker } from '@fleet/testkit';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError } from '../config/errors.js';
import { createService } from '../service.js';
import { delay, kafkaService, stopServices, uniqueTopic, waitFor } from './test-helpers.js';
import { type KafkaMessage, KafkaUnavailableError } from './types.js';

let broker: KafkaBroker;
beforeAll(async () => {
  broker = await startKafkaBroker();
});
afterAll(async () => {
  await broker.close();
});
afterEach(stopServices);

function produceDirect(topic: string, values: string[], partition = 0): void {
  broker.produce(
    topic,
    values.map((v) => ({ key: null, value: Buffer.from(v), headers: [] })),
    { partition },
  );
}

const header = (record: { headers: Array<{ key: string; value: Buffer | null }> }, key: string) =>
  record.headers.find((h) => h.key === key)?.value?.toString();

describe('produce and consume', () => {
  it('produces with offsets and consumes every message, committing past the last', async () => {
    const topic = uniqueTopic('basic');
    broker.createTopic(topic, { partitions: 2 });
    const svc = await kafkaService(broker);
    const seen: KafkaMessage[] = [];
    const consumer = svc.kafka.consume({
      topics: topic,
      groupId: 'basic',
      handler: (m) => {
        seen.push(m);
      },
    });
    await consumer.ready();
    const first = await svc.kafka.produce(topic, {
      key: 'k1',
      value: 'v1',
      headers: { h: 'x' },
      partition: 1,
    });
    expect(first).toEqual([{ topic, partition: 1, baseOffset: 0 }]);
    const more = await svc.kafka.producer().send(topic, [
      { value: 'a', partition: 0 },
      { value: 'b', partition: 0 },
    ]);
    expect(more).toEqual([{ topic, partition: 0, baseOffset: 0 }]);
    await waitFor('3 messages', () => seen.length === 3);
    const m = seen.find((x) => x.partition === 1)!;
    expect(m.key?.toString()).toBe('k1');
    expect(m.value?.toString()).toBe('v1');
    expect(m.headers.h).toBe('x');
    expect(m.offset).toBe(0);
    expect(m.timestamp).toBeGreaterThan(Date.now() - 60_000);
    await waitFor('commits', () => {
      const c = broker.committedOffsets('basic')[topic];
      return c?.[0] === 2 && c?.[1] === 1;
    });
    const metrics = await svc.metrics.expose();
    expect(metrics).toContain(`kafka_messages_consumed_total{topic="${topic}"} 3`);
    expect(metrics).toContain(`kafka_messages_produced_total{topic="${topic}"} 3`);
    expect(metrics).toMatch(
      new RegExp(`kafka_consumer_lag\\{topic="${topic}",partition="0",group="basic"\\} 0`),
    );
    expect(metrics).toContain('kafka_rebalances_total{group="basic"} 1');
    expect(metrics).toContain('kafka_connection_state{client="producer"} 1');
    expect(metrics).toContain(`kafka_handler_duration_seconds_count{topic="${topic}"} 3`);
  });

  it('the idempotent producer writes a message once when the acknowledgement is lost', async () => {
    const topic = uniqueTopic('idempotent');
    broker.createTopic(topic);
    const svc = await kafkaService(broker);
    await svc.kafka.produce(topic, { value: 'warm-up' });
    const lost = broker.faults.dropConnection({ apiKey: KafkaApiKey.Produce, afterHandling: true });
    const [written] = await svc.kafka.produce(topic, { value: 'once' });
    expect(lost.hits).toBe(1);
    expect(written).toMatchObject({ partition: 0, baseOffset: 1 });
    expect(broker.records(topic).map((r) => String(r.value))).toEqual(['warm-up', 'once']);
  });

  it('produces gzip-compressed batches when configured', async () => {
    const topic = uniqueTopic('gzip');
    broker.createTopic(topic);
    const svc = await kafkaService(broker, { KAFKA_COMPRESSION: 'gzip' });
    const values = Array.from({ length: 50 }, (_, i) => `compressible ${'x'.repeat(200)} ${i}`);
    const [written] = await svc.kafka.produce(
      topic,
      values.map((value) => ({ value })),
    );
    expect(written).toEqual({ topic, partition: 0, baseOffset: 0 });
    expect(broker.partitionOffsets(topic)[0]!.bytes).toBeLessThan(2000);
    const got: string[] = [];
    svc.kafka.consume({ topics: topic, groupId: 'gzip', handler: (m) => void got.push(String(m.value)) });
    await waitFor('50 messages', () => got.length === 50);
    expect(got).toEqual(values);
  });

  it('batch handlers get consecutive messages of one partition, at most maxBatchSize', async () => {
    const topic = uniqueTopic('batch');
    broker.createTopic(topic);
    produceDirect(
      topic,
      Array.from({ length: 12 }, (_, i) => `m${i}`),
    );
    const svc = await kafkaService(broker);
    const batches: number[][] = [];
    svc.kafka.consume({
      topics: [topic],
      groupId: 'batch',
      batch: true,
      maxBatchSize: 5,
      handler: (messages) => {
        batches.push(messages.map((m) => m.offset));
      },
    });
    await waitFor('12 messages', () => batches.flat().length === 12);
    expect(batches.flat()).toEqual(Array.from({ length: 12 }, (_, i) => i));
    for (const b of batches) {
      expect(b.length).toBeLessThanOrEqual(5);
      expect(b).toEqual(b.map((_, i) => b[0]! + i));
    }
    await waitFor('commit', () => broker.committedOffsets('batch')[topic]?.[0] === 12);
  });
});

describe('failures', () => {
  it('retries a failing message with backoff, then succeeds', async () => {
    const topic = uniqueTopic('retry');
    broker.createTopic(topic);
    produceDirect(topic, ['ok', 'flaky', 'ok']);
    const svc = await kafkaService(broker);
    const attempts: Array<[number, number]> = [];
    const done: number[] = [];
    svc.kafka.consume({
      topics: topic,
      groupId: 'retry',
      retry: { attempts: 3, baseMs: 5, maxMs: 10 },
      handler: (m, ctx) => {
        attempts.push([m.offset, ctx.attempt]);
        if (m.value?.toString() === 'flaky' && ctx.attempt < 3) throw new Error(`flaky ${ctx.attempt}`);
        done.push(m.offset);
      },
    });
    await waitFor('3 done', () => done.length === 3);
    expect(done).toEqual([0, 1, 2]);
    expect(attempts).toEqual([
      [0, 1],
      [1, 1],
      [1, 2],
      [1, 3],
      [2, 1],
    ]);
    await waitFor('commit', () => broker.committedOffsets('retry')[topic]?.[0] === 3);
    expect(broker.records(`${topic}.dlq`)).toEqual([]);
    const metrics = await svc.metrics.expose();
    expect(metrics).toContain(`kafka_messages_failed_total{topic="${topic}"} 2`);
    expect(metrics).toContain(`kafka_messages_consumed_total{topic="${topic}"} 3`);
  });

  it('dead-letters a poison message with its headers, keeps going and commits past it', async () => {
    const topic = uniqueTopic('poison');
    broker.createTopic(topic, { partitions: 1 });
    broker.createTopic(`${topic}.dlq`);
    const svc = await kafkaService(broker, { KAFKA_RETRY_ATTEMPTS: '3' });
    const handled: number[] = [];
    const deadLettered: Array<{ offset: number; dlqTopic: string }> = [];
    const consumer = svc.kafka.consume({
      topics: topic,
      groupId: 'poison',
      handler: (m) => {
        if (m.value?.toString() === 'poison') throw new TypeError('cannot parse order');
        handled.push(m.offset);
      },
    });
    consumer.on('deadLettered', (m, info) =>
      deadLettered.push({ offset: m.offset, dlqTopic: info.dlqTopic }),
    );
    await consumer.ready();
    await svc.kafka.produce(
      topic,
      ['a', 'b', 'c', 'd', 'poison', 'f', 'g', 'h', 'i', 'j'].map((value, i) => ({
        key: `key-${i}`,
        value,
        headers: { 'app-header': `h${i}` },
      })),
    );
    await waitFor('9 handled', () => handled.length === 9);
    expect(handled).toEqual([0, 1, 2, 3, 5, 6, 7, 8, 9]);
    const [dead, ...rest] = await broker.waitForRecords(`${topic}.dlq`, 1);
    expect(rest).toEqual([]);
    expect(dead!.key?.toString()).toBe('key-4');
    expect(dead!.value?.toString()).toBe('poison');
    expect(header(dead!, 'app-header')).toBe('h4');
    expect(header(dead!, 'traceparent')).toBeUndefined(); // tracing is off: nothing injected
    expect(header(dead!, 'x-error')).toBe('cannot parse order');
    expect(header(dead!, 'x-error-type')).toBe('TypeError');
    expect(header(dead!, 'x-original-topic')).toBe(topic);
    expect(header(dead!, 'x-original-partition')).toBe('0');
    expect(header(dead!, 'x-original-offset')).toBe('4');
    expect(header(dead!, 'x-attempts')).toBe('3');
    expect(header(dead!, 'x-consumer-group')).toBe('poison');
    expect(Number(header(dead!, 'x-original-timestamp'))).toBeGreaterThan(0);
    expect(Date.parse(header(dead!, 'x-dead-lettered-at')!)).toBeGreaterThan(Date.now() - 60_000);
    expect(deadLettered).toEqual([{ offset: 4, dlqTopic: `${topic}.dlq` }]);
    await waitFor('commit past the poison', () => broker.committedOffsets('poison')[topic]?.[0] === 10);
    const metrics = await svc.metrics.expose();
    expect(metrics).toContain(`kafka_messages_dead_lettered_total{topic="${topic}"} 1`);
    expect(metrics).toContain(`kafka_messages_failed_total{topic="${topic}"} 3`);
    expect(metrics).toContain(`kafka_messages_consumed_total{topic="${topic}"} 9`);
  });

  it('dead-letters a failing batch message by message, to a configured topic', async () => {
    const topic = uniqueTopic('batch-poison');
    broker.createTopic(topic);
    broker.createTopic('all-dead');
    produceDirect(topic, ['1', '2', 'x', '4']);
    const svc = await kafkaService(broker, { KAFKA_DLQ_TOPIC: 'all-dead' });
    const ok: number[] = [];
    svc.kafka.consume({
      topics: topic,
      groupId: 'batch-poison',
      batch: true,
      maxBatchSize: 2,
      retry: { attempts: 2 },
      handler: (messages) => {
        if (messages.some((m) => m.value?.toString() === 'x')) throw new Error('bad batch');
        ok.push(...messages.map((m) => m.offset));
      },
    });
    const dead = await broker.waitForRecords('all-dead', 2);
    expect(dead.map((r) => header(r, 'x-original-offset'))).toEqual(['2', '3']);
    expect(dead.every((r) => header(r, 'x-attempts') === '2')).toBe(true);
    await waitFor('commit', () => broker.committedOffsets('batch-poison')[topic]?.[0] === 4);
    expect(ok).toEqual([0, 1]);
  });
});

describe('group membership', () => {
  it('two consumers of one group share the partitions through a rebalance; nothing is lost', async () => {
    const topic = uniqueTopic('rebalance');
    broker.createTopic(topic, { partitions: 4 });
    const total = 400;
    for (let p = 0; p < 4; p++)
      produceDirect(
        topic,
        Array.from({ length: total / 4 }, (_, i) => `${p}-${i}`),
        p,
      );
    const seenBy = { a: new Set<string>(), b: new Set<string>() };
    let bAssigned!: () => void;
    const bJoined = new Promise<void>((resolve) => {
      bAssigned = resolve;
    });
    // After 40 messages A's handlers hold on until B has partitions: the rebalance happens while
    // A has handlers in flight (they do not hold up the group)
    const handler = (who: 'a' | 'b') => async (m: KafkaMessage) => {
      if (who === 'a' && seenBy.a.size >= 40) await bJoined;
      await delay(1);
      seenBy[who].add(`${m.partition}:${m.offset}`);
    };
    const a = await kafkaService(broker);
    const consumerA = a.kafka.consume({
      topics: topic,
      groupId: 'rebalance',
      concurrency: 2,
      handler: handler('a'),
    });
    await consumerA.ready();
    await waitFor('a started', () => seenBy.a.size > 20);
    const b = await kafkaService(broker);
    const consumerB = b.kafka.consume({
      topics: topic,
      groupId: 'rebalance',
      concurrency: 2,
      handler: handler('b'),
    });
    consumerB.on('assigned', (partitions) => {
      if (partitions.length > 0) bAssigned();
    });
    const all = () => new Set([...seenBy.a, ...seenBy.b]);
    await waitFor('every message', () => all().size === total, 20_000);
    await waitFor(
      'both assigned',
      () => consumerA.assignments().length === 2 && consumerB.assignments().length === 2,
    );
    expect(seenBy.b.size).toBeGreaterThan(0);
    expect(await a.metrics.expose()).toMatch(/kafka_rebalances_total\{group="rebalance"\} [2-9]/);
    await Promise.all([a.stop(), b.stop()]);
    expect(broker.committedOffsets('rebalance')[topic]).toEqual({ 0: 100, 1: 100, 2: 100, 3: 100 });
  });

  it('stop() lets the running handler finish, commits it, and leaves the rest for redelivery', async () => {
    const topic = uniqueTopic('shutdown');
    broker.createTopic(topic);
    produceDirect(
      topic,
      Array.from({ length: 20 }, (_, i) => String(i)),
    );
    // Commits only on shutdown
    const svc = await kafkaService(broker, { KAFKA_COMMIT_INTERVAL_MS: '60000' });
    const done: number[] = [];
    let release!: () => void;
    const blocked = new Promise<void>((r) => {
      release = r;
    });
    let blockedStarted = false;
    svc.kafka.consume({
      topics: topic,
      groupId: 'shutdown',
      handler: async (m) => {
        if (m.offset === 10) {
          blockedStarted = true;
          await blocked;
        }
        done.push(m.offset);
      },
    });
    await waitFor('offset 10 running', () => blockedStarted);
    expect(broker.committedOffsets('shutdown')).toEqual({});
    let stopped = false;
    const stopping = svc.stop().then(() => {
      stopped = true;
    });
    await delay(150);
    expect(stopped).toBe(false);
    release();
    await stopping;
    expect(done).toEqual(Array.from({ length: 11 }, (_, i) => i));
    expect(broker.committedOffsets('shutdown')).toEqual({ [topic]: { 0: 11 } });
    expect(broker.group('shutdown')?.members).toEqual([]);
  });
  it('stop() right after consume() (still joining) leaves the group and consumes nothing more', async () => {
    const topic = uniqueTopic('early-stop');
    broker.createTopic(topic);
    const svc = await kafkaService(broker);
    const got: number[] = [];
    // Hold the JoinGroup answer so that stop() lands in the middle of the join
    const slowJoin = broker.faults.delay(300, { apiKey: KafkaApiKey.JoinGroup });
    const consumer = svc.kafka.consume({
      topics: topic,
      groupId: 'early-stop',
      handler: (m) => void got.push(m.offset),
    });
    await waitFor('join requested', () => slowJoin.hits > 0);
    await svc.stop();
    expect(consumer.state).toBe('stopped');
    produceDirect(topic, ['late']);
    await delay(300);
    expect(got).toEqual([]);
    expect(broker.group('early-stop')?.members ?? []).toEqual([]);
  });
});

describe('backpressure', () => {
  it('pauses a partition when its in-flight budget is used up and resumes it when drained', async () => {
    const topic = uniqueTopic('backpressure');
    broker.createTopic(topic);
    produceDirect(
      topic,
      Array.from({ length: 60 }, (_, i) => String(i)),
    );
    const svc = await kafkaService(broker);
    const done: number[] = [];
    const consumer = svc.kafka.consume({
      topics: topic,
      groupId: 'backpressure',
      maxInFlight: 4,
      handler: async (m) => {
        await delay(5);
        done.push(m.offset);
      },
    });
    const paused: number[] = [];
    const resumed: number[] = [];
    consumer.on('paused', (p) => paused.push(p.inFlight));
    consumer.on('resumed', (p) => resumed.push(p.inFlight));
    let maxInFlight = 0;
    let sawPaused = false;
    const sampler = setInterval(() => {
      maxInFlight = Math.max(maxInFlight, consumer.inFlight());
      if (consumer.paused().length > 0) sawPaused = true;
    }, 1);
    await waitFor('60 done', () => done.length === 60, 15_000);
    clearInterval(sampler);
    expect(done).toEqual(Array.from({ length: 60 }, (_, i) => i));
    expect(paused.length).toBeGreaterThan(0);
    expect(resumed.length).toBeGreaterThan(0);
    expect(paused.every((n) => n === 4)).toBe(true);
    expect(resumed.every((n) => n <= 2)).toBe(true);
    expect(sawPaused).toBe(true);
    expect(maxInFlight).toBeLessThanOrEqual(4);
    expect(consumer.paused()).toEqual([]);
  });
});

describe('lag', () => {
  it('reports the lag of a paused partition from fresh high watermarks at scrape time', async () => {
    const topic = uniqueTopic('lag');
    broker.createTopic(topic);
    produceDirect(topic, ['0', '1', '2']);
    const svc = await kafkaService(broker);
    let release!: () => void;
    const blocked = new Promise<void>((r) => {
      release = r;
    });
    const consumer = svc.kafka.consume({
      topics: topic,
      groupId: 'lag',
      maxInFlight: 2,
      handler: () => blocked,
    });
    await waitFor('paused', () => consumer.paused().length === 1);
    // Offset 0 is running, so the first unfinished offset is 0; new records arrive while paused
    produceDirect(topic, ['3', '4', '5', '6']);
    const lag = new RegExp(`kafka_consumer_lag\\{topic="${topic}",partition="0",group="lag"\\} (\\d+)`);
    expect((await svc.metrics.expose()).match(lag)?.[1]).toBe('7');
    release();
    await waitFor('caught up', () => broker.committedOffsets('lag')[topic]?.[0] === 7);
    expect((await svc.metrics.expose()).match(lag)?.[1]).toBe('0');
  });
});

describe('unreachable cluster', () => {
  it('stop() returns promptly when the consumer never connected; produce fails after the request timeout', async () => {
    const svc = await createService({
      name: 'unreachable',
      version: '1.0.0',
      configSources: {
        env: {
          LOG_LEVEL: 'silent',
          KAFKA_BROKERS: '127.0.0.1:1',
          KAFKA_CONNECTION_TIMEOUT_MS: '200',
          KAFKA_REQUEST_TIMEOUT_MS: '300',
          KAFKA_CLIENT_RETRIES: '0',
          KAFKA_CLIENT_RETRY_INITIAL_MS: '50',
          KAFKA_CLIENT_RETRY_MAX_MS: '100',
        },
        argv: [],
      },
    });
    const consumer = svc.kafka.consume({ topics: 't', handler: () => {} });
    await expect(svc.kafka.produce('t', { value: 'x' })).rejects.toThrow(KafkaUnavailableError);
    const ready = await svc.health.readiness();
    expect(ready.status).toBe('unready');
    expect(ready.checks['kafka:consumer:unreachable']?.status).toBe('fail');
    const started = Date.now();
    await svc.stop();
    expect(Date.now() - started).toBeLessThan(3000);
    expect(consumer.state).toBe('stopped');
    expect(() => svc.kafka.consume({ topics: 't', handler: () => {} })).toThrow(KafkaUnavailableError);
  });
});

describe('configuration', () => {
  it('without brokers, Kafka is not configured and calls throw', async () => {
    const svc = await createService({
      name: 'no-kafka',
      version: '1.0.0',
      configSources: { env: { LOG_LEVEL: 'silent' }, argv: [] },
    });
    expect(svc.kafka.configured).toBe(false);
    expect(() => svc.kafka.consume({ topics: 't', handler: () => {} })).toThrow(KafkaUnavailableError);
    await expect(svc.kafka.produce('t', { value: 'x' })).rejects.toThrow(/KAFKA_BROKERS/);
    expect(Object.keys((await svc.health.readiness()).checks).filter((k) => k.startsWith('kafka'))).toEqual(
      [],
    );
    await svc.stop();
  });

  it('reports inconsistent Kafka settings as ConfigError', async () => {
    const error = await createService({
      name: 'bad-kafka',
      version: '1.0.0',
      configSources: {
        env: {
          LOG_LEVEL: 'silent',
          KAFKA_BROKERS: 'localhost:9092,nonsense',
          KAFKA_SASL_MECHANISM: 'scram-sha-256',
          KAFKA_MAX_IN_FLIGHT: '0',
          KAFKA_TLS_ENABLED: 'true',
          KAFKA_TLS_CA_FILE: '/nonexistent/ca.pem',
        },
        argv: [],
      },
    }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConfigError);
    const message = (error as ConfigError).message;
    expect(message).toContain('kafka.brokers');
    expect(message).toContain('kafka.sasl');
    expect(message).toContain('kafka.consumer.maxInFlight');
    expect(message).toContain('kafka.tls.caFile');
  });

  it('authenticates with SASL/PLAIN', async () => {
    const secured = await startKafkaBroker({ sasl: { users: { svc: 's3cret' } } });
    try {
      const topic = uniqueTopic('sasl');
      secured.createTopic(topic);
      const svc = await kafkaService(secured, {
        KAFKA_SASL_MECHANISM: 'plain',
        KAFKA_SASL_USERNAME: 'svc',
        KAFKA_SASL_PASSWORD: 's3cret',
      });
      const got: string[] = [];
      svc.kafka.consume({ topics: topic, groupId: 'sasl', handler: (m) => void got.push(String(m.value)) });
      await svc.kafka.produce(topic, { value: 'hello' });
      await waitFor('message', () => got.length === 1);
      expect(got).toEqual(['hello']);
      await svc.stop();
    } finally {
      await secured.close();
    }
  });
});
