import type convict from 'convict';

export const SASL_MECHANISMS = ['', 'plain', 'scram-sha-256', 'scram-sha-512'] as const;
export type SaslMechanism = (typeof SASL_MECHANISMS)[number];
export const COMPRESSIONS = ['none', 'gzip'] as const;
export type Compression = (typeof COMPRESSIONS)[number];

/** The `kafka` group of the chassis configuration. */
export interface KafkaConfig {
  brokers: string[];
  clientId: string;
  connectionTimeoutMs: number;
  requestTimeoutMs: number;
  clientRetry: { retries: number; initialMs: number; maxMs: number };
  sasl: { mechanism: SaslMechanism; username: string; password: string };
  tls: { enabled: boolean; caFile: string; certFile: string; keyFile: string; rejectUnauthorized: boolean };
  consumer: {
    groupId: string;
    sessionTimeoutMs: number;
    heartbeatIntervalMs: number;
    rebalanceTimeoutMs: number;
    maxBytes: number;
    maxBytesPerPartition: number;
    maxWaitTimeMs: number;
    maxBatchSize: number;
    maxInFlight: number;
    concurrency: number;
    commitIntervalMs: number;
    drainTimeoutMs: number;
    fromBeginning: boolean;
  };
  producer: { compression: Compression };
  retry: { attempts: number; baseMs: number; maxMs: number };
  dlq: { suffix: string; topic: string };
}

/** Keys that must be at least 1 (checked when the Kafka module starts, reported as ConfigError). */
export const POSITIVE_KEYS = [
  'consumer.maxBytes',
  'consumer.maxBytesPerPartition',
  'consumer.maxBatchSize',
  'consumer.maxInFlight',
  'consumer.concurrency',
  'retry.attempts',
] as const;

