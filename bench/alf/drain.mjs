// The end-to-end floor: kafkajs alone drains the topic ALF drains (same broker, same fetch
// settings), doing nothing with the records. Its CPU per event is what any kafkajs-based
// forwarder pays before its own work; run.mjs compares ALF's CPU per event against it.
import { Kafka, logLevel } from 'kafkajs';

const { KAFKA_BROKERS, TOPIC, GROUP } = process.env;
const kafka = new Kafka({ clientId: 'drain', brokers: KAFKA_BROKERS.split(','), logLevel: logLevel.ERROR });
const consumer = kafka.consumer({
  groupId: GROUP,
  maxWaitTimeInMs: 100,
  maxBytes: 16 * 1024 * 1024,
  maxBytesPerPartition: 2 * 1024 * 1024,
});
await consumer.connect();
await consumer.subscribe({ topic: TOPIC, fromBeginning: true });
let consumed = 0;
let bytes = 0;
setInterval(() => process.send?.({ consumed, bytes }), 50).unref();
await consumer.run({
  autoCommit: false,
  eachBatchAutoResolve: false,
  eachBatch: async ({ batch, resolveOffset }) => {
    // Touch each record as a forwarder must (its value), resolve once per batch
    for (const m of batch.messages) bytes += m.value?.length ?? 0;
    consumed += batch.messages.length;
    if (batch.messages.length > 0) resolveOffset(batch.messages[batch.messages.length - 1].offset);
  },
});
process.on('SIGTERM', async () => {
  await consumer.disconnect().catch(() => {});
  process.exit(0);
});
