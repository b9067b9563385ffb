/** Options of {@link startKafkaBroker} and their defaults. */

export interface KafkaBrokerSaslOptions {
  /** SASL mechanisms offered; only PLAIN is implemented. */
  mechanisms?: Array<'PLAIN'>;
  /** Accepted PLAIN credentials: username → password. */
  users: Record<string, string>;
}

export interface KafkaBrokerOptions {
  /** Number of brokers (listeners) in the cluster. Default 1. */
  brokers?: number;
  /** Interface to listen on. Default 127.0.0.1. */
  host?: string;
  /** Host name advertised in metadata. Default: `host`. */
  advertisedHost?: string;
  /**
   * Port of the first broker; broker i listens on port + i. Default 0 (ephemeral ports).
   * Use `ports` to choose each broker's port explicitly.
   */
  port?: number;
  /** Explicit port per broker (overrides `port`). */
  ports?: number[];
  /** Partitions of auto-created topics and of `createTopic` without `partitions`. Default 1. */
  defaultPartitions?: number;
  /** Create unknown topics on Metadata (when the client allows it) and Produce. Default true. */
  autoCreateTopics?: boolean;
  /** Topics to create at start-up: name → partition count. */
  topics?: Record<string, number>;
  /** Cluster id reported in Metadata v2+. Default 'fleet-kafka-testkit'. */
  clusterId?: string;
  /** Largest accepted request frame in bytes; bigger frames close the connection. Default 100 MiB. */
  maxFrameBytes?: number;
  /** Largest accepted record batch (Kafka's message.max.bytes). Default 1048588. */
  maxMessageBytes?: number;
  /** Bytes retained per partition; oldest batches are dropped beyond it. Default 256 MiB. */
  retentionBytesPerPartition?: number;
  /** Verify CRC-32C of produced batches. Default true. */
  verifyCrc?: boolean;
  /** Smallest accepted consumer group session timeout. Default 100 ms (Kafka: 6000). */
  minSessionTimeoutMs?: number;
  /** Largest accepted consumer group session timeout. Default 1800000 ms. */
  maxSessionTimeoutMs?: number;
  /**
   * Delay before the first rebalance of an empty group completes, so members starting together
   * land in one generation (Kafka's group.initial.rebalance.delay.ms). Default 0.
   */
  initialRebalanceDelayMs?: number;
  /** Require SASL/PLAIN authentication on every connection. */
  sasl?: KafkaBrokerSaslOptions;
  /** Receives one line per notable event (bad frames, unsupported versions, errors). Default: silent. */
  log?: (line: string) => void;
}

export interface ResolvedBrokerOptions {
  brokers: number;
  host: string;
  advertisedHost: string;
  ports: number[];
  defaultPartitions: number;
  autoCreateTopics: boolean;
  topics: Record<string, number>;
  clusterId: string;
  maxFrameBytes: number;
  maxMessageBytes: number;
  retentionBytesPerPartition: number;
  verifyCrc: boolean;
  minSessionTimeoutMs: number;
  maxSessionTimeoutMs: number;
  initialRebalanceDelayMs: number;
  sasl: { mechanisms: string[]; users: Record<string, string> } | null;
  log: (line: string) => void;
}

function positiveInt(name: string, v: number | undefined, dflt: number, min = 1): number {
  const n = v ?? dflt;
  if (!Number.isInteger(n) || n < min)
    throw new RangeError(`${name} must be an integer >= ${min}, got ${String(v)}`);
  return n;
}

export function resolveOptions(opts: KafkaBrokerOptions = {}): ResolvedBrokerOptions {
  const brokers = positiveInt('brokers', opts.brokers, 1);
  const basePort = positiveInt('port', opts.port, 0, 0);
  const ports = opts.ports ?? Array.from({ length: brokers }, (_, i) => (basePort === 0 ? 0 : basePort + i));
  if (ports.length !== brokers)
    throw new RangeError(`ports must list ${brokers} port(s), got ${ports.length}`);
  const host = opts.host ?? '127.0.0.1';
  return {
    brokers,
    host,
    advertisedHost: opts.advertisedHost ?? host,
    ports,
    defaultPartitions: positiveInt('defaultPartitions', opts.defaultPartitions, 1),
    autoCreateTopics: opts.autoCreateTopics ?? true,
    topics: opts.topics ?? {},
    clusterId: opts.clusterId ?? 'fleet-kafka-testkit',
    maxFrameBytes: positiveInt('maxFrameBytes', opts.maxFrameBytes, 100 * 1024 * 1024, 64),
    maxMessageBytes: positiveInt('maxMessageBytes', opts.maxMessageBytes, 1_048_588),
    retentionBytesPerPartition: positiveInt(
      'retentionBytesPerPartition',
      opts.retentionBytesPerPartition,
      256 * 1024 * 1024,
    ),
    verifyCrc: opts.verifyCrc ?? true,
    minSessionTimeoutMs: positiveInt('minSessionTimeoutMs', opts.minSessionTimeoutMs, 100),
    maxSessionTimeoutMs: positiveInt('maxSessionTimeoutMs', opts.maxSessionTimeoutMs, 1_800_000),
    initialRebalanceDelayMs: positiveInt('initialRebalanceDelayMs', opts.initialRebalanceDelayMs, 0, 0),
    sasl: opts.sasl ? { mechanisms: opts.sasl.mechanisms ?? ['PLAIN'], users: { ...opts.sasl.users } } : null,
    log: opts.log ?? (() => {}),
  };
}
