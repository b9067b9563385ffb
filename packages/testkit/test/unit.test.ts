import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { ProtocolParseError, Reader, Writer } from '../src/kafka/codec.js';
import { crc32c } from '../src/kafka/crc32c.js';
import { ErrorCode } from '../src/kafka/error-codes.js';
import { PartitionLog } from '../src/kafka/partition-log.js';
import {
  decodeBatchRecords,
  encodeRecordBatch,
  parseProducedBatches,
  readBatchHeader,
} from '../src/kafka/record-batch.js';

describe('crc32c', () => {
  it('matches the Castagnoli check value and a byte-at-a-time reference', () => {
    expect(crc32c(Buffer.from('123456789'))).toBe(0xe3069283);
    expect(crc32c(Buffer.alloc(0))).toBe(0);
    // reference implementation
    const ref = (b: Buffer): number => {
      let c = ~0;
      for (const byte of b) {
        c ^= byte;
        for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1;
      }
      return ~c >>> 0;
    };
    for (const len of [1, 7, 8, 9, 63, 64, 1000, 4099]) {
      const b = Buffer.from(Array.from({ length: len }, (_, i) => (i * 31 + len) & 0xff));
      expect(crc32c(b)).toBe(ref(b));
      expect(crc32c(b, 3, len)).toBe(ref(b.subarray(3)));
    }
    // every alignment of the input relative to its ArrayBuffer
    const big = Buffer.from(Array.from({ length: 300 }, (_, i) => (i * 7) & 0xff));
    for (let o = 0; o < 8; o++) expect(crc32c(big.subarray(o))).toBe(ref(big.subarray(o)));
    // a running checksum can be continued
    expect(crc32c(big, 100, 300, crc32c(big, 0, 100))).toBe(crc32c(big));
  });
});

describe('codec', () => {
  it('round-trips primitives, strings, bytes, arrays and varints', () => {
    const big = Buffer.alloc(5000, 7);
    const w = new Writer(8);
    w.int8(-3)
      .int16(-2)
      .int32(-1)
      .int64(2 ** 40 + 5)
      .bool(true);
    w.string('héllo').nullableString(null).bytes(Buffer.from('ab')).nullableBytes(null).raw(big);
    w.array([1, 2, 3], (w, n) => w.int32(n));
    for (const v of [0, -1, 1, 63, -64, 64, 300, -300, 2 ** 31 - 1, -(2 ** 31), 2 ** 40, -(2 ** 40)])
      w.varint(v);
    const r = new Reader(w.toBuffer());
    expect([r.int8(), r.int16(), r.int32(), r.int64(), r.bool()]).toEqual([-3, -2, -1, 2 ** 40 + 5, true]);
    expect(r.string()).toBe('héllo');
    expect(r.nullableString()).toBeNull();
    expect(r.bytes().toString()).toBe('ab');
    expect(r.nullableBytes()).toBeNull();
    expect(r.raw(5000).equals(big)).toBe(true);
    expect(r.array((r) => r.int32())).toEqual([1, 2, 3]);
    const decoded = [
      r.varint(),
      r.varint(),
      r.varint(),
      r.varint(),
      r.varint(),
      r.varint(),
      r.varint(),
      r.varint(),
    ];
    expect(decoded).toEqual([0, -1, 1, 63, -64, 64, 300, -300]);
    expect([r.varint(), r.varint(), r.varlong(), r.varlong()]).toEqual([
      2 ** 31 - 1,
      -(2 ** 31),
      2 ** 40,
      -(2 ** 40),
    ]);
    expect(r.remaining()).toBe(0);
  });

  it('rejects truncated input and absurd array lengths', () => {
    expect(() => new Reader(Buffer.from([0, 5, 65])).string()).toThrow(ProtocolParseError);
    expect(() => new Reader(Buffer.from([0x7f, 0xff, 0xff, 0xff])).array((r) => r.int8())).toThrow(
      ProtocolParseError,
    );
    expect(() => new Reader(Buffer.from([1])).int32()).toThrow(ProtocolParseError);
  });
});

