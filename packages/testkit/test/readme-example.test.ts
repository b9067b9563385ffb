// The example of README.md, kept runnable (imports the sources instead of '@fleet/testkit').
import { Kafka, logLevel } from 'kafkajs';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { KafkaApiKey, type KafkaBroker, KafkaErrorCode, startKafkaBroker } from '../src/index.js';

let broker: KafkaBroker;
let kafka: Kafka;

beforeAll(async () => {
  broker = await startKafkaBroker({ defaultPartitions: 3 }); // ephemeral port on 127.0.0.1
  kafka = new Kafka({ brokers: broker.brokers, logLevel: logLevel.NOTHING });
});
afterAll(() => broker.close());

it('produces, consumes and survives a leader hiccup', async () => {
  // the next two Produce requests fail; kafkajs retries and succeeds
  const fault = broker.faults.injectError(KafkaApiKey.Produce, KafkaErrorCode.NOT_LEADER_FOR_PARTITION, {
    times: 2,
  });
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  await producer.send({ topic: 'orders', messages: [{ key: 'o-1', value: '{"total":42}' }] });
  await producer.disconnect();
  expect(fault.hits).toBe(2);

  // inspect what the broker stored
  const [record] = broker.records('orders');
  expect(record?.value?.toString()).toBe('{"total":42}');

  const consumer = kafka.consumer({
    groupId: 'billing',
    sessionTimeout: 3000,
    heartbeatInterval: 100,
    maxWaitTimeInMs: 100,
  });
  await consumer.connect();
  await consumer.subscribe({ topic: 'orders', fromBeginning: true });
  const seen: string[] = [];
  await consumer.run({ eachMessage: async ({ message }) => void seen.push(message.key!.toString()) });
  await expect.poll(() => seen).toEqual(['o-1']);
  await consumer.disconnect();
  expect(broker.committedOffsets('billing').orders).toMatchObject({ [record!.partition]: 1 });
});
