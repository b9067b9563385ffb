import {
  type Context,
  context,
  type Link,
  propagation,
  ROOT_CONTEXT,
  type Span,
  SpanKind,
  SpanStatusCode,
  type TextMapGetter,
  type TextMapSetter,
  trace,
} from '@opentelemetry/api';
import type { IHeaders } from 'kafkajs';
import { headerString } from './client.js';

const TRACER = '@fleet/chassis';

const setter: TextMapSetter<Record<string, string | Buffer>> = {
  set(carrier, key, value) {
    carrier[key] = value;
  },
};

const getter: TextMapGetter<IHeaders> = {
  keys: (carrier) => Object.keys(carrier),
  get: (carrier, key) => headerString(carrier[key]),
};

/**
 * A PRODUCER span for one send, child of `parent`; its context goes into every message's headers
 * (`traceparent`).
 */
export function startProducerSpan(
  topic: string,
  count: number,
  parent: Context = context.active(),
): { span: Span; ctx: Context } {
  const span = trace.getTracer(TRACER).startSpan(
    `send ${topic}`,
    {
      kind: SpanKind.PRODUCER,
      attributes: {
        'messaging.system': 'kafka',
        'messaging.operation.type': 'send',
        'messaging.destination.name': topic,
        'messaging.batch.message_count': count,
      },
    },
    parent,
  );
  return { span, ctx: trace.setSpan(parent, span) };
}

export function injectHeaders(ctx: Context, headers: Record<string, string | Buffer>): void {
  propagation.inject(ctx, headers, setter);
}

export function extractContext(headers: IHeaders | undefined): Context {
  return headers ? propagation.extract(ROOT_CONTEXT, headers, getter) : ROOT_CONTEXT;
}

export interface ConsumeSpanInfo {
  topic: string;
  partition: number;
  groupId: string;
  offset?: number;
  count?: number;
}

/**
 * A CONSUMER span continuing the producer's trace (one message), or linking every message's
 * trace (a batch). Returns the span and the context the handler runs in.
 */
export function startConsumerSpan(info: ConsumeSpanInfo, parents: Context[]): { span: Span; ctx: Context } {
  const attributes = {
    'messaging.system': 'kafka',
    'messaging.operation.type': 'process',
    'messaging.destination.name': info.topic,
    'messaging.destination.partition.id': String(info.partition),
    'messaging.consumer.group.name': info.groupId,
    ...(info.offset !== undefined ? { 'messaging.kafka.offset': info.offset } : {}),
    ...(info.count !== undefined ? { 'messaging.batch.message_count': info.count } : {}),
  };
  const tracer = trace.getTracer(TRACER);
  let parent = ROOT_CONTEXT;
  let links: Link[] | undefined;
  if (parents.length === 1) {
    parent = parents[0]!;
  } else {
    links = [];
    for (const p of parents) {
      const spanContext = trace.getSpanContext(p);
      if (spanContext) links.push({ context: spanContext });
    }
  }
  const span = tracer.startSpan(
    `process ${info.topic}`,
    { kind: SpanKind.CONSUMER, attributes, ...(links ? { links } : {}) },
    parent,
  );
  return { span, ctx: trace.setSpan(parent, span) };
}

export function endSpan(span: Span, error?: unknown): void {
  if (error !== undefined) {
    span.recordException(error instanceof Error ? error : new Error(String(error)));
    span.setStatus({ code: SpanStatusCode.ERROR, message: errorMessage(error) });
  }
  span.end();
}

export function errorMessage(error: unknown): string {
  if (error instanceof Error) return error.message;
  return String(error);
}
