import { startKafkaBroker } from '@fleet/testkit';
import { afterEach, describe, expect, it } from 'vitest';
import type { ReadinessReport } from '../health/registry.js';
import type { Service } from '../service.js';
import { kafkaService, stopServices, uniqueTopic, waitFor } from './test-helpers.js';

afterEach(stopServices);

async function readiness(svc: Service): Promise<{ status: number; body: ReadinessReport }> {
  const res = await svc.app.inject({ url: '/health/ready' });
  return { status: res.statusCode, body: res.json() };
}

type Readiness = Awaited<ReturnType<typeof readiness>>;

async function waitForStatus(
  svc: Service,
  status: number,
  timeoutMs: number,
  also?: (r: Readiness) => boolean,
) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const r = await readiness(svc);
    if (r.status === status && (!also || also(r))) return r;
    if (Date.now() > deadline) throw new Error(`readiness still ${r.status}: ${JSON.stringify(r.body)}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

describe('broker outage', () => {
  it('readiness is 503 while the broker is down and recovers after; consuming resumes', async () => {
    const broker = await startKafkaBroker();
    try {
      const topic = uniqueTopic('outage');
      broker.createTopic(topic);
      const svc = await kafkaService(broker, { HEALTH_CHECK_TIMEOUT_MS: '1500' });
      await svc.app.ready();
      const got: string[] = [];
      const consumer = svc.kafka.consume({
        topics: topic,
        groupId: 'outage',
        handler: (m) => void got.push(String(m.value)),
      });
      // Not connected yet: the checks exist and fail until the clients are up
      svc.kafka.producer();
      const early = await readiness(svc);
      expect(
        Object.keys(early.body.checks)
          .filter((k) => k.startsWith('kafka'))
          .sort(),
      ).toEqual(['kafka:consumer:outage', 'kafka:producer']);
      expect(early.status).toBe(503);
      await consumer.ready();
      await svc.kafka.produce(topic, { value: 'before' });
      await waitFor('before', () => got.includes('before'));
      const up = await waitForStatus(svc, 200, 5000);
      expect(up.body.checks['kafka:producer']?.status).toBe('pass');
      expect(up.body.checks['kafka:consumer:outage']).toMatchObject({
        status: 'pass',
        details: { assigned: 1 },
      });

      // Committed before the outage, so not redelivered after it
      await waitFor('commit', () => broker.committedOffsets('outage')[topic]?.[0] === 1);
      await broker.stopBroker(0);
      const down = await waitForStatus(
        svc,
        503,
        5000,
        (r) =>
          r.body.checks['kafka:producer']?.status === 'fail' &&
          r.body.checks['kafka:consumer:outage']?.status === 'fail',
      );
      expect(down.body.checks['kafka:producer']).toMatchObject({ status: 'fail', critical: true });
      expect(down.body.checks['kafka:consumer:outage']?.status).toBe('fail');
      expect(await svc.metrics.expose()).toContain('kafka_connection_state{client="producer"} 0');

      await broker.restartBroker(0);
      await waitForStatus(svc, 200, 15_000);
      expect(await svc.metrics.expose()).toContain('kafka_connection_state{client="producer"} 1');
      await svc.kafka.produce(topic, { value: 'after' });
      await waitFor('after', () => got.includes('after'), 10_000);
      expect(got.filter((v) => v === 'before')).toHaveLength(1);
    } finally {
      await stopServices();
      await broker.close();
    }
  }, 40_000);
});
