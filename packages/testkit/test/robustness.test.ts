import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiKey } from '../src/kafka/api-keys.js';
import { type KafkaBroker, startKafkaBroker } from '../src/kafka/broker.js';
import { Reader, type Writer } from '../src/kafka/codec.js';
import { ErrorCode } from '../src/kafka/error-codes.js';
import { encodeRecordBatch } from '../src/kafka/record-batch.js';
import { fastConsumer, kafkaClient, RawClient, waitFor } from './helpers.js';

/** Produce v7 body with one partition's record set. */
function produceBody(topic: string, partition: number, records: Buffer, acks = -1) {
  return (w: Writer) =>
    w
      .nullableString(null)
      .int16(acks)
      .int32(1000)
      .array([topic], (w, t) => w.string(t).array([partition], (w, p) => w.int32(p).bytes(records)));
}

/** Error code of the single partition in a Produce v7 response. */
function produceError(body: Buffer): { errorCode: number; baseOffset: number } {
  const r = new Reader(body);
  r.int32();
  r.string();
  r.int32();
  r.int32();
  return { errorCode: r.int16(), baseOffset: r.int64() };
}

function frame(payload: Buffer): Buffer {
  const size = Buffer.alloc(4);
  size.writeInt32BE(payload.length);
  return Buffer.concat([size, payload]);
}

