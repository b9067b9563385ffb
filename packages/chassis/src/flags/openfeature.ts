import {
  type EvaluationContext,
  FlagNotFoundError,
  type JsonValue,
  OpenFeatureEventEmitter,
  type Provider,
  ProviderEvents,
  type ResolutionDetails,
  StandardResolutionReasons,
  TypeMismatchError,
} from '@openfeature/server-sdk';
import type { FlagInfo, Flags } from './client.js';
import { MAX_FLAG_VALUE } from './model.js';

function reason(info: FlagInfo): ResolutionDetails<unknown>['reason'] {
  if (info.source === 'default') return StandardResolutionReasons.DEFAULT;
  if (info.value <= 0) return StandardResolutionReasons.DISABLED;
  if (info.value >= MAX_FLAG_VALUE) return StandardResolutionReasons.STATIC;
  return StandardResolutionReasons.SPLIT;
}

/**
 * An OpenFeature provider backed by `service.flags`: boolean evaluations are `isAvailable` with the
 * context's `targetingKey` as the sticky key; number evaluations return the value in basis points.
 * Every flip is emitted as a ConfigurationChanged event.
 *
 * ```ts
 * await OpenFeature.setProviderAndWait(new FleetFlagsProvider(service.flags));
 * const on = await OpenFeature.getClient().getBooleanValue('search.new_ranker', false, { targetingKey: userId });
 * ```
 */
export class FleetFlagsProvider implements Provider {
  readonly metadata = { name: 'fleet-flags' } as const;
  readonly runsOn = 'server' as const;
  readonly events = new OpenFeatureEventEmitter();
  readonly #flags: Flags;
  readonly #unsubscribe: () => void;

  constructor(flags: Flags) {
    this.#flags = flags;
    this.#unsubscribe = flags.onChange((change) => {
      this.events.emit(ProviderEvents.ConfigurationChanged, {
        flagsChanged: [change.name],
        metadata: { value: change.value, previous: change.previous, source: change.source },
      });
    });
  }

  async resolveBooleanEvaluation(
    flagKey: string,
    _defaultValue: boolean,
    context: EvaluationContext,
  ): Promise<ResolutionDetails<boolean>> {
    const info = this.#info(flagKey);
    const value = this.#flags.isAvailable(flagKey, context.targetingKey);
    return {
      value,
      variant: value ? 'on' : 'off',
      reason: reason(info),
      flagMetadata: { basisPoints: info.value, source: info.source },
    };
  }

  async resolveNumberEvaluation(flagKey: string): Promise<ResolutionDetails<number>> {
    const info = this.#info(flagKey);
    return {
      value: info.value,
      reason:
        info.source === 'default' ? StandardResolutionReasons.DEFAULT : StandardResolutionReasons.STATIC,
      flagMetadata: { source: info.source },
    };
  }

  async resolveStringEvaluation(flagKey: string): Promise<ResolutionDetails<string>> {
    throw new TypeMismatchError(
      `fleet flag '${flagKey}' is a percentage: evaluate it as a boolean or a number`,
    );
  }

  async resolveObjectEvaluation<T extends JsonValue>(flagKey: string): Promise<ResolutionDetails<T>> {
    throw new TypeMismatchError(
      `fleet flag '${flagKey}' is a percentage: evaluate it as a boolean or a number`,
    );
  }

  async onClose(): Promise<void> {
    this.#unsubscribe();
  }

  #info(flagKey: string): FlagInfo {
    const info = this.#flags.get(flagKey);
    if (!info) throw new FlagNotFoundError(`no fleet flag named '${flagKey}'`);
    return info;
  }
}
