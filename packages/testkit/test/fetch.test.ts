import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiKey } from '../src/kafka/api-keys.js';
import { type KafkaBroker, startKafkaBroker } from '../src/kafka/broker.js';
import { Reader } from '../src/kafka/codec.js';
import { ErrorCode } from '../src/kafka/error-codes.js';
import { decodeBatchRecords, readBatchHeader } from '../src/kafka/record-batch.js';
import { RawClient } from './helpers.js';

interface FetchArgs {
  maxWaitMs?: number;
  minBytes?: number;
  maxBytes?: number;
  partitions: Array<{ partition: number; offset: number; maxBytes?: number }>;
}

/** Fetch v11 request for topic `t`. */
function fetchRequest(raw: RawClient, topic: string, a: FetchArgs): number {
  return raw.request(ApiKey.Fetch, 11, (w) =>
    w
      .int32(-1)
      .int32(a.maxWaitMs ?? 0)
      .int32(a.minBytes ?? 1)
      .int32(a.maxBytes ?? 1 << 20)
      .int8(1)
      .int32(0)
      .int32(-1)
      .array([topic], (w, t) =>
        w.string(t).array(a.partitions, (w, p) =>
          w
            .int32(p.partition)
            .int32(-1)
            .int64(p.offset)
            .int64(-1)
            .int32(p.maxBytes ?? 1 << 20),
        ),
      )
      .int32(0)
      .string(''),
  );
}

interface PartitionData {
  partition: number;
  errorCode: number;
  highWatermark: number;
  batches: Buffer[];
}

function parseFetch(body: Buffer): PartitionData[] {
  const r = new Reader(body);
  r.int32(); // throttle
  expect(r.int16()).toBe(0);
  expect(r.int32()).toBe(0); // session id: no fetch sessions
  const out: PartitionData[] = [];
  const topics = r.int32();
  for (let t = 0; t < topics; t++) {
    r.string();
    const n = r.int32();
    for (let i = 0; i < n; i++) {
      const partition = r.int32();
      const errorCode = r.int16();
      const highWatermark = r.int64();
      r.int64(); // last stable offset
      r.int64(); // log start offset
      r.array((r) => [r.int64(), r.int64()]); // aborted transactions
      r.int32(); // preferred read replica
      const records = r.bytes();
      const batches: Buffer[] = [];
      for (let pos = 0; pos < records.length; ) {
        const size = readBatchHeader(records, pos).size;
        batches.push(records.subarray(pos, pos + size));
        pos += size;
      }
      out.push({ partition, errorCode, highWatermark, batches });
    }
  }
  return out;
}

describe('Fetch', () => {
  let broker: KafkaBroker;
  let raw: RawClient;

  beforeAll(async () => {
    broker = await startKafkaBroker();
    raw = await RawClient.connect(broker.brokers[0]!);
  });
  afterAll(async () => {
    raw.close();
    await broker.close();
  });

  it('long-polls until data arrives (MinBytes/MaxWait)', async () => {
    broker.createTopic('poll');
    const started = Date.now();
    fetchRequest(raw, 'poll', { maxWaitMs: 5000, minBytes: 1, partitions: [{ partition: 0, offset: 0 }] });
    setTimeout(() => broker.produce('poll', [{ value: 'wake up' }]), 150);
    const [p] = parseFetch((await raw.response(6000))!.body);
    const elapsed = Date.now() - started;
    expect(elapsed).toBeGreaterThanOrEqual(100);
    expect(elapsed).toBeLessThan(2000);
    expect(p!.highWatermark).toBe(1);
    expect(decodeBatchRecords(p!.batches[0]!).map((r) => r.value?.toString())).toEqual(['wake up']);
  });

  it('returns empty after MaxWait when nothing arrives', async () => {
    broker.createTopic('quiet');
    const started = Date.now();
    fetchRequest(raw, 'quiet', { maxWaitMs: 200, minBytes: 1, partitions: [{ partition: 0, offset: 0 }] });
    const [p] = parseFetch((await raw.response())!.body);
    expect(Date.now() - started).toBeGreaterThanOrEqual(180);
    expect(p).toMatchObject({ errorCode: ErrorCode.NONE, highWatermark: 0, batches: [] });
  });

  it('waits for MinBytes across several appends', async () => {
    broker.createTopic('min-bytes');
    fetchRequest(raw, 'min-bytes', {
      maxWaitMs: 3000,
      minBytes: 300,
      partitions: [{ partition: 0, offset: 0 }],
    });
    broker.produce('min-bytes', [{ value: 'small' }]);
    setTimeout(() => broker.produce('min-bytes', [{ value: Buffer.alloc(400) }]), 100);
    const [p] = parseFetch((await raw.response())!.body);
    expect(p!.batches).toHaveLength(2);
  });

  it('honours partition and request MaxBytes but always returns the first batch', async () => {
    for (let i = 0; i < 5; i++) broker.produce('limits', [{ value: Buffer.alloc(100, i) }]);
    fetchRequest(raw, 'limits', { partitions: [{ partition: 0, offset: 0, maxBytes: 10 }] });
    const [one] = parseFetch((await raw.response())!.body);
    expect(one!.batches).toHaveLength(1); // over the limit, but consumers must make progress
    const size = one!.batches[0]!.length;

    fetchRequest(raw, 'limits', { partitions: [{ partition: 0, offset: 0, maxBytes: size * 3 }] });
    expect(parseFetch((await raw.response())!.body)[0]!.batches).toHaveLength(3);

    fetchRequest(raw, 'limits', { maxBytes: size * 2, partitions: [{ partition: 0, offset: 0 }] });
    expect(parseFetch((await raw.response())!.body)[0]!.batches).toHaveLength(2);

    // fetching from the middle of the log starts at the batch holding that offset
    fetchRequest(raw, 'limits', { partitions: [{ partition: 0, offset: 3 }] });
    const fromThree = parseFetch((await raw.response())!.body)[0]!;
    expect(fromThree.batches.map((b) => readBatchHeader(b, 0).baseOffset)).toEqual([3, 4]);
  });

  it('reports unknown partitions and offsets out of range without waiting', async () => {
    broker.createTopic('errors', { partitions: 1 });
    const started = Date.now();
    fetchRequest(raw, 'errors', {
      maxWaitMs: 5000,
      partitions: [
        { partition: 0, offset: 7 },
        { partition: 3, offset: 0 },
      ],
    });
    const res = parseFetch((await raw.response())!.body);
    expect(Date.now() - started).toBeLessThan(1000);
    expect(res.map((p) => [p.partition, p.errorCode])).toEqual([
      [0, ErrorCode.OFFSET_OUT_OF_RANGE],
      [3, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION],
    ]);
  });
});