export const kafkaSchema: convict.Schema<KafkaConfig> = {
  brokers: {
    doc: 'Bootstrap brokers, host:port comma list (empty: Kafka is not configured)',
    format: Array,
    default: [],
    env: 'KAFKA_BROKERS',
  },
  clientId: {
    doc: 'Kafka client id (empty: the service name)',
    format: String,
    default: '',
    env: 'KAFKA_CLIENT_ID',
  },
  connectionTimeoutMs: {
    doc: 'Timeout of one broker connection attempt',
    format: 'nat',
    default: 3000,
    env: 'KAFKA_CONNECTION_TIMEOUT_MS',
  },
  requestTimeoutMs: {
    doc: 'Timeout of one Kafka request',
    format: 'nat',
    default: 30_000,
    env: 'KAFKA_REQUEST_TIMEOUT_MS',
  },
  clientRetry: {
    retries: {
      doc: 'Retries of a failed Kafka request or connection by the client before it gives up (consumers then restart)',
      format: 'nat',
      default: 5,
      env: 'KAFKA_CLIENT_RETRIES',
    },
    initialMs: {
      doc: 'First client retry delay',
      format: 'nat',
      default: 300,
      env: 'KAFKA_CLIENT_RETRY_INITIAL_MS',
    },
    maxMs: {
      doc: 'Largest client retry delay',
      format: 'nat',
      default: 30_000,
      env: 'KAFKA_CLIENT_RETRY_MAX_MS',
    },
  },
  sasl: {
    mechanism: {
      doc: 'SASL mechanism (empty: no SASL)',
      format: [...SASL_MECHANISMS],
      default: '',
      env: 'KAFKA_SASL_MECHANISM',
    },
    username: { doc: 'SASL username', format: String, default: '', env: 'KAFKA_SASL_USERNAME' },
    password: {
      doc: 'SASL password',
      format: String,
      default: '',
      env: 'KAFKA_SASL_PASSWORD',
      sensitive: true,
    },
  },
  tls: {
    enabled: {
      doc: 'Connect to the brokers over TLS',
      format: Boolean,
      default: false,
      env: 'KAFKA_TLS_ENABLED',
    },
    caFile: {
      doc: 'PEM file of the CA(s) to trust (empty: the system CAs)',
      format: String,
      default: '',
      env: 'KAFKA_TLS_CA_FILE',
    },
    certFile: {
      doc: 'PEM client certificate for mutual TLS',
      format: String,
      default: '',
      env: 'KAFKA_TLS_CERT_FILE',
    },
    keyFile: {
      doc: 'PEM private key of the client certificate',
      format: String,
      default: '',
      env: 'KAFKA_TLS_KEY_FILE',
    },
    rejectUnauthorized: {
      doc: 'Verify the broker certificates',
      format: Boolean,
      default: true,
      env: 'KAFKA_TLS_REJECT_UNAUTHORIZED',
    },
  },
  consumer: {
    groupId: {
      doc: 'Default consumer group id (empty: the service name)',
      format: String,
      default: '',
      env: 'KAFKA_GROUP_ID',
    },
    sessionTimeoutMs: {
      doc: 'Consumer group session timeout',
      format: 'nat',
      default: 30_000,
      env: 'KAFKA_SESSION_TIMEOUT_MS',
    },
    heartbeatIntervalMs: {
      doc: 'Consumer group heartbeat interval (about a third of the session timeout)',
      format: 'nat',
      default: 3000,
      env: 'KAFKA_HEARTBEAT_INTERVAL_MS',
    },
    rebalanceTimeoutMs: {
      doc: 'How long the group waits for members to rejoin during a rebalance',
      format: 'nat',
      default: 60_000,
      env: 'KAFKA_REBALANCE_TIMEOUT_MS',
    },
    maxBytes: {
      doc: 'Largest fetch response, bytes',
      format: 'nat',
      default: 10_485_760,
      env: 'KAFKA_FETCH_MAX_BYTES',
    },
    maxBytesPerPartition: {
      doc: 'Largest fetch response per partition, bytes',
      format: 'nat',
      default: 1_048_576,
      env: 'KAFKA_FETCH_MAX_BYTES_PER_PARTITION',
    },
    maxWaitTimeMs: {
      doc: 'How long a fetch waits for new records on the broker',
      format: 'nat',
      default: 500,
      env: 'KAFKA_FETCH_MAX_WAIT_MS',
    },
    maxBatchSize: {
      doc: 'Most messages handed to a batch handler at once',
      format: 'nat',
      default: 100,
      env: 'KAFKA_MAX_BATCH_SIZE',
    },
    maxInFlight: {
      doc: 'In-flight budget per partition: messages taken but not finished; beyond it the partition is paused',
      format: 'nat',
      default: 100,
      env: 'KAFKA_MAX_IN_FLIGHT',
    },
    concurrency: {
      doc: 'Handler calls running at once per partition (1 keeps per-partition order)',
      format: 'nat',
      default: 1,
      env: 'KAFKA_CONCURRENCY',
    },
    commitIntervalMs: {
      doc: 'How often finished offsets are committed (also on rebalance and shutdown)',
      format: 'nat',
      default: 1000,
      env: 'KAFKA_COMMIT_INTERVAL_MS',
    },
    drainTimeoutMs: {
      doc: 'On shutdown, how long running handlers may take to finish before their signal aborts',
      format: 'nat',
      default: 10_000,
      env: 'KAFKA_DRAIN_TIMEOUT_MS',
    },
    fromBeginning: {
      doc: 'A new group starts at the earliest offset (default: the latest)',
      format: Boolean,
      default: false,
      env: 'KAFKA_FROM_BEGINNING',
    },
  },
  producer: {
    compression: {
      doc: 'Compression of produced batches',
      format: [...COMPRESSIONS],
      default: 'none',
      env: 'KAFKA_COMPRESSION',
    },
  },
  retry: {
    attempts: {
      doc: 'Handler attempts per message, the first included, before it goes to the dead-letter topic',
      format: 'nat',
      default: 3,
      env: 'KAFKA_RETRY_ATTEMPTS',
    },
    baseMs: {
      doc: 'Base delay of the exponential backoff between handler attempts',
      format: 'nat',
      default: 200,
      env: 'KAFKA_RETRY_BASE_MS',
    },
    maxMs: {
      doc: 'Largest delay between handler attempts',
      format: 'nat',
      default: 10_000,
      env: 'KAFKA_RETRY_MAX_MS',
    },
  },
  dlq: {
    suffix: {
      doc: 'Dead-letter topic of a topic: its name plus this suffix',
      format: String,
      default: '.dlq',
      env: 'KAFKA_DLQ_SUFFIX',
    },
    topic: {
      doc: 'One dead-letter topic for every consumed topic (overrides the suffix)',
      format: String,
      default: '',
      env: 'KAFKA_DLQ_TOPIC',
    },
  },
};
