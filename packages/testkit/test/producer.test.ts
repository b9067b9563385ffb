import { CompressionTypes, type Kafka } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiKey } from '../src/kafka/api-keys.js';
import { type KafkaBroker, startKafkaBroker } from '../src/kafka/broker.js';
import { kafkaClient } from './helpers.js';

describe('kafkajs producer', () => {
  let broker: KafkaBroker;
  let kafka: Kafka;
  const logs: string[] = [];

  beforeAll(async () => {
    broker = await startKafkaBroker({ defaultPartitions: 3, log: (line) => logs.push(line) });
    kafka = kafkaClient(broker.brokers);
  });
  afterAll(async () => {
    await broker.close();
  });

  it('acks=-1: stores keys, values, headers and timestamps and returns base offsets', async () => {
    const producer = kafka.producer();
    await producer.connect();
    const res = await producer.send({
      topic: 'orders',
      acks: -1,
      messages: [
        {
          key: 'a',
          value: 'one',
          partition: 1,
          headers: { trace: 'abc', bin: Buffer.from([0, 1]) },
          timestamp: '1700000000000',
        },
        { key: 'b', value: 'two', partition: 1 },
        { key: null, value: 'three', partition: 2 },
      ],
    });
    await producer.disconnect();

    const byPartition = Object.fromEntries(res.map((r) => [r.partition, r]));
    expect(byPartition[1]).toMatchObject({ errorCode: 0, baseOffset: '0' });
    expect(byPartition[2]).toMatchObject({ errorCode: 0, baseOffset: '0' });
    expect(broker.highWatermarks('orders')).toEqual([0, 2, 1]);

    const recs = broker.records('orders');
    expect(recs.map((r) => [r.partition, r.offset, r.key?.toString() ?? null, r.value?.toString()])).toEqual([
      [1, 0, 'a', 'one'],
      [1, 1, 'b', 'two'],
      [2, 0, null, 'three'],
    ]);
    expect(recs[0]!.timestamp).toBe(1_700_000_000_000);
    expect(recs[0]!.headers).toEqual([
      { key: 'trace', value: Buffer.from('abc') },
      { key: 'bin', value: Buffer.from([0, 1]) },
    ]);
  });

  it('acks=1 and acks=0 are appended too', async () => {
    const producer = kafka.producer();
    await producer.connect();
    await producer.send({ topic: 'acks', acks: 1, messages: [{ value: 'a1', partition: 0 }] });
    await producer.send({ topic: 'acks', acks: 0, messages: [{ value: 'a0', partition: 0 }] });
    // a request after the acks=0 one proves the connection is still in sync
    await producer.send({ topic: 'acks', acks: -1, messages: [{ value: 'a-1', partition: 0 }] });
    await producer.disconnect();
    expect(broker.records('acks').map((r) => r.value?.toString())).toEqual(['a1', 'a0', 'a-1']);
  });

  it('gzip batches are stored compressed and decoded for inspection', async () => {
    const producer = kafka.producer();
    await producer.connect();
    const messages = Array.from({ length: 50 }, (_, i) => ({ key: `k${i}`, value: `value-${i}`.repeat(20) }));
    await producer.send({
      topic: 'zipped',
      compression: CompressionTypes.GZIP,
      messages: messages.map((m) => ({ ...m, partition: 0 })),
    });
    await producer.disconnect();
    const recs = broker.records('zipped');
    expect(recs.map((r) => r.value?.toString())).toEqual(messages.map((m) => m.value));
    expect(recs.map((r) => r.offset)).toEqual(messages.map((_, i) => i));
  });

  it('idempotent producer: sequences are tracked across sends', async () => {
    const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
    await producer.connect();
    for (let i = 0; i < 5; i++) {
      await producer.send({
        topic: 'idem',
        messages: [
          { value: `m${i}`, partition: 0 },
          { value: `n${i}`, partition: 1 },
        ],
      });
    }
    await producer.disconnect();
    expect(broker.highWatermarks('idem')).toEqual([5, 5, 0]);
  });

  it('idempotent producer: a retried batch whose response was lost is not appended twice', async () => {
    const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
    await producer.connect();
    await producer.send({ topic: 'idem-retry', messages: [{ value: 'first', partition: 0 }] });
    // the broker appends the next batch, then drops the connection instead of answering
    const rule = broker.faults.dropConnection({ apiKey: ApiKey.Produce, afterHandling: true });
    await producer.send({ topic: 'idem-retry', messages: [{ value: 'second', partition: 0 }] });
    await producer.send({ topic: 'idem-retry', messages: [{ value: 'third', partition: 0 }] });
    await producer.disconnect();
    expect(rule.hits).toBe(1);
    expect(logs.some((l) => /idem-retry\[0\]: duplicate batch/.test(l))).toBe(true);
    expect(broker.records('idem-retry').map((r) => r.value?.toString())).toEqual([
      'first',
      'second',
      'third',
    ]);
  });

  it('stores batches untouched apart from the base offset', async () => {
    const producer = kafka.producer();
    await producer.connect();
    await producer.send({ topic: 'raw-bytes', messages: [{ value: 'x', partition: 0 }] });
    await producer.send({
      topic: 'raw-bytes',
      messages: [
        { value: 'y', partition: 0 },
        { value: 'z', partition: 0 },
      ],
    });
    await producer.disconnect();
    const offsets = broker.partitionOffsets('raw-bytes');
    expect(offsets[0]).toMatchObject({ earliest: 0, latest: 3, leader: 0 });
    const recs = broker.records('raw-bytes');
    expect(recs.map((r) => r.offset)).toEqual([0, 1, 2]);
    // direct produce through the helper is visible to inspection as well
    const { baseOffset } = broker.produce('raw-bytes', [{ value: 'direct' }]);
    expect(baseOffset).toBe(3);
  });

  it('without auto-creation, producing to an unknown topic fails', async () => {
    const strict = await startKafkaBroker({ autoCreateTopics: false });
    try {
      const client = kafkaClient(strict.brokers, {
        retry: { retries: 1, initialRetryTime: 20, maxRetryTime: 50 },
      });
      const producer = client.producer({ allowAutoTopicCreation: false });
      await producer.connect();
      await expect(producer.send({ topic: 'nope', messages: [{ value: 'x' }] })).rejects.toThrow(
        /does not host this topic-partition|UNKNOWN_TOPIC_OR_PARTITION/i,
      );
      await producer.disconnect();
      expect(strict.topics()).toEqual([]);
    } finally {
      await strict.close();
    }
  });
});
