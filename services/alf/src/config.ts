/**
 * ALF's configuration (merged with the chassis schema). Checks convict cannot express are custom
 * formats, so every problem, rules file included, is reported at start as one ConfigError
 * (exit 78).
 */
import { readFileSync } from 'node:fs';
import { parseHecUrls } from './hec/client.js';
import { parseIndexedFields } from './pipeline.js';
import { parseRulesText, RulesError } from './rules.js';
import type { ConfigSchema } from './types.js';

export interface AlfConfig {
  alf: {
    /** Comma list. */
    topics: string;
    groupId: string;
    dlqTopic: string;
    maxEventBytes: number;
    rulesFile: string;
    rules: string;
    rulesPollMs: number;
    /** Comma list. */
    indexedFields: string;
    headers: { service: string; level: string };
    maxInFlightBytes: number;
    consumer: { maxBatchSize: number; concurrency: number; maxInFlight: number };
    maxServices: number;
    maxServiceLabels: number;
  };
  hec: {
    /** Comma list. */
    url: string;
    token: string;
    tokenFile: string;
    path: string;
    gzip: boolean;
    gzipLevel: number;
    batch: { maxEvents: number; maxBytes: number; lingerMs: number };
    connections: number;
    timeoutMs: number;
    connectTimeoutMs: number;
    retry: { baseMs: number; maxMs: number; maxAttempts: number };
    eject: { after: number; baseMs: number; maxMs: number };
    ack: { enabled: boolean; pollMs: number; timeoutMs: number };
    partialBatch: 'index-preceding' | 'reject-all';
    tls: { rejectUnauthorized: boolean; caFile: string };
  };
}

/** A comma list as its trimmed, non-empty items. */
export function splitList(value: string): string[] {
  return value
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
}

function atLeast(min: number) {
  return (value: unknown) => {
    if (typeof value !== 'number' || !Number.isInteger(value) || value < min)
      throw new Error(`must be an integer >= ${min}`);
  };
}

function rulesProblems(err: unknown): Error {
  return new Error(err instanceof RulesError ? err.problems.join('; ') : (err as Error).message);
}

