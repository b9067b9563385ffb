/**
 * Fetch (key 1) v4–11. Returns stored batches as-is (concatenated, never decoded), honouring
 * partition and request MaxBytes (the first batch is always returned so consumers progress),
 * and long-polls up to MaxWait until MinBytes are available. No fetch sessions: every request is
 * a full fetch and the response carries session id 0.
 */
import { ApiKey } from '../api-keys.js';
import { ErrorCode } from '../error-codes.js';
import type { PartitionLog } from '../partition-log.js';
import { defineHandler, type RequestContext } from './types.js';

interface PartitionReq {
  partition: number;
  fetchOffset: number;
  maxBytes: number;
}

interface Req {
  maxWaitMs: number;
  minBytes: number;
  maxBytes: number;
  isolationLevel: number;
  topics: Array<{ name: string; partitions: PartitionReq[] }>;
}

interface PartitionRes {
  partition: number;
  errorCode: number;
  highWatermark: number;
  logStartOffset: number;
  records: Buffer[];
  recordsBytes: number;
}

interface Res {
  topics: Array<{ name: string; partitions: PartitionRes[] }>;
}

function emptyPartition(partition: number, errorCode: number): PartitionRes {
  return { partition, errorCode, highWatermark: -1, logStartOffset: -1, records: [], recordsBytes: 0 };
}

function build(
  ctx: RequestContext,
  req: Req,
): { res: Res; bytes: number; error: boolean; logs: PartitionLog[] } {
  const { cluster } = ctx;
  let remaining = req.maxBytes;
  let bytes = 0;
  let error = false;
  const logs: PartitionLog[] = [];
  const topics = req.topics.map((t) => {
    const topic = cluster.topics.get(t.name);
    return {
      name: t.name,
      partitions: t.partitions.map((p): PartitionRes => {
        const found = cluster.partitionFor(topic, p.partition, ctx.nodeId);
        const log = found.log;
        if (!log) {
          error = true;
          return emptyPartition(p.partition, found.errorCode);
        }
        if (p.fetchOffset < log.logStartOffset || p.fetchOffset > log.highWatermark) {
          error = true;
          return {
            ...emptyPartition(p.partition, ErrorCode.OFFSET_OUT_OF_RANGE),
            highWatermark: log.highWatermark,
            logStartOffset: log.logStartOffset,
          };
        }
        logs.push(log);
        const limit = Math.min(p.maxBytes, remaining);
        const data =
          limit > 0 || bytes === 0 ? log.read(p.fetchOffset, Math.max(limit, 0), bytes === 0) : null;
        const recordsBytes = data?.bytes ?? 0;
        remaining -= recordsBytes;
        bytes += recordsBytes;
        return {
          partition: p.partition,
          errorCode: ErrorCode.NONE,
          highWatermark: log.highWatermark,
          logStartOffset: log.logStartOffset,
          records: data?.buffers ?? [],
          recordsBytes,
        };
      }),
    };
  });
  return { res: { topics }, bytes, error, logs };
}

function waitForAppend(logs: PartitionLog[], ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    let done = false;
    const unsubscribe: Array<() => void> = [];
    const finish = (): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      for (const u of unsubscribe) u();
      signal.removeEventListener('abort', finish);
      resolve();
    };
    const timer = setTimeout(finish, ms);
    for (const log of logs) unsubscribe.push(log.onAppend(finish));
    signal.addEventListener('abort', finish, { once: true });
  });
}

export const fetchHandler = defineHandler<Req, Res>({
  apiKey: ApiKey.Fetch,
  minVersion: 4,
  maxVersion: 11,
  decode(r, version) {
    r.int32(); // replica id
    const maxWaitMs = r.int32();
    const minBytes = r.int32();
    const maxBytes = r.int32();
    const isolationLevel = r.int8();
    if (version >= 7) {
      r.int32(); // session id
      r.int32(); // session epoch
    }
    const topics = r.array((r) => ({
      name: r.string(),
      partitions: r.array((r) => {
        const partition = r.int32();
        if (version >= 9) r.int32(); // current leader epoch
        const fetchOffset = r.int64();
        if (version >= 5) r.int64(); // log start offset (followers only)
        return { partition, fetchOffset, maxBytes: r.int32() };
      }),
    }));
    if (version >= 7) r.array((r) => ({ name: r.string(), partitions: r.array((r) => r.int32()) }));
    if (version >= 11) r.string(); // rack id
    return { maxWaitMs, minBytes, maxBytes, isolationLevel, topics };
  },
  async handle(ctx, req) {
    const deadline = Date.now() + Math.max(0, req.maxWaitMs);
    for (;;) {
      const { res, bytes, error, logs } = build(ctx, req);
      const left = deadline - Date.now();
      if (bytes >= req.minBytes || error || left <= 0 || logs.length === 0 || ctx.signal.aborted) return res;
      await waitForAppend(logs, left, ctx.signal);
    }
  },
  errorResponse(_ctx, req, errorCode) {
    return {
      topics: req.topics.map((t) => ({
        name: t.name,
        partitions: t.partitions.map((p) => emptyPartition(p.partition, errorCode)),
      })),
    };
  },
  encode(w, res, version) {
    w.int32(0); // throttle time
    if (version >= 7) w.int16(ErrorCode.NONE).int32(0); // top-level error, session id
    w.array(res.topics, (w, t) => {
      w.string(t.name);
      w.array(t.partitions, (w, p) => {
        w.int32(p.partition).int16(p.errorCode).int64(p.highWatermark).int64(p.highWatermark);
        if (version >= 5) w.int64(p.logStartOffset);
        w.int32(0); // aborted transactions
        if (version >= 11) w.int32(-1); // preferred read replica
        w.int32(p.recordsBytes);
        for (const b of p.records) w.raw(b);
      });
    });
  },
});
