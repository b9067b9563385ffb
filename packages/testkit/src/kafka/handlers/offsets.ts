/** OffsetCommit (key 8) v0–5 and OffsetFetch (key 9) v1–4: committed offsets per group. */
import { ApiKey } from '../api-keys.js';
import type { Reader } from '../codec.js';
import { ErrorCode } from '../error-codes.js';
import { coordinatorError } from './groups.js';
import { defineHandler } from './types.js';

// ---------------------------------------------------------------------------- OffsetCommit

interface CommitReq {
  groupId: string;
  generationId: number;
  memberId: string;
  topics: Array<{
    name: string;
    partitions: Array<{ partition: number; offset: number; metadata: string | null }>;
  }>;
}

interface CommitRes {
  topics: Array<{ name: string; partitions: Array<{ partition: number; errorCode: number }> }>;
}

function commitError(req: CommitReq, errorCode: number): CommitRes {
  return {
    topics: req.topics.map((t) => ({
      name: t.name,
      partitions: t.partitions.map((p) => ({ partition: p.partition, errorCode })),
    })),
  };
}

export const offsetCommitHandler = defineHandler<CommitReq, CommitRes>({
  apiKey: ApiKey.OffsetCommit,
  minVersion: 0,
  maxVersion: 5,
  decode(r, version) {
    const groupId = r.string();
    const generationId = version >= 1 ? r.int32() : -1;
    const memberId = version >= 1 ? r.string() : '';
    if (version >= 2 && version <= 4) r.int64(); // retention time
    const topics = r.array((r) => ({
      name: r.string(),
      partitions: r.array((r) => {
        const partition = r.int32();
        const offset = r.int64();
        if (version === 1) r.int64(); // commit timestamp
        return { partition, offset, metadata: r.nullableString() };
      }),
    }));
    return { groupId, generationId, memberId, topics };
  },
  handle(ctx, req) {
    const { cluster } = ctx;
    let err = coordinatorError(ctx, req.groupId);
    if (err === ErrorCode.NONE) err = cluster.groups.checkCommit(req.groupId, req.generationId, req.memberId);
    if (err !== ErrorCode.NONE) return commitError(req, err);
    return {
      topics: req.topics.map((t) => {
        const topic = cluster.topics.get(t.name);
        return {
          name: t.name,
          partitions: t.partitions.map((p) => ({
            partition: p.partition,
            errorCode:
              topic?.partitions[p.partition] === undefined
                ? ErrorCode.UNKNOWN_TOPIC_OR_PARTITION
                : cluster.groups.commitOffset(req.groupId, t.name, p.partition, p.offset, p.metadata),
          })),
        };
      }),
    };
  },
  errorResponse: (_ctx, req, errorCode) => commitError(req, errorCode),
  encode(w, res, version) {
    if (version >= 3) w.int32(0);
    w.array(res.topics, (w, t) => {
      w.string(t.name);
      w.array(t.partitions, (w, p) => w.int32(p.partition).int16(p.errorCode));
    });
  },
});

// ---------------------------------------------------------------------------- OffsetFetch

interface FetchReq {
  groupId: string;
  /** null = every committed offset of the group (v2+). */
  topics: Array<{ name: string; partitions: number[] }> | null;
}

interface FetchedOffset {
  partition: number;
  offset: number;
  metadata: string | null;
  errorCode: number;
}

interface FetchRes {
  errorCode: number;
  topics: Array<{ name: string; partitions: FetchedOffset[] }>;
}

export const offsetFetchHandler = defineHandler<FetchReq, FetchRes>({
  apiKey: ApiKey.OffsetFetch,
  minVersion: 1,
  maxVersion: 4,
  decode(r, version) {
    const groupId = r.string();
    const topic = (r: Reader) => ({ name: r.string(), partitions: r.array((r) => r.int32()) });
    const topics = version >= 2 ? r.nullableArray(topic) : r.array(topic);
    return { groupId, topics };
  },
  handle(ctx, req) {
    const { groups } = ctx.cluster;
    const err = coordinatorError(ctx, req.groupId);
    if (err !== ErrorCode.NONE) return offsetFetchError(req, err);
    if (req.topics === null) {
      return {
        errorCode: ErrorCode.NONE,
        topics: [...groups.committedOffsets(req.groupId)].map(([name, byPartition]) => ({
          name,
          partitions: [...byPartition].map(([partition, c]) => ({
            partition,
            offset: c.offset,
            metadata: c.metadata,
            errorCode: ErrorCode.NONE,
          })),
        })),
      };
    }
    return {
      errorCode: ErrorCode.NONE,
      topics: req.topics.map((t) => ({
        name: t.name,
        partitions: t.partitions.map((partition) => {
          const c = groups.committed(req.groupId, t.name, partition);
          return {
            partition,
            offset: c?.offset ?? -1,
            metadata: c?.metadata ?? '',
            errorCode: ErrorCode.NONE,
          };
        }),
      })),
    };
  },
  errorResponse: (_ctx, req, errorCode) => offsetFetchError(req, errorCode),
  encode(w, res, version) {
    if (version >= 3) w.int32(0);
    w.array(res.topics, (w, t) => {
      w.string(t.name);
      w.array(t.partitions, (w, p) =>
        w.int32(p.partition).int64(p.offset).nullableString(p.metadata).int16(p.errorCode),
      );
    });
    if (version >= 2) w.int16(res.errorCode);
  },
});

function offsetFetchError(req: FetchReq, errorCode: number): FetchRes {
  return {
    errorCode,
    topics: (req.topics ?? []).map((t) => ({
      name: t.name,
      partitions: t.partitions.map((partition) => ({ partition, offset: -1, metadata: '', errorCode })),
    })),
  };
}
