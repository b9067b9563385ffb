/**
 * Kill switches and dials from Decider flags (the chassis flags module), values in basis points:
 *
 * - `alf.drop.level.<level>`: share of all events of that level to drop (debug, trace...);
 * - `alf.drop.service.<service>`: share of that service's events to drop (the service name lower
 *   case, characters outside [a-z0-9_.-] replaced by '-').
 *
 * 10000 drops everything, 0 nothing, 2500 a quarter. A partial value decides per event, keyed on
 * the event's topic/partition/offset, so a redelivered event gets the same decision. The hot path
 * reads a local copy of the values, kept current by the flags client's change notifications: no
 * flag lookup (nor warning about unknown flags) per event.
 */
import { LEVEL_COUNT, LEVELS } from './levels.js';
import type { ServiceState } from './services.js';

export const LEVEL_FLAG_PREFIX = 'alf.drop.level.';
export const SERVICE_FLAG_PREFIX = 'alf.drop.service.';
const FULL = 10_000;

/** Where an event comes from: its identity for keyed (deterministic) decisions. */
export interface EventKey {
  readonly topic: string;
  readonly partition: number;
  readonly offset: number;
}

export function eventKey(e: EventKey): string {
  return `${e.topic}/${e.partition}/${e.offset}`;
}

/** What ALF needs of the chassis flags client. */
export interface DialFlags {
  list(): Array<{ name: string; value: number }>;
  onChange(listener: (change: { name: string; value: number }) => void): () => void;
  isAvailable(name: string, key?: string | null): boolean;
  define?(
    name: string,
    definition?: { default?: boolean | number; description?: string; owner?: string },
  ): unknown;
}

export class Dials {
  /** Bumped on every change: service states re-read their dial. */
  generation = 0;
  readonly levelBasisPoints = new Int32Array(LEVEL_COUNT);
  readonly #services = new Map<string, number>();
  readonly #flags: DialFlags | undefined;
  #unsubscribe: (() => void) | undefined;
  #timer: NodeJS.Timeout | undefined;

  constructor(flags: DialFlags | undefined, resyncMs = 10_000) {
    this.#flags = flags;
    if (!flags) return;
    for (const level of LEVELS) {
      try {
        flags.define?.(`${LEVEL_FLAG_PREFIX}${level}`, {
          default: 0,
          description: `ALF: share (basis points) of ${level} events to drop`,
          owner: 'alf',
        });
      } catch {
        // already defined (several pipelines in one process, tests)
      }
    }
    this.resync();
    this.#unsubscribe = flags.onChange((change) => {
      if (change.name.startsWith('alf.drop.')) this.#apply(change.name, change.value);
    });
    this.#timer = setInterval(() => this.resync(), resyncMs);
    this.#timer.unref();
  }

  get enabled(): boolean {
    return this.#flags !== undefined;
  }

  /** Re-read every dial from the flags client. */
  resync(): void {
    if (!this.#flags) return;
    this.levelBasisPoints.fill(0);
    this.#services.clear();
    for (const { name, value } of this.#flags.list())
      if (name.startsWith('alf.drop.')) this.#set(name, value);
    this.generation++;
  }

  #apply(name: string, value: number): void {
    this.#set(name, value);
    this.generation++;
  }

  #set(name: string, value: number): void {
    if (name.startsWith(LEVEL_FLAG_PREFIX)) {
      const level = (LEVELS as readonly string[]).indexOf(name.slice(LEVEL_FLAG_PREFIX.length));
      if (level >= 0) this.levelBasisPoints[level] = value;
    } else if (name.startsWith(SERVICE_FLAG_PREFIX)) {
      if (value > 0) this.#services.set(name, value);
      else this.#services.delete(name);
    }
  }

  /** Dials set for services (flag name → basis points), for the top view. */
  serviceDials(): Map<string, number> {
    return new Map(this.#services);
  }

  serviceBasisPoints(state: ServiceState): number {
    if (state.dialGeneration !== this.generation) {
      state.dropBasisPoints = this.#services.get(state.flagName) ?? 0;
      state.dialGeneration = this.generation;
    }
    return state.dropBasisPoints;
  }

  /** Whether the level dial drops this event (the key is only built for partial dials). */
  dropsLevel(level: number, event: EventKey): boolean {
    const bp = this.levelBasisPoints[level]!;
    if (bp <= 0) return false;
    if (bp >= FULL) return true;
    return this.#decide(`${LEVEL_FLAG_PREFIX}${LEVELS[level]}`, eventKey(event));
  }

  dropsService(state: ServiceState, event: EventKey): boolean {
    const bp = this.serviceBasisPoints(state);
    if (bp <= 0) return false;
    if (bp >= FULL) return true;
    return this.#decide(state.flagName, eventKey(event));
  }

  #decide(name: string, key: string): boolean {
    // The flag's own sticky rollout: murmur3(name:key) % 10000 < value
    return this.#flags!.isAvailable(name, key);
  }

  close(): void {
    this.#unsubscribe?.();
    clearInterval(this.#timer);
  }
}
