import { ROOT_CONTEXT, SamplingDecision, TraceFlags, trace } from '@opentelemetry/api';
import { TraceState } from '@opentelemetry/core';
import * as traceBase from '@opentelemetry/sdk-trace-base';
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  ParentBasedSampler,
  SimpleSpanProcessor,
  TraceIdRatioBasedSampler,
} from '@opentelemetry/sdk-trace-base';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createService, type Service } from '../service.js';
import { LogCapture } from '../testing/index.js';
import { PooledIdGenerator } from './ids.js';
import { samplerFromEnv } from './sampler.js';
import { serverSpanStarter } from './sdk.js';
import { ServerSpanStarter } from './server-span.js';

function setup(ratio: number) {
  const ids = new PooledIdGenerator();
  const exporter = new InMemorySpanExporter();
  const sampler = new ParentBasedSampler({ root: new TraceIdRatioBasedSampler(ratio) });
  const provider = new BasicTracerProvider({
    sampler,
    idGenerator: ids,
    spanProcessors: [new SimpleSpanProcessor(exporter)],
  });
  const starter = new ServerSpanStarter(provider.getTracer('test'), sampler, ids, ratio);
  return { starter, exporter, reference: new TraceIdRatioBasedSampler(ratio) };
}

describe('ServerSpanStarter', () => {
  it.each([0, 0.1, 0.5, 0.999, 1])(
    'samples new traces exactly as the SDK ratio sampler does (ratio %s)',
    (ratio) => {
      const { starter, exporter, reference } = setup(ratio);
      let recorded = 0;
      for (let i = 0; i < 5000; i++) {
        const span = starter.start('GET', '/x', ROOT_CONTEXT);
        const { traceId, traceFlags } = span.spanContext();
        const sdkSays = reference.shouldSample(ROOT_CONTEXT, traceId).decision;
        expect(span.isRecording()).toBe(sdkSays === SamplingDecision.RECORD_AND_SAMPLED);
        expect(traceFlags).toBe(span.isRecording() ? TraceFlags.SAMPLED : TraceFlags.NONE);
        expect(traceId).toMatch(/^[0-9a-f]{32}$/);
        if (span.isRecording()) recorded++;
        span.end();
      }
      const spans = exporter.getFinishedSpans();
      expect(spans).toHaveLength(recorded);
      // the SDK started each recorded span with the trace id the decision was made on
      for (const s of spans)
        expect(reference.shouldSample(ROOT_CONTEXT, s.spanContext().traceId).decision).toBe(
          SamplingDecision.RECORD_AND_SAMPLED,
        );
      if (ratio > 0 && ratio < 1) expect(recorded / 5000).toBeCloseTo(ratio, 1);
      if (ratio === 0) expect(recorded).toBe(0);
      if (ratio === 1) expect(recorded).toBe(5000);
    },
  );

  it('continues a sampled remote parent with a recorded child of the same trace', () => {
    const { starter, exporter } = setup(0);
    const parent = trace.setSpanContext(ROOT_CONTEXT, {
      traceId: '4bf92f3577b34da6a3ce929d0e0e4736',
      spanId: '00f067aa0ba902b7',
      traceFlags: TraceFlags.SAMPLED,
      isRemote: true,
    });
    const span = starter.start('GET', '/x', parent);
    expect(span.isRecording()).toBe(true);
    span.end();
    const [exported] = exporter.getFinishedSpans();
    expect(exported?.spanContext().traceId).toBe('4bf92f3577b34da6a3ce929d0e0e4736');
    expect(exported?.parentSpanContext?.spanId).toBe('00f067aa0ba902b7');
  });

  it('drops the child of an unsampled remote parent, keeping its trace id and trace state', () => {
    const { starter, exporter } = setup(1);
    const traceState = new TraceState('congo=t61rcWkgMzE');
    const parent = trace.setSpanContext(ROOT_CONTEXT, {
      traceId: '4bf92f3577b34da6a3ce929d0e0e4736',
      spanId: '00f067aa0ba902b7',
      traceFlags: TraceFlags.NONE,
      isRemote: true,
      traceState,
    });
    const span = starter.start('GET', '/x', parent);
    expect(span.isRecording()).toBe(false);
    const ids = span.spanContext();
    expect(ids.traceId).toBe('4bf92f3577b34da6a3ce929d0e0e4736');
    expect(ids.spanId).toMatch(/^[0-9a-f]{16}$/);
    expect(ids.spanId).not.toBe('00f067aa0ba902b7');
    expect(ids.traceFlags).toBe(TraceFlags.NONE);
    expect(ids.traceState?.serialize()).toBe('congo=t61rcWkgMzE');
    span.end();
    expect(exporter.getFinishedSpans()).toHaveLength(0);
  });
});

