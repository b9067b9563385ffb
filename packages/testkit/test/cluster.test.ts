import type { Kafka } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiKey } from '../src/kafka/api-keys.js';
import { type KafkaBroker, startKafkaBroker } from '../src/kafka/broker.js';
import { Reader } from '../src/kafka/codec.js';
import { ErrorCode } from '../src/kafka/error-codes.js';
import { encodeRecordBatch } from '../src/kafka/record-batch.js';
import { fastConsumer, kafkaClient, RawClient, waitFor } from './helpers.js';

describe('multi-broker cluster', () => {
  let broker: KafkaBroker;
  let kafka: Kafka;

  beforeAll(async () => {
    broker = await startKafkaBroker({ brokers: 3 });
    kafka = kafkaClient(broker.brokers);
  });
  afterAll(async () => {
    await broker.close();
  });

  it('has three listeners with distinct node ids and spreads partition leaders', async () => {
    expect(broker.brokers).toHaveLength(3);
    expect(new Set(broker.brokers).size).toBe(3);
    const admin = kafka.admin();
    await admin.connect();
    const cluster = await admin.describeCluster();
    expect(cluster.brokers.map((b) => b.nodeId).sort()).toEqual([0, 1, 2]);
    expect(cluster.brokers.map((b) => `${b.host}:${b.port}`).sort()).toEqual([...broker.brokers].sort());
    await admin.createTopics({ topics: [{ topic: 'spread', numPartitions: 6 }] });
    const meta = await admin.fetchTopicMetadata({ topics: ['spread'] });
    await admin.disconnect();
    const leaders = meta.topics[0]!.partitions.sort((a, b) => a.partitionId - b.partitionId).map(
      (p) => p.leader,
    );
    expect(leaders).toEqual([0, 1, 2, 0, 1, 2]);
    expect(broker.partitionOffsets('spread').map((p) => p.leader)).toEqual(leaders);
  });

  it('produces to and consumes from every leader; the group uses its coordinator', async () => {
    const producer = kafka.producer();
    await producer.connect();
    await producer.send({
      topic: 'spread',
      messages: Array.from({ length: 60 }, (_, i) => ({ value: `s${i}`, partition: i % 6 })),
    });
    await producer.disconnect();
    expect(broker.highWatermarks('spread')).toEqual([10, 10, 10, 10, 10, 10]);

    const got = new Set<string>();
    const consumer = kafka.consumer({ groupId: 'spread-group', ...fastConsumer });
    await consumer.connect();
    await consumer.subscribe({ topic: 'spread', fromBeginning: true });
    await consumer.run({ eachMessage: async ({ message }) => void got.add(message.value!.toString()) });
    await waitFor(() => got.size === 60, 10_000, '60 messages');
    await consumer.disconnect();
    expect(broker.committedOffsets('spread-group').spread).toEqual({
      0: 10,
      1: 10,
      2: 10,
      3: 10,
      4: 10,
      5: 10,
    });
  });

  it('a broker that does not lead a partition answers NOT_LEADER_FOR_PARTITION', async () => {
    broker.createTopic('leader-check', { partitions: 3 });
    const raw = await RawClient.connect(broker.brokers[0]!);
    const batch = encodeRecordBatch([{ value: 'x' }]);
    raw.request(ApiKey.Produce, 7, (w) =>
      w
        .nullableString(null)
        .int16(-1)
        .int32(1000)
        .array(['leader-check'], (w, t) => w.string(t).array([1, 0], (w, p) => w.int32(p).bytes(batch))),
    );
    const r = new Reader((await raw.response())!.body);
    r.int32(); // topics
    r.string();
    r.int32(); // partitions
    const results: Array<[number, number]> = [];
    for (let i = 0; i < 2; i++) {
      const partition = r.int32();
      const errorCode = r.int16();
      r.int64();
      r.int64();
      r.int64();
      results.push([partition, errorCode]);
    }
    expect(results).toEqual([
      [1, ErrorCode.NOT_LEADER_FOR_PARTITION],
      [0, ErrorCode.NONE],
    ]);
    raw.close();
  });

  it('stops and restarts a broker on the same port, keeping its data', async () => {
    broker.createTopic('restart', { partitions: 3 });
    const producer = kafka.producer();
    await producer.connect();
    await producer.send({
      topic: 'restart',
      messages: [
        { value: 'before-1', partition: 1 },
        { value: 'before-2', partition: 1 },
      ],
    });

    const address = broker.nodes[1]!.address;
    await broker.stopBroker(1);
    expect(broker.nodes[1]!.running).toBe(false);
    // partitions led by other brokers keep working
    await producer.send({ topic: 'restart', messages: [{ value: 'other', partition: 0 }] });

    // a send to the stopped leader retries until the broker is back
    const started = Date.now();
    const pending = producer.send({ topic: 'restart', messages: [{ value: 'during', partition: 1 }] });
    setTimeout(() => void broker.restartBroker(1), 300);
    await pending;
    expect(Date.now() - started).toBeGreaterThanOrEqual(250);
    expect(broker.nodes[1]).toMatchObject({ running: true, address });
    await producer.disconnect();

    expect(broker.records('restart', { partition: 1 }).map((r) => [r.offset, r.value?.toString()])).toEqual([
      [0, 'before-1'],
      [1, 'before-2'],
      [2, 'during'],
    ]);

    const got: string[] = [];
    const consumer = kafka.consumer({ groupId: 'restart-group', ...fastConsumer });
    await consumer.connect();
    await consumer.subscribe({ topic: 'restart', fromBeginning: true });
    await consumer.run({ eachMessage: async ({ message }) => void got.push(message.value!.toString()) });
    await waitFor(() => got.length === 4, 10_000, 'all records after restart');
    await consumer.disconnect();
    expect(got.sort()).toEqual(['before-1', 'before-2', 'during', 'other']);
  });

  it('consumer groups survive a restart of their coordinator', async () => {
    broker.createTopic('coord', { partitions: 3 });
    const groupId = 'coord-group';
    const coordinator = broker.coordinator(groupId);
    const got = new Set<string>();
    const consumer = kafka.consumer({ groupId, ...fastConsumer });
    await consumer.connect();
    await consumer.subscribe({ topic: 'coord', fromBeginning: true });
    await consumer.run({ eachMessage: async ({ message }) => void got.add(message.value!.toString()) });
    const producer = kafka.producer();
    await producer.connect();
    await producer.send({
      topic: 'coord',
      messages: [0, 1, 2].map((p) => ({ value: `a${p}`, partition: p })),
    });
    await waitFor(() => got.size === 3, 10_000, 'first round');
    await waitFor(
      () => Object.keys(broker.committedOffsets(groupId).coord ?? {}).length === 3,
      5_000,
      'commits',
    );

    await broker.stopBroker(coordinator);
    await new Promise((r) => setTimeout(r, 300));
    await broker.restartBroker(coordinator);
    await producer.send({
      topic: 'coord',
      messages: [0, 1, 2].map((p) => ({ value: `b${p}`, partition: p })),
    });
    await waitFor(() => got.size === 6, 10_000, 'second round');
    await producer.disconnect();
    await consumer.disconnect();
    expect(broker.committedOffsets(groupId).coord).toEqual({ 0: 2, 1: 2, 2: 2 });
  });
});
