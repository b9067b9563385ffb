import type { Consumer, Kafka } from 'kafkajs';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ApiKey } from '../src/kafka/api-keys.js';
import { type KafkaBroker, startKafkaBroker } from '../src/kafka/broker.js';
import { ErrorCode } from '../src/kafka/error-codes.js';
import { fastConsumer, kafkaClient, waitFor } from './helpers.js';

describe('fault injection with kafkajs', () => {
  let broker: KafkaBroker;
  let kafka: Kafka;
  const logs: string[] = [];
  const consumers: Consumer[] = [];

  beforeAll(async () => {
    broker = await startKafkaBroker({ log: (l) => logs.push(l) });
    kafka = kafkaClient(broker.brokers);
  });
  afterEach(async () => {
    broker.faults.clear();
    await Promise.all(consumers.splice(0).map((c) => c.disconnect().catch(() => {})));
  });
  afterAll(async () => {
    await broker.close();
  });

  async function send(topic: string, values: string[]): Promise<number> {
    const producer = kafka.producer();
    await producer.connect();
    const started = Date.now();
    await producer.send({ topic, messages: values.map((value) => ({ value })) });
    const elapsed = Date.now() - started;
    await producer.disconnect();
    return elapsed;
  }

  async function consume(topic: string, groupId: string, into: string[]): Promise<Consumer> {
    const c = kafka.consumer({ groupId, ...fastConsumer });
    consumers.push(c);
    await c.connect();
    await c.subscribe({ topic, fromBeginning: true });
    await c.run({ eachMessage: async ({ message }) => void into.push(message.value!.toString()) });
    return c;
  }

  it.each([
    ['NOT_LEADER_FOR_PARTITION', ErrorCode.NOT_LEADER_FOR_PARTITION],
    ['REQUEST_TIMED_OUT', ErrorCode.REQUEST_TIMED_OUT],
    ['LEADER_NOT_AVAILABLE', ErrorCode.LEADER_NOT_AVAILABLE],
  ])('Produce answered with %s twice: kafkajs retries and the record is stored once', async (name, code) => {
    const topic = `produce-${name}`;
    broker.createTopic(topic);
    const rule = broker.faults.injectError(ApiKey.Produce, code, { times: 2 });
    await send(topic, ['x']);
    expect(rule.hits).toBe(2);
    expect(rule.done).toBe(true);
    expect(broker.records(topic).map((r) => r.value?.toString())).toEqual(['x']);
    expect(logs.some((l) => l.includes('"errorCode":') && l.includes('Produce'))).toBe(true);
  });

  it('Metadata answered with LEADER_NOT_AVAILABLE: the producer retries', async () => {
    broker.createTopic('meta-fault');
    const rule = broker.faults.injectError(ApiKey.Metadata, ErrorCode.LEADER_NOT_AVAILABLE, { times: 2 });
    await send('meta-fault', ['m']);
    expect(rule.hits).toBe(2);
    expect(broker.highWatermarks('meta-fault')).toEqual([1]);
  });

  it('group coordinator errors: FindCoordinator, JoinGroup, SyncGroup and OffsetCommit failures are retried', async () => {
    broker.createTopic('group-fault');
    await send('group-fault', ['g1', 'g2']);
    const rules = [
      broker.faults.injectError(ApiKey.FindCoordinator, ErrorCode.COORDINATOR_NOT_AVAILABLE, { times: 2 }),
      broker.faults.injectError(ApiKey.JoinGroup, ErrorCode.NOT_COORDINATOR),
      broker.faults.injectError(ApiKey.SyncGroup, ErrorCode.REBALANCE_IN_PROGRESS),
      broker.faults.injectError(ApiKey.OffsetCommit, ErrorCode.COORDINATOR_NOT_AVAILABLE),
    ];
    const got: string[] = [];
    await consume('group-fault', 'g-group-fault', got);
    await waitFor(() => got.length >= 2, 10_000, 'messages');
    // the failed commit is not retried by kafkajs until the next batch
    await send('group-fault', ['g3']);
    await waitFor(() => broker.committedOffsets('g-group-fault')['group-fault']?.[0] === 3, 10_000, 'commit');
    expect(rules.map((r) => r.hits)).toEqual([2, 1, 1, 1]);
    expect([...new Set(got)].sort()).toEqual(['g1', 'g2', 'g3']);
  });

  it('Heartbeat answered with REBALANCE_IN_PROGRESS: the consumer rejoins and keeps consuming', async () => {
    broker.createTopic('hb-fault');
    const got: string[] = [];
    await consume('hb-fault', 'g-hb-fault', got);
    await waitFor(() => broker.group('g-hb-fault')?.state === 'Stable', 10_000, 'stable');
    const generation = broker.group('g-hb-fault')!.generationId;
    const rule = broker.faults.injectError(ApiKey.Heartbeat, ErrorCode.REBALANCE_IN_PROGRESS);
    await waitFor(() => rule.done, 5_000, 'heartbeat fault');
    await waitFor(() => (broker.group('g-hb-fault')?.generationId ?? 0) > generation, 10_000, 'rejoin');
    await send('hb-fault', ['after']);
    await waitFor(() => got.includes('after'), 10_000, 'message after rejoin');
  });

  it('Fetch answered with NOT_LEADER_FOR_PARTITION: the consumer refreshes metadata and continues', async () => {
    broker.createTopic('fetch-fault');
    await send('fetch-fault', ['f1']);
    const rule = broker.faults.injectError(ApiKey.Fetch, ErrorCode.NOT_LEADER_FOR_PARTITION, { times: 2 });
    const got: string[] = [];
    await consume('fetch-fault', 'g-fetch-fault', got);
    await waitFor(() => got.includes('f1'), 10_000, 'f1');
    expect(rule.hits).toBe(2);
  });

  it('delays responses', async () => {
    broker.createTopic('delayed');
    await send('delayed', ['warm']);
    const rule = broker.faults.delay(300, { apiKey: ApiKey.Produce });
    const elapsed = await send('delayed', ['slow']);
    expect(rule.hits).toBe(1);
    expect(elapsed).toBeGreaterThanOrEqual(280);
    expect(broker.highWatermarks('delayed')).toEqual([2]);
  });

  it('drops connections on a request; kafkajs reconnects', async () => {
    broker.createTopic('dropped');
    const rule = broker.faults.dropConnection({ apiKey: ApiKey.Produce, times: 2 });
    await send('dropped', ['d']);
    expect(rule.hits).toBe(2);
    expect(broker.records('dropped').map((r) => r.value?.toString())).toEqual(['d']);
  });

  it('dropConnections() closes live client connections; a running consumer recovers', async () => {
    broker.createTopic('drop-all');
    const got: string[] = [];
    await consume('drop-all', 'g-drop-all', got);
    await send('drop-all', ['before']);
    await waitFor(() => got.includes('before'), 10_000, 'before');
    broker.dropConnections();
    await send('drop-all', ['after']);
    await waitFor(() => got.includes('after'), 10_000, 'after');
  });

  it('rules can target one broker and be cancelled; bad arguments are rejected', async () => {
    const cancelled = broker.faults.injectError(ApiKey.Produce, ErrorCode.REQUEST_TIMED_OUT, {
      times: Infinity,
    });
    const otherBroker = broker.faults.injectError(ApiKey.Metadata, ErrorCode.LEADER_NOT_AVAILABLE, {
      broker: 5,
    });
    cancelled.cancel();
    await send('targeted', ['t']);
    expect(cancelled.hits).toBe(0);
    expect(otherBroker.hits).toBe(0);
    expect(broker.faults.active).toEqual([otherBroker]);
    expect(() => broker.faults.delay(-1)).toThrow(RangeError);
    expect(() => broker.faults.injectError(ApiKey.Fetch, 1, { times: 0 })).toThrow(RangeError);
  });
});
