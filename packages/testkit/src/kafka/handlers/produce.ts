/**
 * Produce (key 0) v3–7. Record batches are validated (magic v2, length, CRC-32C, idempotent
 * sequence) and stored as received with the baseOffset rewritten; they are never decoded, so
 * compressed batches are stored opaque.
 */
import { ApiKey } from '../api-keys.js';
import { ErrorCode, errorCodeName } from '../error-codes.js';
import { parseProducedBatches } from '../record-batch.js';
import { defineHandler, NO_RESPONSE } from './types.js';

interface PartitionData {
  partition: number;
  records: Buffer | null;
}

interface Req {
  transactionalId: string | null;
  acks: number;
  timeoutMs: number;
  topics: Array<{ name: string; partitions: PartitionData[] }>;
}

interface PartitionResult {
  partition: number;
  errorCode: number;
  baseOffset: number;
  logStartOffset: number;
}

interface Res {
  topics: Array<{ name: string; partitions: PartitionResult[] }>;
}

export const produceHandler = defineHandler<Req, Res>({
  apiKey: ApiKey.Produce,
  minVersion: 3,
  maxVersion: 7,
  decode(r) {
    return {
      transactionalId: r.nullableString(),
      acks: r.int16(),
      timeoutMs: r.int32(),
      topics: r.array((r) => ({
        name: r.string(),
        partitions: r.array((r) => ({ partition: r.int32(), records: r.nullableBytes() })),
      })),
    };
  },
  expectsResponse: (req) => req.acks !== 0,
  handle(ctx, req) {
    const { cluster } = ctx;
    const { options } = cluster;
    const validAcks = req.acks === -1 || req.acks === 0 || req.acks === 1;
    // Stored batches are views of the request buffer when the record sets make up most of it
    // (the usual case); otherwise they are copied so they do not pin a mostly unrelated buffer.
    let recordBytes = 0;
    let backing = 0;
    for (const t of req.topics) {
      for (const p of t.partitions) {
        if (!p.records) continue;
        recordBytes += p.records.length;
        backing = Math.max(backing, p.records.buffer.byteLength);
      }
    }
    const copy = backing > recordBytes * 2;
    const res: Res = {
      topics: req.topics.map((t) => {
        const lookup = validAcks
          ? cluster.getTopic(t.name, true)
          : { errorCode: ErrorCode.INVALID_REQUIRED_ACKS };
        return {
          name: t.name,
          partitions: t.partitions.map((p): PartitionResult => {
            const fail = (errorCode: number, reason?: string): PartitionResult => {
              if (reason)
                cluster.log(
                  `produce to ${t.name}[${p.partition}] rejected (${errorCodeName(errorCode)}): ${reason}`,
                );
              return { partition: p.partition, errorCode, baseOffset: -1, logStartOffset: -1 };
            };
            if (lookup.errorCode !== ErrorCode.NONE) return fail(lookup.errorCode);
            const { errorCode, log } = cluster.partitionFor(lookup.topic, p.partition, ctx.nodeId);
            if (!log) return fail(errorCode);
            if (p.records === null) return fail(ErrorCode.INVALID_RECORD, 'null record set');
            const parsed = parseProducedBatches(p.records, {
              verifyCrc: options.verifyCrc,
              maxBatchBytes: options.maxMessageBytes,
            });
            if (!parsed.ok) return fail(parsed.errorCode, parsed.reason);
            let baseOffset = -1;
            for (const batch of parsed.batches) {
              const appended = log.append(p.records, batch, copy);
              if (appended.errorCode !== ErrorCode.NONE) return fail(appended.errorCode, appended.reason);
              if (appended.duplicate) {
                cluster.log(
                  `produce to ${t.name}[${p.partition}]: duplicate batch of producer ${batch.producerId} (sequence ${batch.baseSequence}) acknowledged at offset ${appended.baseOffset}`,
                );
              }
              if (baseOffset < 0) baseOffset = appended.baseOffset;
            }
            return {
              partition: p.partition,
              errorCode: ErrorCode.NONE,
              baseOffset,
              logStartOffset: log.logStartOffset,
            };
          }),
        };
      }),
    };
    return req.acks === 0 ? NO_RESPONSE : res;
  },
  errorResponse(_ctx, req, errorCode) {
    return {
      topics: req.topics.map((t) => ({
        name: t.name,
        partitions: t.partitions.map((p) => ({
          partition: p.partition,
          errorCode,
          baseOffset: -1,
          logStartOffset: -1,
        })),
      })),
    };
  },
  encode(w, res, version) {
    w.array(res.topics, (w, t) => {
      w.string(t.name);
      w.array(t.partitions, (w, p) => {
        w.int32(p.partition).int16(p.errorCode).int64(p.baseOffset).int64(-1);
        if (version >= 5) w.int64(p.logStartOffset);
      });
    });
    w.int32(0);
  },
});
