import { ConfigError, createService, type Service } from '@fleet/chassis';
import { createTestKeys, type TestKeys } from '@fleet/chassis/testing';
import { type KafkaBroker, startKafkaBroker } from '@fleet/testkit';
import { type Consumer, Kafka, logLevel } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FLOOD_FLAG, type ServiceConfig, serviceOptions } from '../src/service.js';

let broker: KafkaBroker;
let keys: TestKeys;
let service: Service<ServiceConfig>;
let consumer: Consumer;
let admin: string;
const seen: Array<{ value: Record<string, unknown>; headers: Record<string, string> }> = [];

beforeAll(async () => {
  [broker, keys] = await Promise.all([startKafkaBroker({ topics: { logs: 2 } }), createTestKeys()]);
  admin = await keys.mint({ subject: 'ops', scopes: ['admin'] });
  service = await createService({
    ...serviceOptions,
    configSources: {
      env: {
        LOG_LEVEL: 'silent',
        AUTH_PUBLIC_KEYS: keys.jwks,
        KAFKA_BROKERS: broker.brokers.join(','),
        LOGGEN_RATE: '200',
        LOGGEN_FLOOD_RATE: '1000',
        LOGGEN_TICK_MS: '50',
      },
      argv: [],
      files: [],
    },
  });
  await service.app.ready(); // starts producing
  const kafka = new Kafka({
    brokers: broker.brokers,
    logLevel: logLevel.NOTHING,
    retry: { initialRetryTime: 50 },
  });
  consumer = kafka.consumer({
    groupId: 'test',
    sessionTimeout: 3000,
    heartbeatInterval: 100,
    maxWaitTimeInMs: 50,
  });
  await consumer.connect();
  await consumer.subscribe({ topic: 'logs', fromBeginning: true });
  await consumer.run({
    eachMessage: async ({ message }) => {
      const headers: Record<string, string> = {};
      for (const [k, v] of Object.entries(message.headers ?? {})) headers[k] = String(v);
      seen.push({ value: JSON.parse(String(message.value)) as Record<string, unknown>, headers });
    },
  });
});
afterAll(async () => {
  await consumer?.disconnect();
  await service?.stop();
  await broker?.close();
});

const auth = () => ({ authorization: `Bearer ${admin}` });

describe('log-generator', () => {
  it('produces ALF records to Kafka at the configured rate, flood off by default', async () => {
    await expect.poll(() => seen.length, { timeout: 10_000 }).toBeGreaterThan(100);
    const record = seen[0];
    expect(record?.value).toMatchObject({
      service: expect.any(String),
      level: expect.any(String),
      host: expect.any(String),
      message: expect.any(String),
      timestamp: expect.any(String),
    });
    expect(record?.headers).toMatchObject({ service: record?.value.service, level: record?.value.level });
    expect(seen.some((r) => r.value.service === 'chatty-search')).toBe(false);
    expect(new Set(seen.map((r) => r.value.service))).toEqual(
      new Set(['checkout', 'users', 'search-api', 'payments']),
    );
  });

  it('floods chatty-search debug lines while the flag is on, and counts by service and level', async () => {
    await service.flags.set(FLOOD_FLAG, true, { by: 'test' });
    await expect
      .poll(() => seen.filter((r) => r.headers.service === 'chatty-search').length, { timeout: 10_000 })
      .toBeGreaterThan(500);
    expect(
      seen.filter((r) => r.headers.service === 'chatty-search').every((r) => r.headers.level === 'debug'),
    ).toBe(true);
    await service.flags.set(FLOOD_FLAG, false, { by: 'test' });
    const metrics = (await service.app.inject({ url: '/metrics' })).body;
    const flood = /^loggen_events_produced_total\{service="chatty-search",level="debug"\} (\d+)$/m.exec(
      metrics,
    );
    expect(Number(flood?.[1])).toBeGreaterThan(500);
    expect(metrics).toMatch(/^loggen_events_produced_total\{service="checkout",level="info"\} \d+$/m);
  });

  it('shows and changes the rates through /admin/loggen', async () => {
    const before = await service.app.inject({ url: '/admin/loggen', headers: auth() });
    expect(before.statusCode).toBe(200);
    expect(before.json()).toMatchObject({
      topic: 'logs',
      rate: 200,
      flood: { service: 'chatty-search', on: false },
    });
    const changed = await service.app.inject({
      method: 'PUT',
      url: '/admin/loggen',
      headers: auth(),
      payload: { rate: 0, floodRate: 10 },
    });
    expect(changed.statusCode).toBe(200);
    expect(changed.json()).toMatchObject({ rate: 0, flood: { rate: 10 } });
    // rate 0: nothing more is produced (the batch in flight may still land)
    await new Promise((r) => setTimeout(r, 200));
    const stopped = seen.length;
    await new Promise((r) => setTimeout(r, 300));
    expect(seen.length).toBe(stopped);
  });

  it('refuses bad bodies and callers without the admin scope', async () => {
    for (const payload of [{ rate: -1 }, { rate: 'fast' }, { speed: 3 }, {}, { rate: 1e9 }]) {
      const res = await service.app.inject({ method: 'PUT', url: '/admin/loggen', headers: auth(), payload });
      expect(res.statusCode, JSON.stringify(payload)).toBe(400);
      expect(res.json()).toMatchObject({ code: 'validation_failed' });
    }
    const reader = await keys.mint({ subject: 'viewer', scopes: ['read'] });
    const denied = await service.app.inject({
      method: 'PUT',
      url: '/admin/loggen',
      headers: { authorization: `Bearer ${reader}` },
      payload: { rate: 5 },
    });
    expect(denied.statusCode).toBe(403);
    expect((await service.app.inject({ url: '/admin/loggen' })).statusCode).toBe(401);
  });

  it('rejects invalid configuration with every problem listed', async () => {
    const attempt = createService({
      ...serviceOptions,
      configSources: {
        env: { LOG_LEVEL: 'silent', LOGGEN_RATE: '-5', LOGGEN_SERVICES: 'ok,Bad Name', LOGGEN_TOPIC: 'a b' },
        argv: [],
        files: [],
      },
    });
    await expect(attempt).rejects.toBeInstanceOf(ConfigError);
    await expect(attempt).rejects.toThrow(
      /loggen\.rate[\s\S]*loggen\.services|loggen\.services[\s\S]*loggen\.rate/,
    );
  });
});
