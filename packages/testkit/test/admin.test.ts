import type { Admin, Kafka } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiKey } from '../src/kafka/api-keys.js';
import { type KafkaBroker, startKafkaBroker } from '../src/kafka/broker.js';
import { Reader } from '../src/kafka/codec.js';
import { ErrorCode } from '../src/kafka/error-codes.js';
import { fastConsumer, kafkaClient, RawClient, waitFor } from './helpers.js';

describe('kafkajs admin', () => {
  let broker: KafkaBroker;
  let kafka: Kafka;
  let admin: Admin;

  beforeAll(async () => {
    broker = await startKafkaBroker({ clusterId: 'test-cluster' });
    kafka = kafkaClient(broker.brokers);
    admin = kafka.admin();
    await admin.connect();
  });
  afterAll(async () => {
    await admin.disconnect();
    await broker.close();
  });

  it('describeCluster reports the broker, controller and cluster id', async () => {
    const port = Number(broker.brokers[0]!.split(':')[1]);
    expect(await admin.describeCluster()).toEqual({
      brokers: [{ nodeId: 0, host: '127.0.0.1', port }],
      controller: 0,
      clusterId: 'test-cluster',
    });
  });

  it('createTopics, listTopics, fetchTopicMetadata and deleteTopics', async () => {
    expect(
      await admin.createTopics({
        topics: [
          { topic: 'admin-a', numPartitions: 4 },
          { topic: 'admin-b', configEntries: [{ name: 'retention.bytes', value: '1000000' }] },
        ],
      }),
    ).toBe(true);
    // already exists: kafkajs reports false instead of throwing
    expect(await admin.createTopics({ topics: [{ topic: 'admin-a', numPartitions: 4 }] })).toBe(false);
    await expect(
      admin.createTopics({ topics: [{ topic: 'admin-c', replicationFactor: 3 }] }),
    ).rejects.toMatchObject({
      errors: [expect.objectContaining({ type: 'INVALID_REPLICATION_FACTOR', topic: 'admin-c' })],
    });
    expect((await admin.listTopics()).sort()).toEqual(['admin-a', 'admin-b']);
    const meta = await admin.fetchTopicMetadata({ topics: ['admin-a'] });
    expect(meta.topics[0]!.partitions.map((p) => [p.partitionId, p.leader, p.replicas, p.isr])).toEqual([
      [0, 0, [0], [0]],
      [1, 0, [0], [0]],
      [2, 0, [0], [0]],
      [3, 0, [0], [0]],
    ]);
    await admin.deleteTopics({ topics: ['admin-b'] });
    expect(await admin.listTopics()).toEqual(['admin-a']);
    expect(broker.topics()).toEqual(['admin-a']);
  });

  it('fetchTopicOffsets and fetchTopicOffsetsByTimestamp', async () => {
    broker.createTopic('admin-offsets', { partitions: 2 });
    const producer = kafka.producer();
    await producer.connect();
    await producer.send({
      topic: 'admin-offsets',
      messages: [
        { value: 'a', partition: 0, timestamp: '1000' },
        { value: 'b', partition: 0, timestamp: '2000' },
        { value: 'c', partition: 0, timestamp: '3000' },
        { value: 'd', partition: 1, timestamp: '1000' },
      ],
    });
    await producer.disconnect();
    const offsets = await admin.fetchTopicOffsets('admin-offsets');
    expect(offsets.sort((x, y) => x.partition - y.partition)).toEqual([
      { partition: 0, offset: '3', high: '3', low: '0' },
      { partition: 1, offset: '1', high: '1', low: '0' },
    ]);
    const byTime = await admin.fetchTopicOffsetsByTimestamp('admin-offsets', 1500);
    expect(byTime.sort((x, y) => x.partition - y.partition)).toEqual([
      { partition: 0, offset: '1' },
      { partition: 1, offset: '1' }, // none at/after 1500: kafkajs falls back to the high watermark
    ]);
  });

  it('fetchOffsets, simple commits, describeGroups, listGroups and deleteGroups', async () => {
    const topic = 'admin-groups';
    broker.createTopic(topic, { partitions: 2 });
    const producer = kafka.producer();
    await producer.connect();
    await producer.send({
      topic,
      messages: Array.from({ length: 6 }, (_, i) => ({ value: `m${i}`, partition: i % 2 })),
    });
    await producer.disconnect();

    const consumer = kafka.consumer({ groupId: 'admin-group', ...fastConsumer });
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    let consumed = 0;
    await consumer.run({ eachMessage: async () => void consumed++ });
    await waitFor(() => consumed >= 6, 10_000, 'consumption');
    await waitFor(() => broker.committedOffsets('admin-group')[topic]?.[1] === 3, 5_000, 'commit');

    const described = await admin.describeGroups(['admin-group', 'no-such-group']);
    const [g, missing] = described.groups;
    expect(g).toMatchObject({
      groupId: 'admin-group',
      state: 'Stable',
      protocolType: 'consumer',
      protocol: 'RoundRobinAssigner',
    });
    expect(g!.members).toHaveLength(1);
    expect(g!.members[0]!.clientId).toBe('testkit');
    expect(g!.members[0]!.memberAssignment.length).toBeGreaterThan(0);
    expect(missing).toMatchObject({ groupId: 'no-such-group', state: 'Dead', members: [] });
    expect((await admin.listGroups()).groups).toContainEqual({
      groupId: 'admin-group',
      protocolType: 'consumer',
    });

    // a group with members cannot be deleted
    await expect(admin.deleteGroups(['admin-group'])).rejects.toThrow();
    await consumer.disconnect();

    const fetched = await admin.fetchOffsets({ groupId: 'admin-group', topics: [topic] });
    expect(fetched).toEqual([
      {
        topic,
        partitions: expect.arrayContaining([
          { partition: 0, offset: '3', metadata: null },
          { partition: 1, offset: '3', metadata: null },
        ]),
      },
    ]);

    // A "simple" commit (generation -1, no member id) is accepted once the group is empty. (kafkajs'
    // admin.setOffsets does the same through a paused consumer that idles for 5 s, so it is not used here.)
    const raw = await RawClient.connect(broker.brokers[0]!);
    raw.request(ApiKey.OffsetCommit, 2, (w) =>
      w
        .string('admin-group')
        .int32(-1)
        .string('')
        .int64(-1)
        .array([topic], (w, t) =>
          w.string(t).array([0], (w, p) => w.int32(p).int64(1).nullableString('manual')),
        ),
    );
    const committed = new Reader((await raw.response())!.body);
    committed.int32();
    committed.string();
    committed.int32();
    expect([committed.int32(), committed.int16()]).toEqual([0, ErrorCode.NONE]);
    raw.close();
    expect(broker.committedOffsets('admin-group')[topic]).toEqual({ 0: 1, 1: 3 });
    const afterCommit = await admin.fetchOffsets({ groupId: 'admin-group', topics: [topic] });
    expect(afterCommit[0]!.partitions).toContainEqual({ partition: 0, offset: '1', metadata: 'manual' });
    // all topics of the group (null topic list)
    expect((await admin.fetchOffsets({ groupId: 'admin-group' })).map((t) => t.topic)).toEqual([topic]);

    expect(await admin.deleteGroups(['admin-group'])).toEqual([{ groupId: 'admin-group', errorCode: 0 }]);
    expect(broker.group('admin-group')).toBeUndefined();
  });
});