describe('record batches', () => {
  const records = [
    { key: 'k1', value: 'v1', headers: { h1: 'x', h2: Buffer.from([1, 2]) }, timestamp: 1_700_000_000_000 },
    { key: null, value: null, timestamp: 1_700_000_000_005 },
    { value: Buffer.alloc(3000, 'z'), timestamp: 1_700_000_000_002 },
  ];

  it.each(['none', 'gzip'] as const)('encodes and decodes a %s batch', (compression) => {
    const batch = encodeRecordBatch(records, { compression, baseOffset: 40 });
    const parsed = parseProducedBatches(batch);
    expect(parsed.ok).toBe(true);
    const h = readBatchHeader(batch, 0);
    expect(h).toMatchObject({ baseOffset: 40, magic: 2, recordCount: 3, lastOffsetDelta: 2 });
    expect(h.maxTimestamp).toBe(1_700_000_000_005);
    const out = decodeBatchRecords(batch);
    expect(out.map((r) => r.offset)).toEqual([40, 41, 42]);
    expect(out[0]!.key?.toString()).toBe('k1');
    expect(out[0]!.headers).toEqual([
      { key: 'h1', value: Buffer.from('x') },
      { key: 'h2', value: Buffer.from([1, 2]) },
    ]);
    expect(out[1]!.key).toBeNull();
    expect(out[1]!.value).toBeNull();
    expect(out[1]!.timestamp).toBe(1_700_000_000_005);
    expect(out[2]!.value?.length).toBe(3000);
  });

  it('reports CRC mismatches, truncation, wrong magic and oversized batches', () => {
    const batch = encodeRecordBatch(records);
    const bad = Buffer.from(batch);
    bad[bad.length - 1]! ^= 0xff;
    expect(parseProducedBatches(bad)).toMatchObject({ ok: false, errorCode: ErrorCode.CORRUPT_MESSAGE });
    expect(parseProducedBatches(batch.subarray(0, batch.length - 1))).toMatchObject({
      ok: false,
      errorCode: ErrorCode.CORRUPT_MESSAGE,
    });
    const v1 = Buffer.from(batch);
    v1.writeInt8(1, 16);
    expect(parseProducedBatches(v1)).toMatchObject({
      ok: false,
      errorCode: ErrorCode.UNSUPPORTED_FOR_MESSAGE_FORMAT,
    });
    expect(parseProducedBatches(batch, { maxBatchBytes: 100 })).toMatchObject({
      ok: false,
      errorCode: ErrorCode.MESSAGE_TOO_LARGE,
    });
    expect(parseProducedBatches(bad, { verifyCrc: false }).ok).toBe(true);
    // the CRC does not cover the baseOffset: rewriting it keeps the batch valid
    const moved = Buffer.from(batch);
    moved.writeBigInt64BE(123n, 0);
    expect(parseProducedBatches(moved).ok).toBe(true);
  });

  it('decodes gzip batches produced by other encoders', () => {
    const plain = encodeRecordBatch([{ value: 'a' }, { value: 'b' }]);
    const body = plain.subarray(61);
    const gz = gzipSync(body);
    const batch = Buffer.alloc(61 + gz.length);
    plain.copy(batch, 0, 0, 61);
    gz.copy(batch, 61);
    batch.writeInt32BE(batch.length - 12, 8);
    batch.writeInt16BE(1, 21);
    batch.writeUInt32BE(crc32c(batch, 21), 17);
    expect(parseProducedBatches(batch).ok).toBe(true);
    expect(decodeBatchRecords(batch).map((r) => r.value?.toString())).toEqual(['a', 'b']);
  });
});

describe('partition log', () => {
  const append = (log: PartitionLog, n: number, opts: Parameters<typeof encodeRecordBatch>[1] = {}) => {
    const b = encodeRecordBatch(
      Array.from({ length: n }, (_, i) => ({ value: `v${i}` })),
      opts,
    );
    return log.append(b, readBatchHeader(b, 0));
  };

  it('assigns offsets, reads from the batch containing an offset and honours maxBytes', () => {
    const log = new PartitionLog('t', 0, 1 << 30);
    expect(append(log, 3).baseOffset).toBe(0);
    expect(append(log, 2).baseOffset).toBe(3);
    expect(log.highWatermark).toBe(5);
    const all = log.read(0, 1 << 20, true);
    expect(all.buffers.length).toBe(2);
    expect(log.read(4, 1 << 20, true).buffers.length).toBe(1);
    expect(log.read(5, 1 << 20, true).buffers.length).toBe(0);
    expect(log.read(0, 1, true).buffers.length).toBe(1); // first batch even if over the limit
    expect(log.read(0, 1, false).buffers.length).toBe(0);
  });

  it('drops the oldest batches beyond retention and advances the log start offset', () => {
    const log = new PartitionLog('t', 0, 300);
    for (let i = 0; i < 10; i++) append(log, 2);
    expect(log.highWatermark).toBe(20);
    expect(log.logStartOffset).toBeGreaterThan(0);
    expect(log.bytes).toBeLessThanOrEqual(300);
    const first = log.storedBatches()[0]!;
    expect(first.baseOffset).toBe(log.logStartOffset);
  });

  it('enforces idempotent producer sequences and acknowledges duplicates', () => {
    const log = new PartitionLog('t', 0, 1 << 30);
    const p = { producerId: 7, producerEpoch: 0 };
    expect(append(log, 2, { ...p, baseSequence: 1 }).errorCode).toBe(ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER);
    expect(append(log, 2, { ...p, baseSequence: 0 })).toEqual({ errorCode: 0, baseOffset: 0 });
    expect(append(log, 3, { ...p, baseSequence: 2 })).toEqual({ errorCode: 0, baseOffset: 2 });
    // retry of the first batch: acknowledged with its original offset, not appended again
    expect(append(log, 2, { ...p, baseSequence: 0 })).toEqual({
      errorCode: 0,
      baseOffset: 0,
      duplicate: true,
    });
    expect(log.highWatermark).toBe(5);
    expect(append(log, 1, { ...p, baseSequence: 9 }).errorCode).toBe(ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER);
    expect(append(log, 1, { ...p, producerEpoch: 1, baseSequence: 0 }).errorCode).toBe(0);
    expect(append(log, 1, { ...p, baseSequence: 5 }).errorCode).toBe(ErrorCode.INVALID_PRODUCER_EPOCH);
  });

  it('finds offsets by timestamp', () => {
    const log = new PartitionLog('t', 0, 1 << 30);
    const b = encodeRecordBatch([
      { value: 'a', timestamp: 1000 },
      { value: 'b', timestamp: 2000 },
      { value: 'c', timestamp: 3000 },
    ]);
    log.append(b, readBatchHeader(b, 0));
    expect(log.offsetForTimestamp(1500)).toEqual({ offset: 1, timestamp: 2000 });
    expect(log.offsetForTimestamp(0)).toEqual({ offset: 0, timestamp: 1000 });
    expect(log.offsetForTimestamp(5000)).toBeNull();
  });
});
