/**
 * RecordBatch (magic v2) helpers: header parsing and validation for the produce path, record
 * decoding for inspection helpers, and an encoder for tests and seeding.
 *
 * Layout (byte offsets from the start of the batch):
 *   0 baseOffset int64 | 8 batchLength int32 | 12 partitionLeaderEpoch int32 | 16 magic int8
 *   17 crc uint32 (CRC-32C of bytes 21..end) | 21 attributes int16 | 23 lastOffsetDelta int32
 *   27 firstTimestamp int64 | 35 maxTimestamp int64 | 43 producerId int64 | 51 producerEpoch int16
 *   53 baseSequence int32 | 57 recordCount int32 | 61 records...
 */
import { gunzipSync, gzipSync } from 'node:zlib';
import { Reader, Writer } from './codec.js';
import { crc32c } from './crc32c.js';
import { ErrorCode } from './error-codes.js';

export const BATCH_HEADER_SIZE = 61;
/** Bytes of the batch that precede (and are not covered by) batchLength: baseOffset + batchLength. */
export const BATCH_LOG_OVERHEAD = 12;
const CRC_START = 21;
const TWO_POW_32 = 2 ** 32;

export const Compression = { none: 0, gzip: 1, snappy: 2, lz4: 3, zstd: 4 } as const;
export type CompressionName = keyof typeof Compression;

const ATTR_COMPRESSION_MASK = 0x07;
const ATTR_TRANSACTIONAL = 0x10;
const ATTR_CONTROL = 0x20;

export interface BatchHeader {
  /** Byte position of the batch in the buffer it was parsed from. */
  start: number;
  /** Total size in bytes including baseOffset and batchLength. */
  size: number;
  baseOffset: number;
  magic: number;
  crc: number;
  attributes: number;
  lastOffsetDelta: number;
  firstTimestamp: number;
  maxTimestamp: number;
  producerId: number;
  producerEpoch: number;
  baseSequence: number;
  recordCount: number;
}

function readInt64(buf: Buffer, at: number): number {
  return buf.readInt32BE(at) * TWO_POW_32 + buf.readUInt32BE(at + 4);
}

/** Overwrite the int64 baseOffset field (offsets are < 2^53). Not covered by the CRC. */
export function writeBaseOffset(buf: Buffer, offset: number): void {
  buf.writeInt32BE(Math.floor(offset / TWO_POW_32), 0);
  buf.writeUInt32BE(offset % TWO_POW_32, 4);
}

export function readBatchHeader(buf: Buffer, start: number): BatchHeader {
  return {
    start,
    size: BATCH_LOG_OVERHEAD + buf.readInt32BE(start + 8),
    baseOffset: readInt64(buf, start),
    magic: buf.readInt8(start + 16),
    crc: buf.readUInt32BE(start + 17),
    attributes: buf.readInt16BE(start + 21),
    lastOffsetDelta: buf.readInt32BE(start + 23),
    firstTimestamp: readInt64(buf, start + 27),
    maxTimestamp: readInt64(buf, start + 35),
    producerId: readInt64(buf, start + 43),
    producerEpoch: buf.readInt16BE(start + 51),
    baseSequence: buf.readInt32BE(start + 53),
    recordCount: buf.readInt32BE(start + 57),
  };
}

export type ParseBatchesResult =
  | { ok: true; batches: BatchHeader[] }
  | { ok: false; errorCode: number; reason: string };

export interface ParseBatchesOptions {
  verifyCrc?: boolean;
  maxBatchBytes?: number;
}

/**
 * Split and validate the record set of a produce request. Every batch must be magic v2, complete,
 * have a matching CRC-32C and a consistent record count. Nothing is decoded beyond the header.
 */
