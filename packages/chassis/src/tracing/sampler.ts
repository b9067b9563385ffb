import type { Sampler } from '@opentelemetry/sdk-trace-base';

type SdkTraceBase = typeof import('@opentelemetry/sdk-trace-base');

export interface SamplerFromEnv {
  sampler: Sampler;
  /** Set when OTEL_TRACES_SAMPLER/_ARG held a value that was replaced by a default (as the SDK does). */
  problem?: string;
  /** The ratio new traces (no parent) are sampled at, for `traceidratio` and `parentbased_traceidratio`. */
  rootRatio?: number;
}

/**
 * The sampler `OTEL_TRACES_SAMPLER` / `OTEL_TRACES_SAMPLER_ARG` name, built as the SDK builds it
 * (same names, same defaults: `parentbased_always_on`; ratio 1 when the argument is blank or out
 * of [0, 1]). The chassis builds it itself and hands it to the SDK so that it holds the very
 * sampler the SDK's tracer uses: the SERVER-span fast path asks it first (server-span.ts).
 */
export function samplerFromEnv(sdk: SdkTraceBase, env: NodeJS.ProcessEnv = process.env): SamplerFromEnv {
  const { AlwaysOffSampler, AlwaysOnSampler, ParentBasedSampler, TraceIdRatioBasedSampler } = sdk;
  const name = env.OTEL_TRACES_SAMPLER?.trim() || 'parentbased_always_on';
  const ratio = (): { value: number; problem?: string } => {
    const raw = env.OTEL_TRACES_SAMPLER_ARG?.trim();
    const value = raw ? Number(raw) : Number.NaN;
    if (Number.isFinite(value) && value >= 0 && value <= 1) return { value };
    return {
      value: 1,
      problem: `OTEL_TRACES_SAMPLER_ARG=${JSON.stringify(raw ?? '')}: not a ratio in [0, 1], using 1`,
    };
  };
  const withRatio = (build: (r: number) => Sampler): SamplerFromEnv => {
    const r = ratio();
    const built: SamplerFromEnv = { sampler: build(r.value), rootRatio: r.value };
    if (r.problem !== undefined) built.problem = r.problem;
    return built;
  };
  switch (name) {
    case 'always_on':
      return { sampler: new AlwaysOnSampler() };
    case 'always_off':
      return { sampler: new AlwaysOffSampler() };
    case 'parentbased_always_on':
      return { sampler: new ParentBasedSampler({ root: new AlwaysOnSampler() }) };
    case 'parentbased_always_off':
      return { sampler: new ParentBasedSampler({ root: new AlwaysOffSampler() }) };
    case 'traceidratio':
      return withRatio((r) => new TraceIdRatioBasedSampler(r));
    case 'parentbased_traceidratio':
      return withRatio((r) => new ParentBasedSampler({ root: new TraceIdRatioBasedSampler(r) }));
    default:
      return {
        sampler: new ParentBasedSampler({ root: new AlwaysOnSampler() }),
        problem: `OTEL_TRACES_SAMPLER=${JSON.stringify(name)}: unknown sampler, using parentbased_always_on`,
      };
  }
}
