/** ListOffsets (key 2) v1–3: earliest (-2), latest (-1) or first offset at/after a timestamp. */
import { ApiKey } from '../api-keys.js';
import { ErrorCode } from '../error-codes.js';
import { defineHandler } from './types.js';

const LATEST = -1;
const EARLIEST = -2;

interface Req {
  topics: Array<{ name: string; partitions: Array<{ partition: number; timestamp: number }> }>;
}

interface PartitionRes {
  partition: number;
  errorCode: number;
  timestamp: number;
  offset: number;
}

interface Res {
  topics: Array<{ name: string; partitions: PartitionRes[] }>;
}

export const listOffsetsHandler = defineHandler<Req, Res>({
  apiKey: ApiKey.ListOffsets,
  minVersion: 1,
  maxVersion: 3,
  decode(r, version) {
    r.int32(); // replica id
    if (version >= 2) r.int8(); // isolation level (no transactions: LSO == HW)
    return {
      topics: r.array((r) => ({
        name: r.string(),
        partitions: r.array((r) => ({ partition: r.int32(), timestamp: r.int64() })),
      })),
    };
  },
  handle(ctx, req) {
    const { cluster } = ctx;
    return {
      topics: req.topics.map((t) => {
        const topic = cluster.topics.get(t.name);
        return {
          name: t.name,
          partitions: t.partitions.map((p): PartitionRes => {
            const { errorCode, log } = cluster.partitionFor(topic, p.partition, ctx.nodeId);
            if (!log) return { partition: p.partition, errorCode, timestamp: -1, offset: -1 };
            if (p.timestamp === LATEST) {
              return {
                partition: p.partition,
                errorCode: ErrorCode.NONE,
                timestamp: -1,
                offset: log.highWatermark,
              };
            }
            if (p.timestamp === EARLIEST) {
              return {
                partition: p.partition,
                errorCode: ErrorCode.NONE,
                timestamp: -1,
                offset: log.logStartOffset,
              };
            }
            const found = log.offsetForTimestamp(p.timestamp);
            return {
              partition: p.partition,
              errorCode: ErrorCode.NONE,
              timestamp: found?.timestamp ?? -1,
              offset: found?.offset ?? -1,
            };
          }),
        };
      }),
    };
  },
  errorResponse(_ctx, req, errorCode) {
    return {
      topics: req.topics.map((t) => ({
        name: t.name,
        partitions: t.partitions.map((p) => ({
          partition: p.partition,
          errorCode,
          timestamp: -1,
          offset: -1,
        })),
      })),
    };
  },
  encode(w, res, version) {
    if (version >= 2) w.int32(0);
    w.array(res.topics, (w, t) => {
      w.string(t.name);
      w.array(t.partitions, (w, p) =>
        w.int32(p.partition).int16(p.errorCode).int64(p.timestamp).int64(p.offset),
      );
    });
  },
});
