/** Metadata (key 3) v0–6: brokers, cluster id, controller, topics with partition leaders. */
import { ApiKey } from '../api-keys.js';
import type { Cluster } from '../cluster.js';
import { ErrorCode } from '../error-codes.js';
import { defineHandler } from './types.js';

interface Req {
  /** null = all topics. */
  topics: string[] | null;
  allowAutoTopicCreation: boolean;
}

interface PartitionMeta {
  errorCode: number;
  partition: number;
  leader: number;
  replicas: number[];
  isr: number[];
  offline: number[];
}

interface TopicMeta {
  errorCode: number;
  name: string;
  partitions: PartitionMeta[];
}

interface Res {
  brokers: Array<{ nodeId: number; host: string; port: number }>;
  clusterId: string;
  controllerId: number;
  topics: TopicMeta[];
}

function describeTopic(cluster: Cluster, name: string, errorCode: number): TopicMeta {
  const topic = cluster.topics.get(name);
  if (!topic || errorCode !== ErrorCode.NONE) return { errorCode, name, partitions: [] };
  return {
    errorCode: ErrorCode.NONE,
    name,
    partitions: topic.partitions.map((_, p) => {
      const leader = cluster.leaderOf(p);
      const up = cluster.isRunning(leader);
      return {
        errorCode: up ? ErrorCode.NONE : ErrorCode.LEADER_NOT_AVAILABLE,
        partition: p,
        leader: up ? leader : -1,
        replicas: [leader],
        isr: up ? [leader] : [],
        offline: up ? [] : [leader],
      };
    }),
  };
}

function brokersOf(cluster: Cluster): Res['brokers'] {
  return cluster.runningNodes().map((n) => ({ nodeId: n.nodeId, host: n.host, port: n.port }));
}

export const metadataHandler = defineHandler<Req, Res>({
  apiKey: ApiKey.Metadata,
  minVersion: 0,
  maxVersion: 6,
  decode(r, version) {
    let topics: string[] | null =
      version === 0 ? r.array((r) => r.string()) : r.nullableArray((r) => r.string());
    if (version === 0 && topics?.length === 0) topics = null;
    const allowAutoTopicCreation = version >= 4 ? r.bool() : true;
    return { topics, allowAutoTopicCreation };
  },
  handle(ctx, req) {
    const { cluster } = ctx;
    let topics: TopicMeta[];
    if (req.topics === null) {
      topics = [...cluster.topics.keys()].map((name) => describeTopic(cluster, name, ErrorCode.NONE));
    } else {
      topics = req.topics.map((name) => {
        const { errorCode } = cluster.getTopic(name, req.allowAutoTopicCreation);
        return describeTopic(cluster, name, errorCode);
      });
    }
    const running = cluster.runningNodes();
    return {
      brokers: brokersOf(cluster),
      clusterId: cluster.options.clusterId,
      controllerId: running[0]?.nodeId ?? -1,
      topics,
    };
  },
  errorResponse(ctx, req, errorCode) {
    return {
      brokers: brokersOf(ctx.cluster),
      clusterId: ctx.cluster.options.clusterId,
      controllerId: ctx.cluster.runningNodes()[0]?.nodeId ?? -1,
      topics: (req.topics ?? []).map((name) => ({ errorCode, name, partitions: [] })),
    };
  },
  encode(w, res, version) {
    if (version >= 3) w.int32(0);
    w.array(res.brokers, (w, b) => {
      w.int32(b.nodeId).string(b.host).int32(b.port);
      if (version >= 1) w.nullableString(null);
    });
    if (version >= 2) w.nullableString(res.clusterId);
    if (version >= 1) w.int32(res.controllerId);
    w.array(res.topics, (w, t) => {
      w.int16(t.errorCode).string(t.name);
      if (version >= 1) w.bool(false);
      w.array(t.partitions, (w, p) => {
        w.int16(p.errorCode).int32(p.partition).int32(p.leader);
        w.array(p.replicas, (w, n) => w.int32(n));
        w.array(p.isr, (w, n) => w.int32(n));
        if (version >= 5) w.array(p.offline, (w, n) => w.int32(n));
      });
    });
  },
});
