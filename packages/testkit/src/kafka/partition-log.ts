/**
 * In-memory log of one partition: record batches kept as the exact bytes the producer sent
 * (with the baseOffset rewritten), byte-bounded retention, idempotent-producer sequence state
 * and long-poll waiters for fetch.
 */
import { ErrorCode } from './error-codes.js';
import { type BatchHeader, decodeBatchRecords, writeBaseOffset } from './record-batch.js';

export interface StoredBatch {
  baseOffset: number;
  lastOffset: number;
  maxTimestamp: number;
  buf: Buffer;
}

interface ProducerBatchInfo {
  firstSeq: number;
  lastSeq: number;
  baseOffset: number;
}

interface ProducerState {
  epoch: number;
  lastSeq: number;
  /** Last few appended batches, for duplicate detection (Kafka keeps 5). */
  recent: ProducerBatchInfo[];
}

export type AppendResult = { errorCode: number; baseOffset: number; duplicate?: boolean; reason?: string };

const MAX_RECENT_PRODUCER_BATCHES = 5;
const INT32_MAX = 0x7fffffff;

function nextSeq(seq: number, delta: number): number {
  // Sequence numbers wrap from INT32_MAX to 0.
  return (seq + delta) % (INT32_MAX + 1);
}

export class PartitionLog {
  /** Batches in offset order; entries before `head` have been dropped by retention. */
  private batches: StoredBatch[] = [];
  private head = 0;
  private producers = new Map<number, ProducerState>();
  private waiters = new Set<() => void>();
  /** Offset of the first retained record. */
  logStartOffset = 0;
  /** Next offset to assign; also the high watermark (every append is "fully replicated"). */
  nextOffset = 0;
  /** Bytes currently retained. */
  bytes = 0;

  constructor(
    readonly topic: string,
    readonly partition: number,
    public retentionBytes: number,
  ) {}

  get highWatermark(): number {
    return this.nextOffset;
  }

  get batchCount(): number {
    return this.batches.length - this.head;
  }

  /**
   * Append one validated batch from a produce request. `source` is the request's record set and
   * `h` the batch header parsed from it; with `copy` the bytes are copied instead of referenced.
   * Idempotent batches are sequence-checked; an exact duplicate of one of the last five batches is
   * acknowledged with its original offset.
   */
  append(source: Buffer, h: BatchHeader, copy = false): AppendResult {
    let producer: ProducerState | undefined;
    const lastSeq = h.producerId >= 0 ? nextSeq(h.baseSequence, h.lastOffsetDelta) : -1;
    if (h.producerId >= 0) {
      producer = this.producers.get(h.producerId);
      if (producer) {
        if (h.producerEpoch < producer.epoch) {
          return {
            errorCode: ErrorCode.INVALID_PRODUCER_EPOCH,
            baseOffset: -1,
            reason: `producer epoch ${h.producerEpoch} is older than ${producer.epoch}`,
          };
        }
        if (h.producerEpoch === producer.epoch) {
          const dup = producer.recent.find((b) => b.firstSeq === h.baseSequence && b.lastSeq === lastSeq);
          if (dup) return { errorCode: ErrorCode.NONE, baseOffset: dup.baseOffset, duplicate: true };
          if (h.baseSequence !== nextSeq(producer.lastSeq, 1)) {
            return {
              errorCode: ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER,
              baseOffset: -1,
              reason: `expected sequence ${nextSeq(producer.lastSeq, 1)}, got ${h.baseSequence}`,
            };
          }
        } else if (h.baseSequence !== 0) {
          return {
            errorCode: ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER,
            baseOffset: -1,
            reason: `first sequence of a new producer epoch must be 0, got ${h.baseSequence}`,
          };
        }
      } else if (h.baseSequence !== 0) {
        return {
          errorCode: ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER,
          baseOffset: -1,
          reason: `unknown producer ${h.producerId} must start at sequence 0, got ${h.baseSequence}`,
        };
      }
    }

    // The batch is stored as a view of the request buffer unless the caller asks for a copy (so a
    // small batch never pins a large request buffer in memory).
    let buf = source.subarray(h.start, h.start + h.size);
    if (copy) {
      const owned = Buffer.allocUnsafe(buf.length);
      buf.copy(owned);
      buf = owned;
    }
    const baseOffset = this.nextOffset;
    writeBaseOffset(buf, baseOffset);
    const lastOffset = baseOffset + h.lastOffsetDelta;
    this.batches.push({ baseOffset, lastOffset, maxTimestamp: h.maxTimestamp, buf });
    this.nextOffset = lastOffset + 1;
    this.bytes += buf.length;

    if (producer === undefined && h.producerId >= 0) {
      producer = { epoch: h.producerEpoch, lastSeq: -1, recent: [] };
      this.producers.set(h.producerId, producer);
    }
    if (producer) {
      if (producer.epoch !== h.producerEpoch) {
        producer.epoch = h.producerEpoch;
        producer.recent = [];
      }
      producer.lastSeq = lastSeq;
      producer.recent.push({ firstSeq: h.baseSequence, lastSeq, baseOffset });
      if (producer.recent.length > MAX_RECENT_PRODUCER_BATCHES) producer.recent.shift();
    }

    this.enforceRetention();
    this.notify();
    return { errorCode: ErrorCode.NONE, baseOffset };
  }

