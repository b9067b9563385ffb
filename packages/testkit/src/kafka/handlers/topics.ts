/** CreateTopics (key 19) v0–3 and DeleteTopics (key 20) v0–1. */
import { ApiKey } from '../api-keys.js';
import { ErrorCode } from '../error-codes.js';
import { defineHandler } from './types.js';

interface CreateTopicReq {
  name: string;
  numPartitions: number;
  replicationFactor: number;
  assignments: Array<{ partition: number; brokers: number[] }>;
  configs: Array<{ name: string; value: string | null }>;
}

interface CreateReq {
  topics: CreateTopicReq[];
  validateOnly: boolean;
}

interface CreateRes {
  topics: Array<{ name: string; errorCode: number; message: string | null }>;
}

export const createTopicsHandler = defineHandler<CreateReq, CreateRes>({
  apiKey: ApiKey.CreateTopics,
  minVersion: 0,
  maxVersion: 3,
  decode(r, version) {
    const topics = r.array((r) => ({
      name: r.string(),
      numPartitions: r.int32(),
      replicationFactor: r.int16(),
      assignments: r.array((r) => ({ partition: r.int32(), brokers: r.array((r) => r.int32()) })),
      configs: r.array((r) => ({ name: r.string(), value: r.nullableString() })),
    }));
    r.int32(); // timeout
    const validateOnly = version >= 1 ? r.bool() : false;
    return { topics, validateOnly };
  },
  handle(ctx, req) {
    const { cluster } = ctx;
    const brokers = cluster.nodes.length;
    return {
      topics: req.topics.map((t) => {
        const fail = (errorCode: number, message: string) => ({ name: t.name, errorCode, message });
        if (t.replicationFactor !== -1 && (t.replicationFactor < 1 || t.replicationFactor > brokers)) {
          return fail(
            ErrorCode.INVALID_REPLICATION_FACTOR,
            `replication factor ${t.replicationFactor} must be between 1 and ${brokers}`,
          );
        }
        let partitions = t.numPartitions === -1 ? cluster.options.defaultPartitions : t.numPartitions;
        if (t.assignments.length > 0) {
          if (t.numPartitions !== -1) {
            return fail(ErrorCode.INVALID_REQUEST, 'both numPartitions and replica assignments were given');
          }
          partitions = t.assignments.length;
        }
        let retentionBytes = cluster.options.retentionBytesPerPartition;
        for (const c of t.configs) {
          if (c.name === 'retention.bytes' && c.value !== null) {
            const n = Number(c.value);
            if (!Number.isInteger(n))
              return fail(ErrorCode.INVALID_CONFIG, `invalid retention.bytes '${c.value}'`);
            if (n > 0) retentionBytes = n;
          }
        }
        if (req.validateOnly) {
          if (cluster.topics.has(t.name))
            return fail(ErrorCode.TOPIC_ALREADY_EXISTS, `topic '${t.name}' exists`);
          if (!(partitions >= 1))
            return fail(ErrorCode.INVALID_PARTITIONS, `invalid partition count ${partitions}`);
          return { name: t.name, errorCode: ErrorCode.NONE, message: null };
        }
        const created = cluster.createTopic(t.name, partitions, retentionBytes);
        return { name: t.name, errorCode: created.errorCode, message: created.message ?? null };
      }),
    };
  },
  errorResponse: (_ctx, req, errorCode) => ({
    topics: req.topics.map((t) => ({ name: t.name, errorCode, message: null })),
  }),
  encode(w, res, version) {
    if (version >= 2) w.int32(0);
    w.array(res.topics, (w, t) => {
      w.string(t.name).int16(t.errorCode);
      if (version >= 1) w.nullableString(t.errorCode === ErrorCode.NONE ? null : t.message);
    });
  },
});

interface DeleteRes {
  topics: Array<{ name: string; errorCode: number }>;
}

export const deleteTopicsHandler = defineHandler<{ names: string[] }, DeleteRes>({
  apiKey: ApiKey.DeleteTopics,
  minVersion: 0,
  maxVersion: 1,
  decode(r) {
    const names = r.array((r) => r.string());
    r.int32(); // timeout
    return { names };
  },
  handle: (ctx, req) => ({
    topics: req.names.map((name) => ({ name, errorCode: ctx.cluster.deleteTopic(name) })),
  }),
  errorResponse: (_ctx, req, errorCode) => ({ topics: req.names.map((name) => ({ name, errorCode })) }),
  encode(w, res, version) {
    if (version >= 1) w.int32(0);
    w.array(res.topics, (w, t) => w.string(t.name).int16(t.errorCode));
  },
});
