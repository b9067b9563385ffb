/**
 * Rate limiting: token buckets per service and level from the limit rules, and a global budget of
 * events/s and bytes/s shared by every service with priority by level.
 *
 * The budget's priority: an event of level L may take from the global bucket only while the bucket
 * holds more than reserve(L) × burst. Reserves grow as levels get less important (trace 50 %,
 * debug 40 %, info 20 %, warn 10 %, error and fatal 0), so under overload the bucket settles at the
 * reserve of the least important level still arriving above what is left for it: debug is dropped
 * first, error and fatal last, and a level is only cut once everything less important is gone.
 */
import type { Budget, LimitRule } from './rules.js';
import { DROP_BUDGET, DROP_RATE_LIMIT, type ServiceState } from './services.js';

/** Share of the budget's burst kept back from each level (index = level). */
export const BUDGET_RESERVE: readonly number[] = [0.5, 0.4, 0.2, 0.1, 0, 0];

export class TokenBucket {
  tokens: number;
  last: number;

  /** `rate` per second, `burst` at most; starts full. */
  constructor(
    readonly rate: number,
    readonly burst: number,
    now: number,
  ) {
    this.tokens = burst;
    this.last = now;
  }

  refill(now: number): void {
    const elapsed = now - this.last;
    if (elapsed <= 0) return;
    this.last = now;
    const tokens = this.tokens + (elapsed * this.rate) / 1000;
    this.tokens = tokens > this.burst ? this.burst : tokens;
  }

  /** Take `n` tokens if more than `floor` would be left before taking; `now` in ms. */
  take(n: number, now: number, floor = 0): boolean {
    if (now !== this.last) this.refill(now);
    if (this.tokens <= floor || this.tokens < n) return false;
    this.tokens -= n;
    return true;
  }
}

/**
 * Limits of one rules generation. Per-service buckets live on the ServiceState (cached per level)
 * so the hot path does no map lookup; a new generation starts with full buckets.
 */
export class RateLimiter {
  readonly #rules: readonly LimitRule[];
  readonly #ruleBuckets: Array<TokenBucket | null>;
  readonly #events: TokenBucket | null;
  readonly #bytes: TokenBucket | null;
  readonly #eventFloors: number[];
  readonly #byteFloors: number[];
  /** Per (rule, service) buckets created, to bound memory with many services. */
  readonly #maxServiceBuckets: number;
  #serviceBuckets = 0;

  constructor(
    readonly generation: number,
    /** Size of the route cache of a service state (see Router). */
    readonly routeSlots: number,
    rules: readonly LimitRule[],
    budget: Budget,
    now: number,
    maxServiceBuckets = 20_000,
  ) {
    this.#rules = rules;
    this.#maxServiceBuckets = maxServiceBuckets;
    this.#ruleBuckets = rules.map((r) => (r.per === 'rule' ? new TokenBucket(r.rate, r.burst, now) : null));
    const burstEvents = budget.eventsPerSec * budget.burstSeconds;
    const burstBytes = budget.bytesPerSec * budget.burstSeconds;
    this.#events =
      budget.eventsPerSec > 0 ? new TokenBucket(budget.eventsPerSec, Math.max(1, burstEvents), now) : null;
    this.#bytes =
      budget.bytesPerSec > 0 ? new TokenBucket(budget.bytesPerSec, Math.max(1, burstBytes), now) : null;
    this.#eventFloors = BUDGET_RESERVE.map((r) => r * burstEvents);
    this.#byteFloors = BUDGET_RESERVE.map((r) => r * burstBytes);
  }

  get hasBudget(): boolean {
    return this.#events !== null || this.#bytes !== null;
  }

  /** The bucket limiting (service, level), or null; cached on the service state. */
  bucketFor(state: ServiceState, level: number, now: number): TokenBucket | null {
    if (state.generation !== this.generation) state.resetCaches(this.generation, this.routeSlots);
    const cached = state.limitBuckets[level];
    if (cached !== undefined) return cached;
    let bucket: TokenBucket | null = null;
    for (let k = 0; k < this.#rules.length; k++) {
      const rule = this.#rules[k]!;
      if (rule.levels !== null && !rule.levels[level]) continue;
      if (rule.service !== null && !rule.service(state.name)) continue;
      bucket = this.#ruleBuckets[k] ?? this.#serviceBucket(state, rule, now);
      break;
    }
    state.limitBuckets[level] = bucket;
    return bucket;
  }

  #serviceBucket(state: ServiceState, rule: LimitRule, now: number): TokenBucket {
    // The same (rule, service) shares one bucket across its levels
    for (const b of state.limitBuckets) if (b && (b as RuleBucket).ruleId === rule.id) return b;
    if (this.#serviceBuckets >= this.#maxServiceBuckets) {
      // Too many services: the rule's overflow bucket is shared
      this.#ruleBuckets[rule.id] ??= new TokenBucket(rule.rate, rule.burst, now);
      return this.#ruleBuckets[rule.id]!;
    }
    this.#serviceBuckets++;
    const bucket = new TokenBucket(rule.rate, rule.burst, now) as RuleBucket;
    bucket.ruleId = rule.id;
    return bucket;
  }

  /**
   * Whether one event of `bytes` may pass: 0, or the drop reason (DROP_RATE_LIMIT, DROP_BUDGET).
   * The service bucket is charged first; an event refused by the budget still used its service token.
   */
  admit(state: ServiceState, level: number, bytes: number, now: number): number {
    const bucket = this.bucketFor(state, level, now);
    if (bucket !== null && !bucket.take(1, now)) return DROP_RATE_LIMIT;
    const events = this.#events;
    if (events !== null && !events.take(1, now, this.#eventFloors[level]!)) return DROP_BUDGET;
    const b = this.#bytes;
    if (b !== null && !b.take(bytes, now, this.#byteFloors[level]!)) {
      // Give the event token back: the event did not pass
      if (events !== null) events.tokens += 1;
      return DROP_BUDGET;
    }
    return 0;
  }

  /** Budget state for the status API. */
  budgetStatus(now: number): { events: number | null; bytes: number | null } {
    this.#events?.refill(now);
    this.#bytes?.refill(now);
    return { events: this.#events?.tokens ?? null, bytes: this.#bytes?.tokens ?? null };
  }
}

interface RuleBucket extends TokenBucket {
  ruleId: number;
}