  /** Drop oldest batches while over the retention limit (the newest batch is always kept). */
  enforceRetention(): void {
    while (this.bytes > this.retentionBytes && this.batches.length - this.head > 1) {
      const dropped = this.batches[this.head]!;
      this.batches[this.head] = undefined as unknown as StoredBatch;
      this.head++;
      this.bytes -= dropped.buf.length;
      this.logStartOffset = this.batches[this.head]!.baseOffset;
    }
    if (this.head > 1024 && this.head * 2 > this.batches.length) {
      this.batches = this.batches.slice(this.head);
      this.head = 0;
    }
  }

  /** Index of the batch containing `offset` (or the first batch after it), or -1 if none. */
  private findBatch(offset: number): number {
    let lo = this.head;
    let hi = this.batches.length - 1;
    let found = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      const b = this.batches[mid]!;
      if (b.lastOffset < offset) lo = mid + 1;
      else {
        found = mid;
        hi = mid - 1;
      }
    }
    return found;
  }

  /**
   * Stored batches starting with the one containing `offset`, up to `maxBytes` in total. When
   * `allowOversized` is set the first batch is returned even if it alone exceeds `maxBytes`
   * (KIP-74), so a consumer can always make progress.
   */
  read(offset: number, maxBytes: number, allowOversized: boolean): { buffers: Buffer[]; bytes: number } {
    const buffers: Buffer[] = [];
    let bytes = 0;
    let i = this.findBatch(offset);
    if (i < 0) return { buffers, bytes };
    for (; i < this.batches.length; i++) {
      const b = this.batches[i]!;
      if (bytes + b.buf.length > maxBytes && !(bytes === 0 && allowOversized)) break;
      buffers.push(b.buf);
      bytes += b.buf.length;
      if (bytes >= maxBytes) break;
    }
    return { buffers, bytes };
  }

  /** First offset whose record timestamp is >= ts, with that timestamp; null if none. */
  offsetForTimestamp(ts: number): { offset: number; timestamp: number } | null {
    for (let i = this.head; i < this.batches.length; i++) {
      const b = this.batches[i]!;
      if (b.maxTimestamp < ts) continue;
      let records: ReturnType<typeof decodeBatchRecords>;
      try {
        records = decodeBatchRecords(b.buf);
      } catch {
        // Codec we cannot decode (snappy, lz4, zstd): answer with batch granularity.
        return { offset: b.baseOffset, timestamp: b.maxTimestamp };
      }
      for (const rec of records) {
        if (rec.timestamp >= ts && rec.offset >= this.logStartOffset)
          return { offset: rec.offset, timestamp: rec.timestamp };
      }
    }
    return null;
  }

  /** All retained batches (for inspection). */
  storedBatches(): StoredBatch[] {
    return this.batches.slice(this.head);
  }

  /** Register a one-shot callback fired on the next append (or when the log is deleted). */
  onAppend(cb: () => void): () => void {
    this.waiters.add(cb);
    return () => this.waiters.delete(cb);
  }

  notify(): void {
    if (this.waiters.size === 0) return;
    const list = [...this.waiters];
    this.waiters.clear();
    for (const cb of list) cb();
  }
}