export function parseProducedBatches(records: Buffer, opts: ParseBatchesOptions = {}): ParseBatchesResult {
  const batches: BatchHeader[] = [];
  let pos = 0;
  if (records.length === 0)
    return { ok: false, errorCode: ErrorCode.INVALID_RECORD, reason: 'empty record set' };
  while (pos < records.length) {
    const left = records.length - pos;
    if (left < 17)
      return { ok: false, errorCode: ErrorCode.CORRUPT_MESSAGE, reason: 'truncated batch header' };
    const magic = records.readInt8(pos + 16);
    if (magic !== 2) {
      return {
        ok: false,
        errorCode: ErrorCode.UNSUPPORTED_FOR_MESSAGE_FORMAT,
        reason: `message format magic ${magic} is not supported (only v2 record batches)`,
      };
    }
    if (left < BATCH_HEADER_SIZE) {
      return { ok: false, errorCode: ErrorCode.CORRUPT_MESSAGE, reason: 'truncated batch header' };
    }
    const batchLength = records.readInt32BE(pos + 8);
    const size = BATCH_LOG_OVERHEAD + batchLength;
    if (batchLength < BATCH_HEADER_SIZE - BATCH_LOG_OVERHEAD || size > left) {
      return {
        ok: false,
        errorCode: ErrorCode.CORRUPT_MESSAGE,
        reason: `invalid batch length ${batchLength}`,
      };
    }
    if (opts.maxBatchBytes !== undefined && size > opts.maxBatchBytes) {
      return {
        ok: false,
        errorCode: ErrorCode.MESSAGE_TOO_LARGE,
        reason: `batch of ${size} bytes exceeds the limit of ${opts.maxBatchBytes}`,
      };
    }
    const header = readBatchHeader(records, pos);
    if (opts.verifyCrc !== false) {
      const actual = crc32c(records, pos + CRC_START, pos + size);
      if (actual !== header.crc) {
        return {
          ok: false,
          errorCode: ErrorCode.CORRUPT_MESSAGE,
          reason: `CRC mismatch: batch says ${header.crc.toString(16)}, computed ${actual.toString(16)}`,
        };
      }
    }
    if (header.lastOffsetDelta < 0 || header.recordCount !== header.lastOffsetDelta + 1) {
      return {
        ok: false,
        errorCode: ErrorCode.INVALID_RECORD,
        reason: `record count ${header.recordCount} does not match lastOffsetDelta ${header.lastOffsetDelta}`,
      };
    }
    if ((header.attributes & ATTR_CONTROL) !== 0) {
      return {
        ok: false,
        errorCode: ErrorCode.INVALID_RECORD,
        reason: 'clients may not produce control batches',
      };
    }
    if ((header.attributes & ATTR_TRANSACTIONAL) !== 0) {
      return { ok: false, errorCode: ErrorCode.INVALID_TXN_STATE, reason: 'transactions are not supported' };
    }
    batches.push(header);
    pos += size;
  }
  return { ok: true, batches };
}

export interface RecordHeader {
  key: string;
  value: Buffer | null;
}

/** A record decoded from a stored batch. */
export interface DecodedRecord {
  offset: number;
  timestamp: number;
  key: Buffer | null;
  value: Buffer | null;
  headers: RecordHeader[];
}

/** Decode all records of one batch (uncompressed or gzip; other codecs throw). */
export function decodeBatchRecords(batch: Buffer): DecodedRecord[] {
  const h = readBatchHeader(batch, 0);
  const codec = h.attributes & ATTR_COMPRESSION_MASK;
  let body: Buffer = batch.subarray(BATCH_HEADER_SIZE, h.size);
  if (codec === Compression.gzip) body = gunzipSync(body);
  else if (codec !== Compression.none) {
    const name = Object.entries(Compression).find(([, v]) => v === codec)?.[0] ?? String(codec);
    throw new Error(
      `cannot decode ${name}-compressed batch (only none and gzip are supported for inspection)`,
    );
  }
  const r = new Reader(body);
  const out: DecodedRecord[] = [];
  for (let i = 0; i < h.recordCount; i++) {
    const len = r.varint();
    const end = r.pos + len;
    r.int8(); // attributes
    const timestampDelta = r.varlong();
    const offsetDelta = r.varint();
    const keyLen = r.varint();
    const key = keyLen < 0 ? null : Buffer.from(r.raw(keyLen));
    const valueLen = r.varint();
    const value = valueLen < 0 ? null : Buffer.from(r.raw(valueLen));
    const headerCount = r.varint();
    const headers: RecordHeader[] = [];
    for (let j = 0; j < headerCount; j++) {
      const hk = r.varint();
      const hkey = r.raw(hk).toString('utf8');
      const hv = r.varint();
      headers.push({ key: hkey, value: hv < 0 ? null : Buffer.from(r.raw(hv)) });
    }
    r.pos = end;
    out.push({
      offset: h.baseOffset + offsetDelta,
      timestamp: h.firstTimestamp + timestampDelta,
      key,
      value,
      headers,
    });
  }
  return out;
}

