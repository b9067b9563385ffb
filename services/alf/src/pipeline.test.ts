import { createLogger, FlagsClient, type KafkaMessage, MemoryFlagStore } from '@fleet/chassis';
import { splitHecBatch } from '@fleet/testkit';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Batch } from './batch.js';
import { Dials } from './dials.js';
import { AlfMetrics } from './metrics.js';
import { Pipeline, type PipelineSettings, parseIndexedFields } from './pipeline.js';
import { parseRules, type Rules } from './rules.js';
import { ServiceRegistry } from './services.js';

const log = createLogger({ service: 'alf-test', version: '0', level: 'silent' });

interface Harness {
  pipeline: Pipeline;
  batches: Batch[];
  dead: Array<{ message: KafkaMessage; reason: string; done: () => void }>;
  metrics: AlfMetrics;
  services: ServiceRegistry;
  flags: FlagsClient;
  dials: Dials;
}

let harness: Harness | undefined;

async function make(
  rules: Rules = parseRules({}),
  settings: Partial<PipelineSettings> = {},
): Promise<Harness> {
  const flags = new FlagsClient({ store: new MemoryFlagStore(), log });
  await flags.start();
  const dials = new Dials(flags);
  const metrics = new AlfMetrics();
  const services = new ServiceRegistry();
  const batches: Batch[] = [];
  const dead: Harness['dead'] = [];
  const pipeline = new Pipeline(
    {
      topics: ['logs'],
      maxEventBytes: 4096,
      serviceHeader: 'service',
      levelHeader: 'level',
      indexedFields: [],
      maxInFlightBytes: 1 << 20,
      batch: { maxEvents: 1000, maxBytes: 1 << 20, lingerMs: 60_000 },
      ...settings,
    },
    rules,
    {
      log,
      metrics,
      services,
      dials,
      sink: (b) => batches.push(b),
      deadLetter: (message, reason, _detail, done) => dead.push({ message, reason, done }),
    },
  );
  harness = { pipeline, batches, dead, metrics, services, flags, dials };
  return harness;
}

afterEach(async () => {
  harness?.pipeline.close();
  harness?.dials.close();
  await harness?.flags.close();
  harness = undefined;
});

let offset = 0;
beforeEach(() => {
  offset = 0;
});

function msg(
  value: string | object | null,
  headers: Record<string, string> = {},
  partition = 0,
): KafkaMessage {
  return {
    topic: 'logs',
    partition,
    offset: offset++,
    key: null,
    value: value === null ? null : Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)),
    headers,
    timestamp: 1_700_000_000_000,
  };
}

function envelopes(h: Harness): Array<Record<string, unknown>> {
  h.pipeline.flush();
  return h.batches.flatMap((b) => {
    const { objects, invalidAt } = splitHecBatch(b.bytes().toString());
    expect(invalidAt).toBeUndefined();
    return objects;
  });
}

function deliverAll(h: Harness): void {
  h.pipeline.flush();
  for (const b of h.batches.splice(0)) h.pipeline.delivered(b.events, 0, b.size, Date.now());
}

describe('Pipeline mapping', () => {
  it('maps records to HEC envelopes, embedding the original bytes', async () => {
    const rules = parseRules({
      defaultRoute: { sourcetype: 'alf:json' },
      routes: [
        {
          match: { service: 'payments', level: '>=error' },
          index: 'pay_err',
          sourcetype: 'pay',
          fields: { team: 'money' },
        },
      ],
    });
    const h = await make(rules, {
      indexedFields: parseIndexedFields(['level', 'region=fields.region']).fields,
    });
    const raw =
      '{"timestamp":"2024-05-06T07:08:09.123Z","service":"payments","level":"ERROR","host":"web-1","message":"boom","fields":{"region":"eu"}}';
    const chunk = h.pipeline.ingest([
      msg(raw),
      msg({ timestamp: 1715000000456, service: 'web', level: 6, message: 'hi' }),
      msg({ service: 'web', message: 'no time, no level' }),
    ]);
    const out = envelopes(h);
    expect(out).toHaveLength(3);
    expect(out[0]).toEqual({
      time: 1714979289.123,
      host: 'web-1',
      source: 'payments',
      sourcetype: 'pay',
      index: 'pay_err',
      fields: { level: 'ERROR', region: 'eu', team: 'money' },
      event: JSON.parse(raw),
    });
    expect(h.batches[0]!.bytes().toString()).toContain(`"event":${raw}}`);
    expect(out[1]).toEqual({
      time: 1715000000.456,
      source: 'web',
      sourcetype: 'alf:json',
      fields: { level: 6 },
      event: { timestamp: 1715000000456, service: 'web', level: 6, message: 'hi' },
    });
    // No timestamp: the Kafka record time
    expect(out[2]!.time).toBe(1_700_000_000);
    expect(h.metrics.timestampFallbacks).toBe(1);
    expect(chunk.pending).toBe(3);
    expect(h.metrics.inFlightEvents).toBe(3);
    deliverAll(h);
    await chunk.promise;
    expect(h.metrics.delivered).toBe(3);
    expect(h.metrics.inFlightBytes).toBe(0);
    expect(h.metrics.latency.count).toBe(3);
  });

  it('dead-letters malformed records with their reason, never silently', async () => {
    const h = await make();
    const chunk = h.pipeline.ingest([
      msg('plain text'),
      msg('[1,2]'),
      msg({ level: 'info', message: 'who am I' }),
      msg({ service: '', message: 'empty service' }),
      msg({ service: 5 }),
      msg(null),
      msg({ service: 'big', message: 'x'.repeat(5000) }),
      msg({ service: 'ok' }),
    ]);
    expect(h.dead.map((d) => d.reason)).toEqual([
      'not_json',
      'not_object',
      'missing_service',
      'missing_service',
      'missing_service',
      'empty',
      'oversize',
    ]);
    expect(chunk.pending).toBe(8);
    for (const d of h.dead) d.done();
    expect(chunk.settled).toBe(false); // the good record is not delivered yet
    deliverAll(h);
    await chunk.promise;
  });

  it('drop routes drop on purpose and count it', async () => {
    const h = await make(
      parseRules({ routes: [{ match: { service: 'chatty', level: 'debug' }, drop: true }] }),
    );
    const chunk = h.pipeline.ingest([
      msg({ service: 'chatty', level: 'debug' }),
      msg({ service: 'chatty', level: 'info' }),
    ]);
    expect(envelopes(h)).toHaveLength(1);
    const state = h.services.get('chatty');
    expect(state.dropCounts.reduce((a, b) => a + b, 0)).toBe(1);
    deliverAll(h);
    await chunk.promise;
  });
});

