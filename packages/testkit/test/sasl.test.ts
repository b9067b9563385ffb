import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiKey } from '../src/kafka/api-keys.js';
import { type KafkaBroker, startKafkaBroker } from '../src/kafka/broker.js';
import { Reader } from '../src/kafka/codec.js';
import { ErrorCode } from '../src/kafka/error-codes.js';
import { fastConsumer, kafkaClient, RawClient, waitFor } from './helpers.js';

describe('SASL/PLAIN', () => {
  let broker: KafkaBroker;
  const logs: string[] = [];
  const quick = { retry: { retries: 1, initialRetryTime: 20, maxRetryTime: 50 } };

  beforeAll(async () => {
    broker = await startKafkaBroker({ sasl: { users: { alice: 'secret' } }, log: (l) => logs.push(l) });
  });
  afterAll(async () => {
    await broker.close();
  });

  it('authenticated kafkajs clients produce and consume', async () => {
    const kafka = kafkaClient(broker.brokers, {
      sasl: { mechanism: 'plain', username: 'alice', password: 'secret' },
    });
    const producer = kafka.producer();
    await producer.connect();
    await producer.send({ topic: 'secured', messages: [{ value: 'hello' }] });
    await producer.disconnect();
    const got: string[] = [];
    const consumer = kafka.consumer({ groupId: 'secured-group', ...fastConsumer });
    await consumer.connect();
    await consumer.subscribe({ topic: 'secured', fromBeginning: true });
    await consumer.run({ eachMessage: async ({ message }) => void got.push(message.value!.toString()) });
    await waitFor(() => got.length === 1, 10_000, 'message');
    await consumer.disconnect();
    expect(got).toEqual(['hello']);
  });

  it('a wrong password fails authentication', async () => {
    const kafka = kafkaClient(broker.brokers, {
      ...quick,
      sasl: { mechanism: 'plain', username: 'alice', password: 'wrong' },
    });
    const producer = kafka.producer();
    await expect(producer.connect()).rejects.toThrow(/SASL PLAIN authentication failed/);
    expect(logs.some((l) => l.includes('SASL/PLAIN authentication failed'))).toBe(true);
  });

  it('an unsupported mechanism is refused', async () => {
    const kafka = kafkaClient(broker.brokers, {
      ...quick,
      sasl: { mechanism: 'scram-sha-256', username: 'alice', password: 'secret' },
    });
    await expect(kafka.producer().connect()).rejects.toThrow(/mechanism/i);
  });

  it('clients without SASL are disconnected before they can use the broker', async () => {
    const kafka = kafkaClient(broker.brokers, quick);
    const producer = kafka.producer();
    // connecting only exchanges ApiVersions, which is allowed before authentication
    await producer.connect().catch(() => {});
    await expect(producer.send({ topic: 'sneaky', messages: [{ value: 'x' }] })).rejects.toThrow();
    await producer.disconnect();
    expect(logs.some((l) => l.includes('before SASL authentication'))).toBe(true);
    expect(broker.topics()).toEqual(['secured']);
  });

  it('SaslHandshake v0 followed by a raw PLAIN token authenticates the connection', async () => {
    const raw = await RawClient.connect(broker.brokers[0]!);
    raw.request(ApiKey.SaslHandshake, 0, (w) => w.string('PLAIN'));
    const hs = new Reader((await raw.response())!.body);
    expect(hs.int16()).toBe(ErrorCode.NONE);
    expect(hs.array((r) => r.string())).toEqual(['PLAIN']);
    const token = Buffer.from('\u0000alice\u0000secret');
    const size = Buffer.alloc(4);
    size.writeInt32BE(token.length);
    raw.writeRaw(Buffer.concat([size, token]));
    // the raw exchange answers with an empty token (a zero-length frame)
    expect((await raw.frame())?.length).toBe(0);
    const id = raw.request(ApiKey.Metadata, 1, (w) => w.int32(-1));
    expect((await raw.response())?.correlationId).toBe(id);
    expect(raw.closed).toBe(false);
    raw.close();
  });
});