export interface RecordInput {
  key?: Buffer | string | null;
  value: Buffer | string | null;
  headers?: Record<string, Buffer | string> | RecordHeader[];
  timestamp?: number;
}

export interface EncodeBatchOptions {
  baseOffset?: number;
  compression?: 'none' | 'gzip';
  producerId?: number;
  producerEpoch?: number;
  baseSequence?: number;
  partitionLeaderEpoch?: number;
}

function toBuf(v: Buffer | string | null | undefined): Buffer | null {
  if (v === null || v === undefined) return null;
  return typeof v === 'string' ? Buffer.from(v) : v;
}

/** Encode records into a magic v2 record batch with a valid CRC-32C. */
export function encodeRecordBatch(records: readonly RecordInput[], opts: EncodeBatchOptions = {}): Buffer {
  if (records.length === 0) throw new Error('a record batch needs at least one record');
  const now = Date.now();
  const timestamps = records.map((r) => r.timestamp ?? now);
  const firstTimestamp = Math.min(...timestamps);
  const maxTimestamp = Math.max(...timestamps);
  const body = new Writer(1024);
  records.forEach((rec, i) => {
    const w = new Writer(256);
    w.int8(0);
    w.varint(timestamps[i]! - firstTimestamp);
    w.varint(i);
    const key = toBuf(rec.key);
    if (key === null) w.varint(-1);
    else w.varint(key.length).raw(key);
    const value = toBuf(rec.value);
    if (value === null) w.varint(-1);
    else w.varint(value.length).raw(value);
    const headers: RecordHeader[] = Array.isArray(rec.headers)
      ? rec.headers
      : Object.entries(rec.headers ?? {}).map(([k, v]) => ({ key: k, value: toBuf(v) }));
    w.varint(headers.length);
    for (const hd of headers) {
      const hk = Buffer.from(hd.key);
      w.varint(hk.length).raw(hk);
      if (hd.value === null) w.varint(-1);
      else w.varint(hd.value.length).raw(hd.value);
    }
    const rb = w.toBuffer();
    body.varint(rb.length).raw(rb);
  });
  let recordsBuf = body.toBuffer();
  const compression = opts.compression ?? 'none';
  if (compression === 'gzip') recordsBuf = gzipSync(recordsBuf);

  const size = BATCH_HEADER_SIZE + recordsBuf.length;
  const out = Buffer.alloc(size);
  writeBaseOffset(out, opts.baseOffset ?? 0);
  out.writeInt32BE(size - BATCH_LOG_OVERHEAD, 8);
  out.writeInt32BE(opts.partitionLeaderEpoch ?? 0, 12);
  out.writeInt8(2, 16);
  out.writeInt16BE(Compression[compression], 21);
  out.writeInt32BE(records.length - 1, 23);
  out.writeBigInt64BE(BigInt(firstTimestamp), 27);
  out.writeBigInt64BE(BigInt(maxTimestamp), 35);
  out.writeBigInt64BE(BigInt(opts.producerId ?? -1), 43);
  out.writeInt16BE(opts.producerEpoch ?? -1, 51);
  out.writeInt32BE(opts.baseSequence ?? -1, 53);
  out.writeInt32BE(records.length, 57);
  recordsBuf.copy(out, BATCH_HEADER_SIZE);
  out.writeUInt32BE(crc32c(out, CRC_START, size), 17);
  return out;
}