export const alfSchema: ConfigSchema<AlfConfig> = {
  alf: {
    topics: {
      doc: 'Kafka topics to forward (comma list)',
      format: (value: unknown) => {
        if (typeof value !== 'string' || splitList(value).length === 0)
          throw new Error('at least one topic is required (ALF_TOPICS)');
      },
      default: '',
      env: 'ALF_TOPICS',
    },
    groupId: { doc: 'Consumer group', format: String, default: 'alf', env: 'ALF_GROUP_ID' },
    dlqTopic: {
      doc: 'Dead-letter topic for records ALF cannot deliver',
      format: (value: unknown) => {
        if (typeof value !== 'string' || value.trim() === '') throw new Error('a topic name is required');
      },
      default: 'alf.dlq',
      env: 'ALF_DLQ_TOPIC',
    },
    maxEventBytes: {
      doc: 'Largest record forwarded; larger ones are dead-lettered (reason oversize)',
      format: atLeast(64),
      default: 512 * 1024,
      env: 'ALF_MAX_EVENT_BYTES',
    },
    rulesFile: {
      doc: 'JSON rules file (routes, limits, budget), watched and reloaded on change',
      format: (value: unknown) => {
        if (typeof value !== 'string' || value === '') return;
        let text: string;
        try {
          text = readFileSync(value, 'utf8');
        } catch (err) {
          throw new Error(`cannot read ${value}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
        }
        try {
          parseRulesText(text, value);
        } catch (err) {
          throw rulesProblems(err);
        }
      },
      default: '',
      env: 'ALF_RULES_FILE',
    },
    rules: {
      doc: 'Inline JSON rules (used when alf.rulesFile is empty)',
      format: (value: unknown) => {
        if (typeof value !== 'string' || value.trim() === '') return;
        try {
          parseRulesText(value, 'ALF_RULES');
        } catch (err) {
          throw rulesProblems(err);
        }
      },
      default: '',
      env: 'ALF_RULES',
    },
    rulesPollMs: {
      doc: 'How often the rules file is checked besides file-change notifications',
      format: atLeast(10),
      default: 5000,
      env: 'ALF_RULES_POLL_MS',
    },
    indexedFields: {
      doc: "Record fields sent as HEC indexed fields: 'path' or 'name=path', path 'key' or 'parent.key'",
      format: (value: unknown) => {
        const { problems } = parseIndexedFields(splitList(String(value)));
        if (problems.length > 0) throw new Error(problems.join('; '));
      },
      default: '',
      env: 'ALF_INDEXED_FIELDS',
    },
    headers: {
      service: {
        doc: "Kafka header carrying the service (filtering before the record is scanned); '' to ignore",
        format: String,
        default: 'service',
        env: 'ALF_HEADER_SERVICE',
      },
      level: {
        doc: 'Kafka header carrying the level',
        format: String,
        default: 'level',
        env: 'ALF_HEADER_LEVEL',
      },
    },
    maxInFlightBytes: {
      doc: 'Record bytes taken and not yet delivered before consuming waits (partitions then pause)',
      format: atLeast(1024),
      default: 64 * 1024 * 1024,
      env: 'ALF_MAX_IN_FLIGHT_BYTES',
    },
    consumer: {
      maxBatchSize: {
        doc: 'Records per handler call (one partition)',
        format: atLeast(1),
        default: 500,
        env: 'ALF_CONSUMER_BATCH',
      },
      concurrency: {
        doc: 'Handler calls in flight per partition: each waits for its records to be delivered, so this must cover linger + HEC round trip (records of a call commit together)',
        format: atLeast(1),
        default: 64,
        env: 'ALF_CONSUMER_CONCURRENCY',
      },
      maxInFlight: {
        doc: 'Records taken and not finished per partition before it is paused',
        format: atLeast(1),
        default: 5000,
        env: 'ALF_CONSUMER_MAX_IN_FLIGHT',
      },
    },
    maxServices: {
      doc: 'Services tracked individually (limits, top view); beyond it they share one entry',
      format: atLeast(1),
      default: 10_000,
      env: 'ALF_MAX_SERVICES',
    },
    maxServiceLabels: {
      doc: "Services with their own metric label; the rest are labelled 'other'",
      format: atLeast(0),
      default: 100,
      env: 'ALF_MAX_SERVICE_LABELS',
    },
  },
  hec: {
    url: {
      doc: 'HEC endpoints, comma list of base URLs (https://splunk-1:8088,...)',
      format: (value: unknown) => {
        const { problems } = parseHecUrls(splitList(String(value)));
        if (problems.length > 0) throw new Error(problems.join('; '));
      },
      default: '',
      env: 'HEC_URL',
    },
    token: {
      doc: 'HEC token (or HEC_TOKEN_FILE: read at start and again on every reload)',
      format: (value: unknown) => {
        if (typeof value !== 'string' || value.trim() === '')
          throw new Error('required: set HEC_TOKEN or HEC_TOKEN_FILE');
      },
      default: '',
      env: 'HEC_TOKEN',
      sensitive: true,
    },
    tokenFile: {
      doc: 'File holding the HEC token (rotations are picked up on reload and on token refusals)',
      format: String,
      default: '',
      env: 'HEC_TOKEN_FILE',
    },
    path: {
      doc: 'Collector path appended to a base URL without one',
      format: String,
      default: '/services/collector/event',
      env: 'HEC_PATH',
    },
    gzip: { doc: 'Compress requests', format: Boolean, default: true, env: 'HEC_GZIP' },
    gzipLevel: {
      doc: 'gzip level (1 is fastest; log batches compress to a few percent anyway)',
      format: (value: unknown) => {
        if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > 9)
          throw new Error('must be an integer 1..9');
      },
      default: 1,
      env: 'HEC_GZIP_LEVEL',
    },
    batch: {
      maxEvents: {
        doc: 'Events per request at most',
        format: atLeast(1),
        default: 1000,
        env: 'HEC_BATCH_MAX_EVENTS',
      },
      maxBytes: {
        doc: 'Serialised bytes per request at most, before gzip (keep below max_content_length)',
        format: atLeast(1024),
        default: 1024 * 1024,
        env: 'HEC_BATCH_MAX_BYTES',
      },
      lingerMs: {
        doc: 'How long a batch waits to fill before it is sent',
        format: atLeast(0),
        default: 100,
        env: 'HEC_BATCH_LINGER_MS',
      },
    },
    connections: {
      doc: 'Requests in flight per endpoint (keep-alive connections, each with its own ack channel)',
      format: atLeast(1),
      default: 4,
      env: 'HEC_CONNECTIONS',
    },
    timeoutMs: {
      doc: 'Timeout of a request (answer headers, and each body chunk)',
      format: atLeast(1),
      default: 30_000,
      env: 'HEC_TIMEOUT_MS',
    },
    connectTimeoutMs: {
      doc: 'Timeout of a connection attempt',
      format: atLeast(1),
      default: 5000,
      env: 'HEC_CONNECT_TIMEOUT_MS',
    },
    retry: {
      baseMs: {
        doc: 'First retry delay (exponential, jittered)',
        format: atLeast(1),
        default: 200,
        env: 'HEC_RETRY_BASE_MS',
      },
      maxMs: { doc: 'Largest retry delay', format: atLeast(1), default: 30_000, env: 'HEC_RETRY_MAX_MS' },
      maxAttempts: {
        doc: 'Attempts before a batch is dead-lettered (0: retry without end, the default)',
        format: atLeast(0),
        default: 0,
        env: 'HEC_RETRY_MAX_ATTEMPTS',
      },
    },
    eject: {
      after: {
        doc: 'Consecutive failures before an endpoint leaves the rotation',
        format: atLeast(1),
        default: 3,
        env: 'HEC_EJECT_AFTER',
      },
      baseMs: {
        doc: 'First ejection time (doubles per ejection)',
        format: atLeast(1),
        default: 1000,
        env: 'HEC_EJECT_BASE_MS',
      },
      maxMs: { doc: 'Longest ejection', format: atLeast(1), default: 60_000, env: 'HEC_EJECT_MAX_MS' },
    },
    ack: {
      enabled: {
        doc: 'Indexer acknowledgement: commit offsets only once HEC acks the batch',
        format: Boolean,
        default: false,
        env: 'HEC_ACK',
      },
      pollMs: {
        doc: 'How often pending acks are polled',
        format: atLeast(1),
        default: 1000,
        env: 'HEC_ACK_POLL_MS',
      },
      timeoutMs: {
        doc: 'An unacked batch is resent after this long (possible duplicates, counted)',
        format: atLeast(1),
        default: 60_000,
        env: 'HEC_ACK_TIMEOUT_MS',
      },
    },
    partialBatch: {
      doc: "What HEC did with the events before a refused one: 'index-preceding' (Splunk) or 'reject-all'",
      format: ['index-preceding', 'reject-all'],
      default: 'index-preceding',
      env: 'HEC_PARTIAL_BATCH',
    },
    tls: {
      rejectUnauthorized: {
        doc: 'Verify the HEC certificate',
        format: Boolean,
        default: true,
        env: 'HEC_TLS_REJECT_UNAUTHORIZED',
      },
      caFile: { doc: 'PEM CA bundle to trust for HEC', format: String, default: '', env: 'HEC_TLS_CA_FILE' },
    },
  },
};