describe('samplerFromEnv', () => {
  it.each([
    [{}, 'ParentBased{root=AlwaysOnSampler', undefined],
    [{ OTEL_TRACES_SAMPLER: 'always_on' }, 'AlwaysOnSampler', undefined],
    [{ OTEL_TRACES_SAMPLER: 'always_off' }, 'AlwaysOffSampler', undefined],
    [{ OTEL_TRACES_SAMPLER: 'parentbased_always_off' }, 'ParentBased{root=AlwaysOffSampler', undefined],
    [
      { OTEL_TRACES_SAMPLER: 'traceidratio', OTEL_TRACES_SAMPLER_ARG: '0.25' },
      'TraceIdRatioBased{0.25}',
      0.25,
    ],
    [
      { OTEL_TRACES_SAMPLER: 'parentbased_traceidratio', OTEL_TRACES_SAMPLER_ARG: '0.1' },
      'ParentBased{root=TraceIdRatioBased{0.1}',
      0.1,
    ],
  ])('builds the sampler the SDK would for %j', (env, described, rootRatio) => {
    const built = samplerFromEnv(traceBase, env);
    expect(built.sampler.toString()).toContain(described);
    expect(built.rootRatio).toBe(rootRatio);
    expect(built.problem).toBeUndefined();
  });

  it('falls back as the SDK does, naming the value it replaced', () => {
    const unknown = samplerFromEnv(traceBase, { OTEL_TRACES_SAMPLER: 'sometimes' });
    expect(unknown.sampler.toString()).toContain('ParentBased{root=AlwaysOnSampler');
    expect(unknown.problem).toBe(
      'OTEL_TRACES_SAMPLER="sometimes": unknown sampler, using parentbased_always_on',
    );
    const badRatio = samplerFromEnv(traceBase, {
      OTEL_TRACES_SAMPLER: 'traceidratio',
      OTEL_TRACES_SAMPLER_ARG: '2',
    });
    expect(badRatio.sampler.toString()).toContain('TraceIdRatioBased{1}');
    expect(badRatio.problem).toBe('OTEL_TRACES_SAMPLER_ARG="2": not a ratio in [0, 1], using 1');
  });
});

describe('SERVER spans of a service under ratio sampling', () => {
  const services: Service[] = [];
  afterEach(async () => {
    await Promise.all(services.splice(0).map((s) => s.stop()));
    vi.unstubAllEnvs();
  });

  it.each(['request', 'async-context'])(
    'records the sampled share, logs every request with its ids (%s mode)',
    async (propagation) => {
      vi.stubEnv('OTEL_TRACES_SAMPLER', 'parentbased_traceidratio');
      vi.stubEnv('OTEL_TRACES_SAMPLER_ARG', '0.5');
      const exporter = new InMemorySpanExporter();
      const capture = new LogCapture();
      const service = await createService({
        name: 'sampled',
        version: '1.0.0',
        configSources: {
          env: { TRACING_ENABLED: 'true', TRACING_PROPAGATION: propagation },
          argv: [],
        },
        logDestination: capture,
        tracing: { spanProcessors: [new SimpleSpanProcessor(exporter)] },
        routes(app) {
          app.get<{ Params: { id: string } }>('/items/:id', async (request) => ({ id: request.params.id }));
        },
      });
      services.push(service);
      // the chassis's SDK runs with its sampler: SERVER spans take the fast path
      expect(serverSpanStarter()).toBeInstanceOf(ServerSpanStarter);
      for (let i = 0; i < 300; i++) {
        const res = await service.app.inject({ url: `/items/${i}` });
        expect(res.statusCode).toBe(200);
      }
      await vi.waitFor(() =>
        expect(capture.lines.filter((l) => l.msg === 'request completed')).toHaveLength(300),
      );
      const access = capture.lines.filter((l) => l.msg === 'request completed');
      const reference = new TraceIdRatioBasedSampler(0.5);
      const expected = access.filter(
        (l) =>
          reference.shouldSample(ROOT_CONTEXT, String(l.trace_id)).decision ===
          SamplingDecision.RECORD_AND_SAMPLED,
      );
      for (const line of access) {
        expect(line.trace_id).toMatch(/^[0-9a-f]{32}$/);
        expect(line.span_id).toMatch(/^[0-9a-f]{16}$/);
      }
      expect(new Set(access.map((l) => l.trace_id)).size).toBe(300);
      // the SDK exports once the resource's detected attributes have settled
      await vi.waitFor(() => expect(exporter.getFinishedSpans()).toHaveLength(expected.length));
      const spans = exporter.getFinishedSpans();
      expect(spans.map((s) => `${s.spanContext().traceId}/${s.spanContext().spanId}`).sort()).toEqual(
        expected.map((l) => `${l.trace_id}/${l.span_id}`).sort(),
      );
      expect(spans.length).toBeGreaterThan(100);
      expect(spans.length).toBeLessThan(200);
      for (const span of spans) expect(span.attributes['http.route']).toBe('/items/:id');
    },
  );

  it('leaves SERVER spans to the API when the SDK installs no tracer (OTEL_TRACES_EXPORTER=none)', async () => {
    vi.stubEnv('OTEL_TRACES_EXPORTER', 'none');
    const capture = new LogCapture();
    const service = await createService({
      name: 'no-exporter',
      version: '1.0.0',
      configSources: { env: { TRACING_ENABLED: 'true', TRACING_PROPAGATION: 'request' }, argv: [] },
      logDestination: capture,
      routes(app) {
        app.get('/x', async () => ({ ok: true }));
      },
    });
    services.push(service);
    expect(serverSpanStarter()).toBeUndefined();
    expect((await service.app.inject({ url: '/x' })).statusCode).toBe(200);
    await vi.waitFor(() => expect(capture.lines.some((l) => l.msg === 'request completed')).toBe(true));
    const access = capture.lines.find((l) => l.msg === 'request completed');
    expect(access?.trace_id).toBeUndefined();
  });
});
