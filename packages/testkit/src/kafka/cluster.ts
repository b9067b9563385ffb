/**
 * Shared state of one test cluster: broker nodes, topics and their partition logs, leadership,
 * the group coordinator, producer ids and fault rules. Every broker node of the cluster serves
 * from this single in-memory state.
 */
import { ErrorCode } from './error-codes.js';
import { FaultInjector } from './faults.js';
import { GroupCoordinator } from './group-coordinator.js';
import type { ResolvedBrokerOptions } from './options.js';
import { PartitionLog } from './partition-log.js';

export interface NodeInfo {
  nodeId: number;
  host: string;
  port: number;
  running: boolean;
}

export class Topic {
  constructor(
    readonly name: string,
    readonly partitions: PartitionLog[],
  ) {}
}

const TOPIC_NAME = /^[a-zA-Z0-9._-]+$/;

export function validTopicName(name: string): boolean {
  return name.length > 0 && name.length <= 249 && name !== '.' && name !== '..' && TOPIC_NAME.test(name);
}

/** Java's String.hashCode, so coordinator placement is stable and familiar. */
function javaHash(s: string): number {
  let h = 0;
  for (let i = 0; i < s.length; i++) h = (Math.imul(31, h) + s.charCodeAt(i)) | 0;
  return h;
}

export class Cluster {
  readonly topics = new Map<string, Topic>();
  readonly nodes: NodeInfo[];
  readonly groups: GroupCoordinator;
  readonly faults = new FaultInjector();
  private nextProducerId = 1000;
  private readonly transactionalIds = new Map<string, { producerId: number; epoch: number }>();

  constructor(readonly options: ResolvedBrokerOptions) {
    this.nodes = options.ports.map((port, nodeId) => ({
      nodeId,
      host: options.advertisedHost,
      port,
      running: false,
    }));
    this.groups = new GroupCoordinator({
      minSessionTimeoutMs: options.minSessionTimeoutMs,
      maxSessionTimeoutMs: options.maxSessionTimeoutMs,
      initialRebalanceDelayMs: options.initialRebalanceDelayMs,
      log: (line) => this.log(line),
    });
  }

  log(line: string): void {
    try {
      this.options.log(line);
    } catch {
      // a throwing logger must not take the broker down
    }
  }

  node(nodeId: number): NodeInfo | undefined {
    return this.nodes[nodeId];
  }

  isRunning(nodeId: number): boolean {
    return this.nodes[nodeId]?.running === true;
  }

  runningNodes(): NodeInfo[] {
    return this.nodes.filter((n) => n.running);
  }

  /** Leader of a partition: partitions are spread round-robin over the brokers. */
  leaderOf(partition: number): number {
    return partition % this.nodes.length;
  }

  /** Coordinator of a consumer group (or transactional id): hash of the key over the brokers. */
  coordinatorOf(key: string): number {
    return Math.abs(javaHash(key)) % this.nodes.length;
  }

  createTopic(
    name: string,
    partitions: number = this.options.defaultPartitions,
    retentionBytes: number = this.options.retentionBytesPerPartition,
  ): { errorCode: number; message?: string; topic?: Topic } {
    if (!validTopicName(name)) {
      return { errorCode: ErrorCode.INVALID_TOPIC_EXCEPTION, message: `invalid topic name '${name}'` };
    }
    if (this.topics.has(name))
      return { errorCode: ErrorCode.TOPIC_ALREADY_EXISTS, message: `topic '${name}' exists` };
    if (!Number.isInteger(partitions) || partitions < 1) {
      return { errorCode: ErrorCode.INVALID_PARTITIONS, message: `invalid partition count ${partitions}` };
    }
    const topic = new Topic(
      name,
      Array.from({ length: partitions }, (_, p) => new PartitionLog(name, p, retentionBytes)),
    );
    this.topics.set(name, topic);
    this.log(`topic ${name} created with ${partitions} partition(s)`);
    return { errorCode: ErrorCode.NONE, topic };
  }

  /** Look a topic up, creating it when auto-creation is allowed. */
  getTopic(name: string, autoCreate: boolean): { errorCode: number; topic?: Topic } {
    const existing = this.topics.get(name);
    if (existing) return { errorCode: ErrorCode.NONE, topic: existing };
    if (!validTopicName(name)) return { errorCode: ErrorCode.INVALID_TOPIC_EXCEPTION };
    if (!autoCreate || !this.options.autoCreateTopics)
      return { errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION };
    return this.createTopic(name);
  }

  deleteTopic(name: string): number {
    const topic = this.topics.get(name);
    if (!topic) return ErrorCode.UNKNOWN_TOPIC_OR_PARTITION;
    this.topics.delete(name);
    this.groups.forgetTopic(name);
    for (const p of topic.partitions) p.notify();
    this.log(`topic ${name} deleted`);
    return ErrorCode.NONE;
  }

  /**
   * Resolve a partition for a data request (produce, fetch, list offsets) received by `nodeId`:
   * checks existence and leadership.
   */
  partitionFor(
    topic: Topic | undefined,
    partition: number,
    nodeId: number,
  ): { errorCode: number; log?: PartitionLog } {
    const log = topic?.partitions[partition];
    if (!log) return { errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION };
    if (this.leaderOf(partition) !== nodeId) return { errorCode: ErrorCode.NOT_LEADER_FOR_PARTITION };
    return { errorCode: ErrorCode.NONE, log };
  }

  /** InitProducerId: a fresh id for idempotent producers, an epoch bump for transactional ids. */
  initProducerId(transactionalId: string | null): { producerId: number; epoch: number } {
    if (transactionalId === null) return { producerId: this.nextProducerId++, epoch: 0 };
    const existing = this.transactionalIds.get(transactionalId);
    const next = existing
      ? { producerId: existing.producerId, epoch: existing.epoch + 1 }
      : { producerId: this.nextProducerId++, epoch: 0 };
    this.transactionalIds.set(transactionalId, next);
    return next;
  }
}
