import type { Consumer, Kafka } from 'kafkajs';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ApiKey } from '../src/kafka/api-keys.js';
import { type KafkaBroker, startKafkaBroker } from '../src/kafka/broker.js';
import { Reader, Writer } from '../src/kafka/codec.js';
import { ErrorCode } from '../src/kafka/error-codes.js';
import { fastConsumer, kafkaClient, RawClient, waitFor } from './helpers.js';

describe('kafkajs consumer groups', () => {
  let broker: KafkaBroker;
  let kafka: Kafka;
  const running: Consumer[] = [];

  const consumer = (groupId: string, extra: Record<string, unknown> = {}): Consumer => {
    const c = kafka.consumer({ groupId, ...fastConsumer, ...extra });
    running.push(c);
    return c;
  };

  const produce = async (
    topic: string,
    messages: Array<{ key?: string; value: string; partition?: number }>,
  ) => {
    const p = kafka.producer();
    await p.connect();
    await p.send({ topic, messages });
    await p.disconnect();
  };

  beforeAll(async () => {
    broker = await startKafkaBroker();
    kafka = kafkaClient(broker.brokers);
  });
  afterEach(async () => {
    await Promise.all(running.splice(0).map((c) => c.disconnect().catch(() => {})));
  });
  afterAll(async () => {
    await broker.close();
  });

  it('eachMessage: consumes every message in partition order and commits offsets', async () => {
    broker.createTopic('each-message', { partitions: 3 });
    const messages = Array.from({ length: 30 }, (_, i) => ({
      key: `k${i}`,
      value: `v${i}`,
      partition: i % 3,
    }));
    await produce('each-message', messages);

    const got: Array<{ partition: number; offset: number; value: string }> = [];
    const c = consumer('g-each-message');
    await c.connect();
    await c.subscribe({ topic: 'each-message', fromBeginning: true });
    await c.run({
      eachMessage: async ({ partition, message }) => {
        got.push({ partition, offset: Number(message.offset), value: message.value!.toString() });
      },
    });
    await waitFor(() => got.length >= 30, 10_000, '30 messages');
    await c.disconnect();

    expect(got).toHaveLength(30);
    for (const p of [0, 1, 2]) {
      const offs = got.filter((g) => g.partition === p).map((g) => g.offset);
      expect(offs).toEqual([...offs].sort((a, b) => a - b));
      expect(offs).toHaveLength(10);
    }
    expect(new Set(got.map((g) => g.value))).toEqual(new Set(messages.map((m) => m.value)));
    expect(broker.committedOffsets('g-each-message')).toEqual({ 'each-message': { 0: 10, 1: 10, 2: 10 } });
    expect(broker.group('g-each-message')?.state).toBe('Empty');
  });

  it('eachBatch: receives batches with high watermarks; a restarted consumer resumes from the commit', async () => {
    await produce(
      'each-batch',
      Array.from({ length: 20 }, (_, i) => ({ value: `b${i}` })),
    );
    const seen: string[] = [];
    let lastHighWatermark = '';
    const c1 = consumer('g-each-batch');
    await c1.connect();
    await c1.subscribe({ topic: 'each-batch', fromBeginning: true });
    await c1.run({
      eachBatch: async ({ batch }) => {
        for (const m of batch.messages) seen.push(m.value!.toString());
        lastHighWatermark = batch.highWatermark;
      },
    });
    await waitFor(() => seen.length >= 20, 10_000, 'first 20');
    await c1.disconnect();
    expect(lastHighWatermark).toBe('20');

    await produce('each-batch', [{ value: 'late-1' }, { value: 'late-2' }]);
    const c2 = consumer('g-each-batch');
    await c2.connect();
    await c2.subscribe({ topic: 'each-batch', fromBeginning: true });
    await c2.run({
      eachBatch: async ({ batch }) => {
        for (const m of batch.messages) seen.push(m.value!.toString());
      },
    });
    await waitFor(() => seen.length >= 22, 10_000, 'late messages');
    await c2.disconnect();
    expect(seen).toEqual([...Array.from({ length: 20 }, (_, i) => `b${i}`), 'late-1', 'late-2']);
  });

  it('seek: re-reads from an earlier offset', async () => {
    await produce(
      'seek',
      Array.from({ length: 10 }, (_, i) => ({ value: `s${i}` })),
    );
    const offsets: number[] = [];
    let sought = false;
    const c = consumer('g-seek');
    await c.connect();
    await c.subscribe({ topic: 'seek', fromBeginning: true });
    await c.run({
      eachMessage: async ({ message }) => {
        offsets.push(Number(message.offset));
        if (Number(message.offset) === 9 && !sought) {
          sought = true;
          c.seek({ topic: 'seek', partition: 0, offset: '6' });
        }
      },
    });
    await waitFor(() => offsets.length >= 14, 10_000, 'seeked messages');
    expect(offsets.slice(0, 10)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(offsets.slice(10, 14)).toEqual([6, 7, 8, 9]);
  });

  it('members join and leave: rebalances spread partitions and every message is consumed exactly once', async () => {
    const topic = 'rebalance';
    broker.createTopic(topic, { partitions: 6 });
    const seen = new Map<string, string[]>();
    const start = async (id: string): Promise<Consumer> => {
      const c = consumer('g-rebalance');
      await c.connect();
      await c.subscribe({ topic, fromBeginning: true });
      await c.run({
        eachMessage: async ({ message }) => {
          const v = message.value!.toString();
          seen.set(v, [...(seen.get(v) ?? []), id]);
        },
      });
      return c;
    };
    let n = 0;
    const produceRound = async (count: number) => {
      const msgs = Array.from({ length: count }, () => {
        const i = n++;
        return { value: `r${i}`, partition: i % 6 };
      });
      await produce(topic, msgs);
    };
    const stableWith = (members: number) =>
      waitFor(
        () => {
          const g = broker.group('g-rebalance');
          return g?.state === 'Stable' && g.members.length === members;
        },
        10_000,
        `stable group of ${members}`,
      );

    await produceRound(30);
    await start('c1');
    await stableWith(1);
    await waitFor(() => seen.size >= 30, 10_000, 'round 1');

    const c2 = await start('c2');
    await start('c3');
    await stableWith(3);
    const g3 = broker.group('g-rebalance')!;
    expect(g3.generationId).toBeGreaterThanOrEqual(2);
    expect(g3.members.every((m) => m.assignment.length > 0)).toBe(true);
    await produceRound(60);
    await waitFor(() => seen.size >= 90, 10_000, 'round 2');

    await c2.disconnect();
    await stableWith(2);
    await produceRound(60);
    await waitFor(() => seen.size >= 150, 10_000, 'round 3');

    const consumersOfRound2 = new Set(
      [...seen.entries()]
        .filter(([v]) => Number(v.slice(1)) >= 30 && Number(v.slice(1)) < 90)
        .flatMap(([, ids]) => ids),
    );
    expect(consumersOfRound2.size).toBeGreaterThan(1);
    const duplicates = [...seen.entries()].filter(([, ids]) => ids.length > 1);
    expect(duplicates).toEqual([]);
    expect(seen.size).toBe(150);
    await Promise.all(running.splice(0).map((c) => c.disconnect()));
    expect(broker.committedOffsets('g-rebalance')).toEqual({
      rebalance: { 0: 25, 1: 25, 2: 25, 3: 25, 4: 25, 5: 25 },
    });
  });

  it('a member that stops heartbeating is evicted after its session timeout', async () => {
    const topic = 'evict';
    const groupId = 'g-evict';
    broker.createTopic(topic, { partitions: 2 });
    const values: string[] = [];
    const c = consumer(groupId);
    await c.connect();
    await c.subscribe({ topic, fromBeginning: true });
    await c.run({ eachMessage: async ({ message }) => void values.push(message.value!.toString()) });
    await waitFor(() => broker.group(groupId)?.state === 'Stable', 10_000, 'kafkajs member');

    // A raw member joins with a 500 ms session timeout, gets its assignment, then goes silent.
    const raw = await RawClient.connect(broker.brokers[0]!);
    const metadata = new Writer()
      .int16(1)
      .array([topic], (w, t) => w.string(t))
      .bytes(Buffer.alloc(0))
      .toBuffer();
    const join = (memberId: string) =>
      raw.request(ApiKey.JoinGroup, 5, (w) =>
        w
          .string(groupId)
          .int32(500)
          .int32(3000)
          .string(memberId)
          .nullableString(null)
          .string('consumer')
          .array([{ name: 'RoundRobinAssigner', metadata }], (w, p) => w.string(p.name).bytes(p.metadata)),
      );
    join('');
    const first = new Reader((await raw.response())!.body);
    first.int32();
    expect(first.int16()).toBe(ErrorCode.MEMBER_ID_REQUIRED);
    first.int32();
    first.string();
    first.string();
    const memberId = first.string();
    join(memberId);
    const joined = new Reader((await raw.response(10_000))!.body);
    joined.int32();
    expect(joined.int16()).toBe(ErrorCode.NONE);
    const generation = joined.int32();
    raw.request(ApiKey.SyncGroup, 3, (w) =>
      w.string(groupId).int32(generation).string(memberId).nullableString(null).int32(0),
    );
    const synced = new Reader((await raw.response(10_000))!.body);
    synced.int32();
    expect(synced.int16()).toBe(ErrorCode.NONE);
    expect(broker.group(groupId)?.members).toHaveLength(2);

    // no heartbeats from the raw member: it is evicted and kafkajs gets both partitions back
    await waitFor(
      () => {
        const g = broker.group(groupId);
        return g?.state === 'Stable' && g.members.length === 1 && g.generationId > generation;
      },
      10_000,
      'eviction',
    );
    await produce(topic, [
      { value: 'p0', partition: 0 },
      { value: 'p1', partition: 1 },
    ]);
    await waitFor(() => values.includes('p0') && values.includes('p1'), 10_000, 'both partitions consumed');
    raw.close();
  });
});