describe('bad input over raw sockets', () => {
  let broker: KafkaBroker;
  const logs: string[] = [];

  beforeAll(async () => {
    broker = await startKafkaBroker({ maxFrameBytes: 64 * 1024, log: (l) => logs.push(l) });
  });
  afterAll(async () => {
    await broker.close();
  });

  /** The broker still serves a fresh kafkajs client end to end. */
  async function stillServes(topic: string): Promise<void> {
    const kafka = kafkaClient(broker.brokers);
    const producer = kafka.producer();
    await producer.connect();
    await producer.send({ topic, messages: [{ value: 'alive' }] });
    await producer.disconnect();
    expect(broker.records(topic).map((r) => r.value?.toString())).toContain('alive');
  }

  it('answers ApiVersions and keeps request/response order for pipelined requests', async () => {
    const raw = await RawClient.connect(broker.brokers[0]!);
    const ids = [
      raw.request(ApiKey.ApiVersions, 0),
      raw.request(ApiKey.ApiVersions, 2),
      raw.request(ApiKey.Metadata, 0, (w) => w.int32(0)),
    ];
    const responses = [await raw.response(), await raw.response(), await raw.response()];
    expect(responses.map((r) => r!.correlationId)).toEqual(ids);
    const r = new Reader(responses[0]!.body);
    expect(r.int16()).toBe(ErrorCode.NONE);
    const apis = r.array((r) => ({ key: r.int16(), min: r.int16(), max: r.int16() }));
    expect(apis).toEqual(
      expect.arrayContaining([
        { key: ApiKey.Produce, min: 3, max: 7 },
        { key: ApiKey.Fetch, min: 4, max: 11 },
        { key: ApiKey.Metadata, min: 0, max: 6 },
        { key: ApiKey.JoinGroup, min: 0, max: 5 },
        { key: ApiKey.ApiVersions, min: 0, max: 2 },
      ]),
    );
    raw.close();
  });

  it('a request split into single bytes is reassembled', async () => {
    const raw = await RawClient.connect(broker.brokers[0]!);
    const payload = Buffer.from([0, ApiKey.ApiVersions, 0, 1, 0, 0, 0, 42, 0, 1, 120]);
    for (const byte of frame(payload)) {
      raw.writeRaw(Buffer.from([byte]));
      await new Promise((r) => setTimeout(r, 1));
    }
    const res = await raw.response();
    expect(res?.correlationId).toBe(42);
    raw.close();
  });

  it('unknown API keys and versions get UNSUPPORTED_VERSION, and the connection stays usable', async () => {
    const raw = await RawClient.connect(broker.brokers[0]!);
    const unknownKey = raw.request(999, 0);
    const badVersion = raw.request(ApiKey.Metadata, 42);
    const newApiVersions = raw.request(ApiKey.ApiVersions, 3);
    const fine = raw.request(ApiKey.ApiVersions, 1);

    const r1 = (await raw.response())!;
    expect(r1.correlationId).toBe(unknownKey);
    expect(r1.body.readInt16BE(0)).toBe(ErrorCode.UNSUPPORTED_VERSION);
    const r2 = (await raw.response())!;
    expect(r2.correlationId).toBe(badVersion);
    expect(r2.body.readInt16BE(0)).toBe(ErrorCode.UNSUPPORTED_VERSION);
    // ApiVersions of an unknown version: v0 layout with the error and the supported ranges
    const r3 = (await raw.response())!;
    expect(r3.correlationId).toBe(newApiVersions);
    const rd = new Reader(r3.body);
    expect(rd.int16()).toBe(ErrorCode.UNSUPPORTED_VERSION);
    expect(rd.array((r) => [r.int16(), r.int16(), r.int16()])).toContainEqual([ApiKey.ApiVersions, 0, 2]);
    expect((await raw.response())!.correlationId).toBe(fine);
    expect(raw.closed).toBe(false);
    expect(logs.some((l) => l.includes('unsupported api key 999'))).toBe(true);
    raw.close();
  });

  it('a batch with a bad CRC is rejected with CORRUPT_MESSAGE and nothing is stored', async () => {
    broker.createTopic('crc');
    const raw = await RawClient.connect(broker.brokers[0]!);
    const good = encodeRecordBatch([{ value: 'ok' }]);
    const bad = Buffer.from(good);
    bad[bad.length - 2]! ^= 0x55;
    raw.request(ApiKey.Produce, 7, produceBody('crc', 0, bad));
    expect(produceError((await raw.response())!.body).errorCode).toBe(ErrorCode.CORRUPT_MESSAGE);
    expect(broker.highWatermarks('crc')).toEqual([0]);
    expect(logs.some((l) => l.includes('CRC mismatch'))).toBe(true);
    // same connection, valid batch
    raw.request(ApiKey.Produce, 7, produceBody('crc', 0, good));
    expect(produceError((await raw.response())!.body)).toEqual({ errorCode: ErrorCode.NONE, baseOffset: 0 });
    // truncated batch and an unknown partition
    raw.request(ApiKey.Produce, 7, produceBody('crc', 0, good.subarray(0, 40)));
    expect(produceError((await raw.response())!.body).errorCode).toBe(ErrorCode.CORRUPT_MESSAGE);
    raw.request(ApiKey.Produce, 7, produceBody('crc', 9, good));
    expect(produceError((await raw.response())!.body).errorCode).toBe(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
    expect(broker.highWatermarks('crc')).toEqual([1]);
    raw.close();
  });

  it('acks=0 produce gets no response but is stored', async () => {
    const raw = await RawClient.connect(broker.brokers[0]!);
    raw.request(ApiKey.Produce, 7, produceBody('acks0', 0, encodeRecordBatch([{ value: 'fire' }]), 0));
    const next = raw.request(ApiKey.ApiVersions, 0);
    expect((await raw.response())!.correlationId).toBe(next);
    expect(broker.records('acks0').map((r) => r.value?.toString())).toEqual(['fire']);
    raw.close();
  });

  it.each([
    [
      'an oversized frame (10 MiB announced, 64 KiB allowed)',
      Buffer.from([0, 0xa0, 0, 0]),
      /exceeds maxFrameBytes/,
    ],
    ['a negative frame size', Buffer.from([0xff, 0xff, 0xff, 0xfe]), /malformed frame|exceeds/],
    ['a frame too small for a header', frame(Buffer.from([0, 3])), /malformed frame/],
    [
      'a truncated request header',
      frame(Buffer.from([0, 3, 0, 1, 0, 0, 0, 1, 0, 40, 65])),
      /malformed request header/,
    ],
    [
      'a body whose array count exceeds the frame',
      frame(Buffer.from([0, 3, 0, 1, 0, 0, 0, 7, 0, 1, 120, 0x7f, 0, 0, 0])),
      /malformed Metadata v1 request/,
    ],
    ['random garbage', frame(Buffer.from('this is definitely not kafka at all')), /malformed request header/],
  ])('%s closes only that connection, with a log line', async (_name, bytes, pattern) => {
    const bystander = await RawClient.connect(broker.brokers[0]!);
    const raw = await RawClient.connect(broker.brokers[0]!);
    const before = logs.length;
    raw.writeRaw(bytes);
    expect(await raw.response(3000)).toBeNull();
    expect(raw.closed).toBe(true);
    expect(logs.slice(before).some((l) => pattern.test(l))).toBe(true);
    // other connections are unaffected
    bystander.request(ApiKey.ApiVersions, 0);
    expect((await bystander.response())?.body.readInt16BE(0)).toBe(ErrorCode.NONE);
    bystander.close();
    raw.close();
  });

  it('serves kafkajs normally after all of the above', async () => {
    await stillServes('after-bad-input');
  });
});

describe('retention', () => {
  let broker: KafkaBroker;
  beforeAll(async () => {
    broker = await startKafkaBroker({ retentionBytesPerPartition: 8 * 1024 });
  });
  afterAll(async () => {
    await broker.close();
  });

  it('drops the oldest batches, advances the earliest offset and rejects fetches below it', async () => {
    for (let i = 0; i < 40; i++) broker.produce('bounded', [{ value: Buffer.alloc(1000, i) }]);
    const [p] = broker.partitionOffsets('bounded');
    expect(p!.latest).toBe(40);
    expect(p!.earliest).toBeGreaterThan(30);
    expect(p!.bytes).toBeLessThanOrEqual(8 * 1024);
    const recs = broker.records('bounded');
    expect(recs[0]!.offset).toBe(p!.earliest);
    expect(recs.at(-1)!.offset).toBe(39);

    const raw = await RawClient.connect(broker.brokers[0]!);
    const fetchAt = (offset: number) =>
      raw.request(ApiKey.Fetch, 11, (w) =>
        w
          .int32(-1)
          .int32(0)
          .int32(1)
          .int32(1 << 20)
          .int8(0)
          .int32(0)
          .int32(-1)
          .array(['bounded'], (w, t) =>
            w.string(t).array([0], (w, part) =>
              w
                .int32(part)
                .int32(-1)
                .int64(offset)
                .int64(-1)
                .int32(1 << 20),
            ),
          )
          .int32(0)
          .string(''),
      );
    const partitionResult = (body: Buffer) => {
      const r = new Reader(body);
      r.int32();
      r.int16();
      r.int32();
      r.int32();
      r.string();
      r.int32();
      return {
        partition: r.int32(),
        errorCode: r.int16(),
        highWatermark: r.int64(),
        lso: r.int64(),
        logStart: r.int64(),
      };
    };
    fetchAt(0);
    expect(partitionResult((await raw.response())!.body)).toMatchObject({
      errorCode: ErrorCode.OFFSET_OUT_OF_RANGE,
      highWatermark: 40,
      logStart: p!.earliest,
    });
    fetchAt(p!.earliest);
    expect(partitionResult((await raw.response())!.body)).toMatchObject({
      errorCode: ErrorCode.NONE,
      highWatermark: 40,
    });
    fetchAt(41);
    expect(partitionResult((await raw.response())!.body).errorCode).toBe(ErrorCode.OFFSET_OUT_OF_RANGE);
    raw.close();

    // kafkajs: fromBeginning starts at the earliest retained offset
    const kafka = kafkaClient(broker.brokers);
    const admin = kafka.admin();
    await admin.connect();
    expect(await admin.fetchTopicOffsets('bounded')).toEqual([
      { partition: 0, offset: '40', high: '40', low: String(p!.earliest) },
    ]);
    await admin.disconnect();
  });

  it('a kafkajs consumer whose committed offset fell below the earliest offset resets and continues', async () => {
    for (let i = 0; i < 40; i++) broker.produce('expired', [{ value: Buffer.alloc(1000, i) }]);
    const earliest = broker.partitionOffsets('expired')[0]!.earliest;
    expect(earliest).toBeGreaterThan(0);
    // commit offset 0 for the group (a "simple" commit: no members, generation -1)
    const raw = await RawClient.connect(broker.brokers[0]!);
    raw.request(ApiKey.OffsetCommit, 2, (w) =>
      w
        .string('g-expired')
        .int32(-1)
        .string('')
        .int64(-1)
        .array(['expired'], (w, t) =>
          w.string(t).array([0], (w, p) => w.int32(p).int64(0).nullableString(null)),
        ),
    );
    await raw.response();
    raw.close();
    expect(broker.committedOffsets('g-expired')).toEqual({ expired: { 0: 0 } });

    const consumer = kafkaClient(broker.brokers).consumer({ groupId: 'g-expired', ...fastConsumer });
    const offsets: number[] = [];
    await consumer.connect();
    await consumer.subscribe({ topic: 'expired', fromBeginning: true });
    await consumer.run({ eachMessage: async ({ message }) => void offsets.push(Number(message.offset)) });
    await waitFor(() => offsets.includes(39), 10_000, 'reset to the earliest offset');
    await consumer.disconnect();
    expect(offsets[0]).toBe(earliest);
  });

  it('per-topic retention via createTopic', () => {
    broker.createTopic('tiny', { retentionBytes: 100 });
    for (let i = 0; i < 5; i++) broker.produce('tiny', [{ value: `v${i}` }]);
    expect(broker.partitionOffsets('tiny')[0]).toMatchObject({ earliest: 4, latest: 5 });
  });
});
