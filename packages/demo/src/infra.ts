import { cachedPgliteTemplate } from '@fleet/chassis/db';
import { type HecReceiver, type KafkaBroker, startHecReceiver, startKafkaBroker } from '@fleet/testkit';
import { Kafka, logLevel } from 'kafkajs';

/** The Kafka topics of the demo: ALF reads `logs` (log-generator and plugin-runner write it). */
export const TOPICS = { logs: 3, 'alf.dlq': 1 } as const;

export interface KafkaInfra {
  brokers: string;
  embedded?: KafkaBroker;
}

/** The embedded test broker, or the topics created on the real cluster named by `brokers`. */
export async function kafkaInfra(brokers: string | undefined): Promise<KafkaInfra> {
  if (!brokers) {
    const embedded = await startKafkaBroker({ topics: { ...TOPICS } });
    return { brokers: embedded.brokers.join(','), embedded };
  }
  const admin = new Kafka({
    brokers: brokers.split(','),
    logLevel: logLevel.NOTHING,
    clientId: 'fleet-demo',
  }).admin();
  await admin.connect();
  try {
    const existing = new Set(await admin.listTopics());
    const topics = Object.entries(TOPICS)
      .filter(([topic]) => !existing.has(topic))
      .map(([topic, numPartitions]) => ({ topic, numPartitions }));
    if (topics.length) await admin.createTopics({ topics, waitForLeaders: true });
  } finally {
    await admin.disconnect();
  }
  return { brokers };
}

export interface HecInfra {
  url: string;
  token: string;
  embedded?: HecReceiver;
}

/** The embedded HEC receiver (counting only), or the real HEC. */
export async function hecInfra(
  url: string | undefined,
  token: string | undefined,
  host: string,
): Promise<HecInfra> {
  if (url && token) return { url, token };
  const demoToken = crypto.randomUUID();
  const embedded = await startHecReceiver({ host, token: demoToken, keepEvents: false });
  return { url: embedded.url, token: demoToken, embedded };
}

/**
 * The chassis's cached PGlite template (initdb once per PGlite version and machine);
 * index-provisioner and plugin-runner start new embedded databases from it (PGLITE_TEMPLATE).
 * Undefined when PGlite cannot be loaded: the services then run initdb themselves.
 */
export async function pgliteTemplate(): Promise<string | undefined> {
  return cachedPgliteTemplate().catch(() => undefined);
}
