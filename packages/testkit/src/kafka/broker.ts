/**
 * startKafkaBroker(): an in-memory Kafka cluster speaking the wire protocol over real TCP
 * sockets, for tests and local development. Not a production broker.
 */
import { Cluster, type NodeInfo } from './cluster.js';
import type { FaultInjector } from './faults.js';
import type { GroupDescription, GroupState } from './group-coordinator.js';
import { type KafkaBrokerOptions, resolveOptions } from './options.js';
import {
  type CompressionName,
  decodeBatchRecords,
  encodeRecordBatch,
  type RecordHeader,
  type RecordInput,
  readBatchHeader,
} from './record-batch.js';
import { BrokerNode } from './server.js';

/** A record as stored in the broker, decoded for inspection. */
export interface KafkaRecord {
  topic: string;
  partition: number;
  offset: number;
  timestamp: number;
  key: Buffer | null;
  value: Buffer | null;
  headers: RecordHeader[];
}

export interface PartitionOffsets {
  partition: number;
  /** Node id of the partition leader. */
  leader: number;
  /** First retained offset (log start offset). */
  earliest: number;
  /** High watermark: the offset the next record will get. */
  latest: number;
  /** Bytes retained. */
  bytes: number;
}

export interface CreateTopicOptions {
  partitions?: number;
  /** Per-partition retention for this topic (default: the broker's retentionBytesPerPartition). */
  retentionBytes?: number;
}

export interface BrokerNodeInfo {
  nodeId: number;
  host: string;
  port: number;
  running: boolean;
  /** "host:port" */
  address: string;
}

export interface KafkaBroker {
  /** Bootstrap addresses of every broker node, e.g. ['127.0.0.1:40123']. */
  readonly brokers: string[];
  readonly clusterId: string;
  /** Broker nodes and whether they are running. */
  readonly nodes: BrokerNodeInfo[];
  /** Fault injection rules (errors, dropped connections, delays). */
  readonly faults: FaultInjector;

  /** Create a topic; throws if it exists or the name/partition count is invalid. */
  createTopic(name: string, opts?: CreateTopicOptions): void;
  /** Delete a topic and its committed offsets; throws if it does not exist. */
  deleteTopic(name: string): void;
  /** Names of all topics. */
  topics(): string[];
  /** Append records directly (no client needed); the topic is created if missing. */
  produce(
    topic: string,
    records: RecordInput[],
    opts?: { partition?: number; compression?: Extract<CompressionName, 'none' | 'gzip'> },
  ): { partition: number; baseOffset: number };

  /** All retained records of a topic (or one partition), decoded, ordered by partition and offset. */
  records(topic: string, opts?: { partition?: number }): KafkaRecord[];
  /** Resolve once a topic holds at least `count` records (across partitions). */
  waitForRecords(topic: string, count: number, timeoutMs?: number): Promise<KafkaRecord[]>;
  /** High watermark of each partition (index = partition); [] for an unknown topic. */
  highWatermarks(topic: string): number[];
  /** Earliest/latest offsets, leader and size of each partition. */
  partitionOffsets(topic: string): PartitionOffsets[];
  /** Committed offsets of a group: { topic: { partition: offset } }. */
  committedOffsets(groupId: string): Record<string, Record<number, number>>;
  /** State, generation, members (with assignments) of a group; undefined if unknown. */
  group(groupId: string): GroupDescription | undefined;
  /** All known groups. */
  groups(): Array<{ groupId: string; state: GroupState; protocolType: string }>;
  /** Node id of the broker coordinating a consumer group. */
  coordinator(groupId: string): number;

  /** Stop one broker: its listener and connections close; all data is kept. */
  stopBroker(nodeId: number): Promise<void>;
  /** Start a stopped broker again on the same port. */
  restartBroker(nodeId: number): Promise<void>;
  /** Close the client connections of one broker (or all brokers); listeners stay up. */
  dropConnections(nodeId?: number): void;
  /** Stop every broker and release all state. */
  close(): Promise<void>;
}

class KafkaTestBroker implements KafkaBroker {
  private closed = false;

  constructor(
    private readonly cluster: Cluster,
    private readonly brokerNodes: BrokerNode[],
  ) {}

  get brokers(): string[] {
    return this.cluster.nodes.map((n) => `${n.host}:${n.port}`);
  }

  get clusterId(): string {
    return this.cluster.options.clusterId;
  }

  get nodes(): BrokerNodeInfo[] {
    return this.cluster.nodes.map((n: NodeInfo) => ({ ...n, address: `${n.host}:${n.port}` }));
  }

  get faults(): FaultInjector {
    return this.cluster.faults;
  }

  createTopic(name: string, opts: CreateTopicOptions = {}): void {
    const res = this.cluster.createTopic(
      name,
      opts.partitions ?? this.cluster.options.defaultPartitions,
      opts.retentionBytes ?? this.cluster.options.retentionBytesPerPartition,
    );
    if (!res.topic)
      throw new Error(`createTopic(${name}) failed: ${res.message ?? `error ${res.errorCode}`}`);
  }

  deleteTopic(name: string): void {
    if (this.cluster.deleteTopic(name) !== 0) throw new Error(`deleteTopic(${name}): unknown topic`);
  }

