/**
 * Routing: the first rule (in document order) whose service, level, topic and field conditions
 * match an event decides its index and sourcetype (or drops it); no match → the default route.
 * Decisions that do not depend on record fields are cached per (service, topic, level), so most
 * events cost one array read.
 */
import { LEVEL_COUNT } from './levels.js';
import { type ScanPlan, type ScanResult, slotString } from './record.js';
import type { RouteRule, Rules } from './rules.js';
import { ROUTE_UNKNOWN, type ServiceState } from './services.js';

/** Route index meaning "no rule matched: default route". */
export const DEFAULT_ROUTE = -1;

export class Router {
  readonly routes: readonly RouteRule[];
  /** Cache slots per service state: LEVEL_COUNT per known topic, plus one group for other topics. */
  readonly routeSlots: number;
  readonly #topicIndex: Map<string, number>;
  readonly #otherTopic: number;
  /** Per route: the scanner slots of its field conditions. */
  readonly #fieldSlots: Array<Array<{ slot: number; test: (v: string) => boolean }>>;
  /** Per route (index + 1, 0 = default): `,"sourcetype":...,"index":...` */
  readonly #tails: string[];
  /** Per route (index + 1): static indexed fields as a JSON members fragment ('' if none). */
  readonly staticFields: string[];
  /** Per route (index + 1): the end of `fields` with the static ones, then `,"event":` (null if none). */
  readonly staticFieldsClose: Array<{ alone: Buffer; after: Buffer } | null>;

  constructor(
    readonly generation: number,
    rules: Rules,
    plan: ScanPlan,
    topics: readonly string[],
  ) {
    this.routes = rules.routes;
    this.#topicIndex = new Map(topics.map((t, i) => [t, i]));
    this.#otherTopic = topics.length;
    this.routeSlots = (topics.length + 1) * LEVEL_COUNT;
    this.#fieldSlots = rules.routes.map((r) =>
      r.fields.map((f) => ({ slot: plan.slot(f.path), test: f.test })),
    );
    const tail = (index: string, sourcetype: string) =>
      `,"sourcetype":${JSON.stringify(sourcetype)}${index ? `,"index":${JSON.stringify(index)}` : ''}`;
    this.#tails = [
      tail(rules.defaultIndex, rules.defaultSourcetype),
      ...rules.routes.map((r) => tail(r.index, r.sourcetype)),
    ];
    this.staticFieldsClose = [];
    this.staticFields = [
      '',
      ...rules.routes.map((r) =>
        Object.entries(r.staticFields)
          .map(([k, v]) => `${JSON.stringify(k)}:${JSON.stringify(v)}`)
          .join(','),
      ),
    ];
    for (const f of this.staticFields)
      this.staticFieldsClose.push(
        f === ''
          ? null
          : { alone: Buffer.from(`,"fields":{${f}},"event":`), after: Buffer.from(`,${f}},"event":`) },
      );
  }

  topicIndex(topic: string): number {
    return this.#topicIndex.get(topic) ?? this.#otherTopic;
  }

  /**
   * The route of an event: a route index, or DEFAULT_ROUTE. `buf`/`scan` are the scanned record
   * (field conditions read them).
   */
  resolve(
    state: ServiceState,
    level: number,
    topicIdx: number,
    topic: string,
    buf: Buffer,
    scan: ScanResult,
  ): number {
    if (state.generation !== this.generation) state.resetCaches(this.generation, this.routeSlots);
    const slot = topicIdx * LEVEL_COUNT + level;
    let cached = state.routeCache[slot]!;
    if (cached === ROUTE_UNKNOWN) {
      cached = this.#firstCandidate(state, level, topic, 0);
      state.routeCache[slot] = cached;
    }
    if (cached >= DEFAULT_ROUTE) return cached;
    return this.#withFields(state, level, topic, -cached - 2, buf, scan);
  }

  /** The first route from `from` matching service/level/topic: its index, or -(index + 2) when it has field conditions. */
  #firstCandidate(state: ServiceState, level: number, topic: string, from: number): number {
    for (let k = from; k < this.routes.length; k++) {
      const r = this.routes[k]!;
      if (r.levels !== null && !r.levels[level]) continue;
      if (r.service !== null && !r.service(state.name)) continue;
      if (r.topic !== null && !r.topic(topic)) continue;
      return r.fields.length === 0 ? k : -k - 2;
    }
    return DEFAULT_ROUTE;
  }

  #withFields(
    state: ServiceState,
    level: number,
    topic: string,
    k: number,
    buf: Buffer,
    scan: ScanResult,
  ): number {
    for (;;) {
      const conditions = this.#fieldSlots[k]!;
      let ok = true;
      for (const { slot, test } of conditions) {
        const value = slotString(buf, scan, slot);
        if (value === undefined || !test(value)) {
          ok = false;
          break;
        }
      }
      if (ok) return k;
      const next = this.#firstCandidate(state, level, topic, k + 1);
      if (next >= DEFAULT_ROUTE) return next;
      k = -next - 2;
    }
  }

  /** The envelope segment after `"time":...,"host":...`: source, sourcetype, index. Cached per state. */
  segment(state: ServiceState, route: number): string {
    const i = route + 1;
    let s = state.segments[i];
    if (s === undefined) {
      s = `,"source":${state.sourceJson}${this.#tails[i]!}`;
      state.segments[i] = s;
    }
    return s;
  }

  /** `segment` as bytes. Cached per state. */
  segmentBytes(state: ServiceState, route: number): Buffer {
    const i = route + 1;
    let b = state.segmentBytes[i];
    if (b === undefined) {
      b = Buffer.from(this.segment(state, route));
      state.segmentBytes[i] = b;
    }
    return b;
  }

  /** `segment` followed by `,"event":`, as bytes (events without indexed fields). Cached per state. */
  segmentWithEventBytes(state: ServiceState, route: number): Buffer {
    const i = route + 1;
    let b = state.segmentWithEventBytes[i];
    if (b === undefined) {
      b = Buffer.from(`${this.segment(state, route)},"event":`);
      state.segmentWithEventBytes[i] = b;
    }
    return b;
  }

  describe(route: number): { route: number; index: string; sourcetype: string } {
    const r = this.routes[route];
    return { route, index: r?.index ?? '', sourcetype: r?.sourcetype ?? '' };
  }
}