describe('Pipeline control', () => {
  it('filters on headers before scanning the record', async () => {
    const h = await make(parseRules({ limits: [{ service: 'flood', rate: 0 }] }));
    // Not JSON at all, but the headers say it is a flood record: dropped without being scanned
    const chunk = h.pipeline.ingest([
      msg('not json', { service: 'flood', level: 'debug' }),
      msg('not json', { service: 'calm', level: 'info' }),
    ]);
    expect(h.dead.map((d) => d.reason)).toEqual(['not_json']);
    expect(h.services.get('flood').dropCounts.reduce((a, b) => a + b, 0)).toBe(1);
    h.dead[0]!.done();
    await chunk.promise;
  });

  it('flags drop a share of a service deterministically per event', async () => {
    const h = await make();
    await h.flags.set('alf.drop.service.noisy-svc', 5000, { by: 'test' });
    const records = Array.from({ length: 2000 }, (_, i) => ({ service: 'Noisy Svc', n: i }));
    offset = 0;
    h.pipeline.ingest(records.map((r) => msg(r)));
    const kept1 = envelopes(h).map((e) => (e.event as { n: number }).n);
    expect(kept1.length).toBeGreaterThan(850);
    expect(kept1.length).toBeLessThan(1150);
    // The same events again (same offsets): the same decisions
    h.batches.length = 0;
    offset = 0;
    h.pipeline.ingest(records.map((r) => msg(r)));
    expect(envelopes(h).map((e) => (e.event as { n: number }).n)).toEqual(kept1);

    await h.flags.set('alf.drop.service.noisy-svc', 10_000, { by: 'test' });
    h.batches.length = 0;
    h.pipeline.ingest([msg({ service: 'Noisy Svc' }), msg({ service: 'quiet' })]);
    expect(envelopes(h).map((e) => e.source)).toEqual(['quiet']);
  });

  it('level flags drop a level everywhere', async () => {
    const h = await make();
    await h.flags.set('alf.drop.level.debug', '100%', { by: 'test' });
    h.pipeline.ingest([
      msg({ service: 'a', level: 'debug' }),
      msg({ service: 'a', level: 'info' }),
      msg({ service: 'b', level: 'DEBUG' }),
    ]);
    expect(envelopes(h).map((e) => (e.event as { level: string }).level)).toEqual(['info']);
  });

  it('rules reload takes effect from the next record', async () => {
    const h = await make(parseRules({ routes: [{ match: { service: 'a' }, index: 'one' }] }));
    h.pipeline.ingest([msg({ service: 'a' })]);
    h.pipeline.setRules(parseRules({ routes: [{ match: { service: 'a' }, index: 'two' }] }));
    h.pipeline.ingest([msg({ service: 'a' })]);
    expect(envelopes(h).map((e) => e.index)).toEqual(['one', 'two']);
  });

  it('reports the top services by events and bytes', async () => {
    const h = await make();
    const now = Date.now();
    // Fake the previous second's traffic (the current second is partial and not counted)
    const sec = Math.floor(now / 1000) - 1;
    for (let i = 0; i < 50; i++) h.services.get('flood').count(sec, 100);
    for (let i = 0; i < 5; i++) h.services.get('calm').count(sec, 5000);
    const byEvents = h.pipeline.top({ windowSec: 10 });
    expect(byEvents.services.map((s) => s.service)).toEqual(['flood', 'calm']);
    expect(byEvents.services[0]).toMatchObject({
      events_per_s: 5,
      bytes_per_s: 500,
      drop_flag: 'alf.drop.service.flood',
    });
    const byBytes = h.pipeline.top({ windowSec: 10, by: 'bytes', limit: 1 });
    expect(byBytes.services.map((s) => s.service)).toEqual(['calm']);
  });

  it('waits for the in-flight budget', async () => {
    const h = await make(parseRules({}), { maxInFlightBytes: 1000 });
    expect(h.pipeline.admit()).toBeNull();
    h.pipeline.ingest(Array.from({ length: 20 }, () => msg({ service: 'a', pad: 'x'.repeat(100) })));
    const wait = h.pipeline.admit();
    expect(wait).not.toBeNull();
    let admitted = false;
    void wait!.then(() => {
      admitted = true;
    });
    await Promise.resolve();
    expect(admitted).toBe(false);
    deliverAll(h);
    await wait;
    expect(admitted).toBe(true);
  });
});
