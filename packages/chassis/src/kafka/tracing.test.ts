import { type KafkaBroker, startKafkaBroker } from '@fleet/testkit';
import { SpanKind } from '@opentelemetry/api';
import { InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { captureLogs, kafkaService, stopServices, uniqueTopic, waitFor } from './test-helpers.js';

let broker: KafkaBroker;
beforeAll(async () => {
  broker = await startKafkaBroker();
});
afterAll(async () => {
  await broker.close();
});
afterEach(stopServices);

describe('tracing', () => {
  it('continues the producer trace in the consumer span, and handler logs carry its trace id', async () => {
    const topic = uniqueTopic('traced');
    broker.createTopic(topic);
    const exporter = new InMemorySpanExporter();
    const logs = captureLogs();
    const svc = await kafkaService(
      broker,
      { TRACING_ENABLED: 'true', LOG_LEVEL: 'info' },
      { tracing: { spanProcessors: [new SimpleSpanProcessor(exporter)] }, logDestination: logs.destination },
    );
    let handled = false;
    const consumer = svc.kafka.consume({
      topics: topic,
      groupId: 'traced',
      handler: (m, ctx) => {
        ctx.log.info({ order: m.value?.toString() }, 'order handled');
        svc.log.info('service logger inside the handler');
        handled = true;
      },
    });
    await consumer.ready();
    await svc.kafka.produce(topic, { key: 'o-1', value: 'order-1' });
    await waitFor('handled', () => handled);
    await waitFor('consumer span', () =>
      exporter.getFinishedSpans().some((s) => s.kind === SpanKind.CONSUMER),
    );

    const spans = exporter.getFinishedSpans();
    const producer = spans.find((s) => s.kind === SpanKind.PRODUCER && s.name === `send ${topic}`)!;
    const consumerSpan = spans.find((s) => s.kind === SpanKind.CONSUMER)!;
    expect(producer).toBeDefined();
    expect(consumerSpan.name).toBe(`process ${topic}`);
    const traceId = producer.spanContext().traceId;
    expect(consumerSpan.spanContext().traceId).toBe(traceId);
    expect(consumerSpan.parentSpanContext?.spanId).toBe(producer.spanContext().spanId);
    expect(consumerSpan.attributes).toMatchObject({
      'messaging.system': 'kafka',
      'messaging.destination.name': topic,
      'messaging.destination.partition.id': '0',
      'messaging.consumer.group.name': 'traced',
      'messaging.kafka.offset': 0,
    });

    // The record carries the W3C trace context
    const [record] = broker.records(topic);
    const traceparent = record!.headers.find((h) => h.key === 'traceparent')?.value?.toString();
    expect(traceparent).toMatch(new RegExp(`^00-${traceId}-${producer.spanContext().spanId}-01$`));

    const handlerLine = logs.lines.find((l) => l.msg === 'order handled')!;
    expect(handlerLine).toMatchObject({
      trace_id: traceId,
      span_id: consumerSpan.spanContext().spanId,
      topic,
      partition: 0,
      offset: 0,
      order: 'order-1',
    });
    expect(logs.lines.find((l) => l.msg === 'service logger inside the handler')?.trace_id).toBe(traceId);
  });

  it('marks the consumer span as failed when the message is dead-lettered', async () => {
    const topic = uniqueTopic('traced-fail');
    broker.createTopic(topic);
    broker.createTopic(`${topic}.dlq`);
    const exporter = new InMemorySpanExporter();
    const svc = await kafkaService(
      broker,
      { TRACING_ENABLED: 'true', KAFKA_RETRY_ATTEMPTS: '2' },
      { tracing: { spanProcessors: [new SimpleSpanProcessor(exporter)] } },
    );
    svc.kafka.consume({
      topics: topic,
      groupId: 'traced-fail',
      handler: () => {
        throw new Error('boom');
      },
    });
    await svc.kafka.produce(topic, { value: 'x' });
    const [dead] = await broker.waitForRecords(`${topic}.dlq`, 1);
    await waitFor('consumer span', () =>
      exporter.getFinishedSpans().some((s) => s.kind === SpanKind.CONSUMER),
    );
    const consumerSpan = exporter.getFinishedSpans().find((s) => s.kind === SpanKind.CONSUMER)!;
    expect(consumerSpan.status).toMatchObject({ code: 2, message: 'boom' });
    expect(consumerSpan.events.filter((e) => e.name === 'handler failed')).toHaveLength(2);
    // The dead letter keeps the original trace context
    const original = broker
      .records(topic)[0]!
      .headers.find((h) => h.key === 'traceparent')
      ?.value?.toString();
    expect(dead!.headers.find((h) => h.key === 'traceparent')?.value?.toString()).toBe(original);
  });
});
