/**
 * Per originating service state: what the hot path caches about a service (route and limit
 * decisions, drop dial, metric label) and its traffic over the last minute, for
 * GET /admin/alf/top. Bounded: at most `maxServices` are tracked (the rest share one overflow
 * entry), idle ones are forgotten, and only the first `maxLabels` get their own metric label.
 */
import { LEVEL_COUNT } from './levels.js';
import type { TokenBucket } from './ratelimit.js';

/** Seconds of history kept for the top view. */
export const WINDOW_SECONDS = 60;

/** Why an event was dropped on purpose. */
export const DROP_REASONS = ['flag_level', 'flag_service', 'route', 'rate_limit', 'budget'] as const;
export type DropReason = (typeof DROP_REASONS)[number];
export const DROP_FLAG_LEVEL = 0;
export const DROP_FLAG_SERVICE = 1;
export const DROP_ROUTE = 2;
export const DROP_RATE_LIMIT = 3;
export const DROP_BUDGET = 4;

export const OTHER_LABEL = 'other';
/** routeCache value: not resolved yet. */
export const ROUTE_UNKNOWN = -0x7fffffff;
export const OVERFLOW_NAME = '~overflow';

/** A service name as a flag name suffix: lower case, characters outside [a-z0-9_.-] become '-'. */
export function flagSafeName(service: string): string {
  return service
    .toLowerCase()
    .replace(/[^a-z0-9_.-]/g, '-')
    .slice(0, 100);
}

export class ServiceState {
  /** Second (epoch) of the last slot written. */
  lastSec = 0;
  readonly events = new Float64Array(WINDOW_SECONDS);
  readonly bytes = new Float64Array(WINDOW_SECONDS);
  readonly dropped = new Float64Array(WINDOW_SECONDS);
  /** Dropped events by reason and level, for metrics (published at scrape time). */
  readonly dropCounts = new Float64Array(DROP_REASONS.length * LEVEL_COUNT);
  readonly dropPublished = new Float64Array(DROP_REASONS.length * LEVEL_COUNT);

  // Caches of decisions, valid while `generation` matches the rules generation
  generation = -1;
  /** Route per (topic, level): the route index, -1 default route, or -(k + 2): evaluate fields from route k. */
  routeCache: Int32Array = new Int32Array(0);
  /** Limit bucket per level (null: no limit rule matches). */
  limitBuckets: Array<TokenBucket | null> = [];
  /** `,"source":...` prefix segments per route (index by route id + 1), built lazily. */
  segments: Array<string | undefined> = [];
  /** The same, UTF-8 encoded, alone and followed by `,"event":` (what the hot path copies). */
  segmentBytes: Array<Buffer | undefined> = [];
  segmentWithEventBytes: Array<Buffer | undefined> = [];

  // Drop dial (flag alf.drop.service.<flagName>), valid while dialGeneration matches
  dialGeneration = -1;
  /** Basis points of this service's events to drop. */
  dropBasisPoints = 0;
  readonly flagName: string;
  readonly sourceJson: string;

  constructor(
    readonly name: string,
    readonly label: string,
  ) {
    this.flagName = `alf.drop.service.${flagSafeName(name)}`;
    this.sourceJson = JSON.stringify(name);
  }

  /** Drop the cached decisions of an older rules generation. */
  resetCaches(generation: number, routeSlots: number): void {
    this.generation = generation;
    this.routeCache = new Int32Array(routeSlots).fill(ROUTE_UNKNOWN);
    this.limitBuckets = new Array(LEVEL_COUNT);
    this.segments = [];
    this.segmentBytes = [];
    this.segmentWithEventBytes = [];
  }

  /** Move the window to `sec`, clearing the seconds skipped. */
  advance(sec: number): void {
    if (sec === this.lastSec) return;
    const gap = sec - this.lastSec;
    if (gap >= WINDOW_SECONDS || gap < 0) {
      this.events.fill(0);
      this.bytes.fill(0);
      this.dropped.fill(0);
    } else {
      for (let s = this.lastSec + 1; s <= sec; s++) {
        const i = s % WINDOW_SECONDS;
        this.events[i] = 0;
        this.bytes[i] = 0;
        this.dropped[i] = 0;
      }
    }
    this.lastSec = sec;
  }

  /** Count one consumed event (before any drop decision). */
  count(sec: number, bytes: number): void {
    if (sec !== this.lastSec) this.advance(sec);
    const i = sec % WINDOW_SECONDS;
    this.events[i]! += 1;
    this.bytes[i]! += bytes;
  }

  countDrop(sec: number, reason: number, level: number): void {
    if (sec !== this.lastSec) this.advance(sec);
    this.dropped[sec % WINDOW_SECONDS]! += 1;
    this.dropCounts[reason * LEVEL_COUNT + level]! += 1;
  }

  /** Totals over the last `seconds` full seconds before `sec` (the current second is partial). */
  totals(sec: number, seconds: number): { events: number; bytes: number; dropped: number } {
    this.advance(Math.max(sec, this.lastSec));
    let events = 0;
    let bytes = 0;
    let dropped = 0;
    const n = Math.min(seconds, WINDOW_SECONDS - 1);
    for (let k = 1; k <= n; k++) {
      const i = (((sec - k) % WINDOW_SECONDS) + WINDOW_SECONDS) % WINDOW_SECONDS;
      events += this.events[i]!;
      bytes += this.bytes[i]!;
      dropped += this.dropped[i]!;
    }
    return { events, bytes, dropped };
  }
}

export interface ServiceRegistryOptions {
  /** Services tracked individually (default 10000). */
  maxServices?: number;
  /** Services with their own metric label; the rest are labelled `other` (default 100). */
  maxLabels?: number;
}

/** Every service seen, by name. */
export class ServiceRegistry {
  readonly #byName = new Map<string, ServiceState>();
  readonly #maxServices: number;
  readonly #maxLabels: number;
  readonly #labels = new Set<string>();
  readonly overflow: ServiceState;
  /** Called with a state about to be forgotten (to publish its last counts). */
  onEvict: ((state: ServiceState) => void) | undefined;

  constructor(options: ServiceRegistryOptions = {}) {
    this.#maxServices = options.maxServices ?? 10_000;
    this.#maxLabels = options.maxLabels ?? 100;
    this.overflow = new ServiceState(OVERFLOW_NAME, OTHER_LABEL);
  }

  get size(): number {
    return this.#byName.size;
  }

  get(name: string): ServiceState {
    const state = this.#byName.get(name);
    if (state !== undefined) return state;
    return this.#create(name);
  }

  #create(name: string): ServiceState {
    if (this.#byName.size >= this.#maxServices) return this.overflow;
    let label = OTHER_LABEL;
    if (this.#labels.has(name)) label = name;
    else if (this.#labels.size < this.#maxLabels) {
      this.#labels.add(name);
      label = name;
    }
    const state = new ServiceState(name, label);
    this.#byName.set(name, state);
    return state;
  }

  all(): IterableIterator<ServiceState> {
    return this.#byName.values();
  }

  /**
   * Forget services idle since `beforeSec`. Their metric labels stay reserved (a label that comes
   * and goes would make Prometheus series flap), so the label set stays bounded by maxLabels.
   */
  evictIdle(beforeSec: number): number {
    let n = 0;
    for (const [name, state] of this.#byName) {
      if (state.lastSec < beforeSec) {
        this.onEvict?.(state);
        this.#byName.delete(name);
        n++;
      }
    }
    return n;
  }
}