  topics(): string[] {
    return [...this.cluster.topics.keys()];
  }

  produce(
    topic: string,
    records: RecordInput[],
    opts: { partition?: number; compression?: 'none' | 'gzip' } = {},
  ): { partition: number; baseOffset: number } {
    let t = this.cluster.topics.get(topic);
    if (!t) {
      this.createTopic(topic);
      t = this.cluster.topics.get(topic)!;
    }
    const partition = opts.partition ?? 0;
    const log = t.partitions[partition];
    if (!log) throw new Error(`produce: topic ${topic} has no partition ${partition}`);
    const batch = encodeRecordBatch(records, { compression: opts.compression ?? 'none' });
    const res = log.append(batch, readBatchHeader(batch, 0));
    return { partition, baseOffset: res.baseOffset };
  }

  records(topic: string, opts: { partition?: number } = {}): KafkaRecord[] {
    const t = this.cluster.topics.get(topic);
    if (!t) return [];
    const out: KafkaRecord[] = [];
    t.partitions.forEach((log, partition) => {
      if (opts.partition !== undefined && opts.partition !== partition) return;
      for (const b of log.storedBatches()) {
        for (const r of decodeBatchRecords(b.buf)) {
          if (r.offset >= log.logStartOffset) out.push({ topic, partition, ...r });
        }
      }
    });
    return out;
  }

  async waitForRecords(topic: string, count: number, timeoutMs = 10_000): Promise<KafkaRecord[]> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const t = this.cluster.topics.get(topic);
      const total = t ? t.partitions.reduce((n, p) => n + (p.highWatermark - p.logStartOffset), 0) : 0;
      if (total >= count) {
        const recs = this.records(topic);
        if (recs.length >= count) return recs;
      }
      if (Date.now() >= deadline) {
        throw new Error(`waitForRecords(${topic}): ${total} of ${count} record(s) after ${timeoutMs} ms`);
      }
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  highWatermarks(topic: string): number[] {
    return this.cluster.topics.get(topic)?.partitions.map((p) => p.highWatermark) ?? [];
  }

  partitionOffsets(topic: string): PartitionOffsets[] {
    return (
      this.cluster.topics.get(topic)?.partitions.map((p, partition) => ({
        partition,
        leader: this.cluster.leaderOf(partition),
        earliest: p.logStartOffset,
        latest: p.highWatermark,
        bytes: p.bytes,
      })) ?? []
    );
  }

  committedOffsets(groupId: string): Record<string, Record<number, number>> {
    const out: Record<string, Record<number, number>> = {};
    for (const [topic, byPartition] of this.cluster.groups.committedOffsets(groupId)) {
      const entry: Record<number, number> = {};
      for (const [partition, c] of byPartition) entry[partition] = c.offset;
      out[topic] = entry;
    }
    return out;
  }

  group(groupId: string): GroupDescription | undefined {
    return this.cluster.groups.describe(groupId);
  }

  groups(): Array<{ groupId: string; state: GroupState; protocolType: string }> {
    return this.cluster.groups.list();
  }

  coordinator(groupId: string): number {
    return this.cluster.coordinatorOf(groupId);
  }

  private nodeById(nodeId: number): BrokerNode {
    const node = this.brokerNodes[nodeId];
    if (!node)
      throw new RangeError(`no broker with node id ${nodeId} (cluster has ${this.brokerNodes.length})`);
    return node;
  }

  async stopBroker(nodeId: number): Promise<void> {
    await this.nodeById(nodeId).stop();
  }

  async restartBroker(nodeId: number): Promise<void> {
    if (this.closed) throw new Error('broker cluster is closed');
    await this.nodeById(nodeId).start();
  }

  dropConnections(nodeId?: number): void {
    if (nodeId === undefined) for (const n of this.brokerNodes) n.dropConnections();
    else this.nodeById(nodeId).dropConnections();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.cluster.faults.clear();
    await Promise.all(this.brokerNodes.map((n) => n.stop()));
    this.cluster.groups.close();
  }
}

/**
 * Start an in-memory Kafka cluster of `opts.brokers` nodes (default 1) listening on 127.0.0.1
 * (ephemeral ports by default). Point any Kafka client at `broker.brokers`.
 *
 * @example
 * const broker = await startKafkaBroker();
 * const kafka = new Kafka({ brokers: broker.brokers });
 * // ... produce / consume ...
 * await broker.close();
 */
export async function startKafkaBroker(opts: KafkaBrokerOptions = {}): Promise<KafkaBroker> {
  const cluster = new Cluster(resolveOptions(opts));
  for (const [name, partitions] of Object.entries(cluster.options.topics)) {
    const res = cluster.createTopic(name, partitions);
    if (!res.topic) throw new Error(`cannot create topic ${name}: ${res.message ?? res.errorCode}`);
  }
  const nodes = cluster.nodes.map((n) => new BrokerNode(cluster, n.nodeId));
  try {
    for (const n of nodes) await n.start();
  } catch (err) {
    await Promise.all(nodes.map((n) => n.stop()));
    cluster.groups.close();
    throw err;
  }
  return new KafkaTestBroker(cluster, nodes);
}
